/**
 * Reading a chart's `Chart.yaml`: the name and version a chart must have, and the metadata as JSON, which is
 * what Helm stores as the config of a chart pushed to an OCI registry.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse } from "yaml";
import * as z from "zod";

/** The fields of Chart.yaml every chart has; the rest is kept as it is. */
export const ChartMetadata = z.looseObject({
  apiVersion: z.string().optional(),
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, "must be letters, digits, _ . -"),
  version: z.string().min(1),
});
export type ChartMetadata = z.infer<typeof ChartMetadata>;

/** Reads and checks `<dir>/Chart.yaml`; throws an Error naming the problem. */
export async function readChartMetadata(dir: string): Promise<ChartMetadata> {
  const file = path.join(dir, "Chart.yaml");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new Error(
      `the helm chart source has no Chart.yaml (${file}); is git_source.path the chart directory?`,
      { cause: error },
    );
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new Error(`Chart.yaml is not valid YAML: ${(error as Error).message}`, { cause: error });
  }
  const result = ChartMetadata.safeParse(raw);
  if (!result.success) throw new Error(`Chart.yaml is not a valid chart: ${z.prettifyError(result.error)}`);
  return result.data;
}
