/**
 * The chart of a helm-chart-deploy whose plan names no `helm.chart`: the OCI artifact at `src_registry` +
 * `src_tag` (or a digest), fetched into `<workspace>/chart` with every digest verified (oci-source.ts). What
 * helm is then given, by the artifact's layout:
 *
 * - Helm's OCI layout (helm-chart-build and `helm push`: one `…helm.chart.content.v1.tar+gzip` layer holding
 *   `<chart name>/…`): the one directory holding a `Chart.yaml`;
 * - an archive of the chart's files at the top (Nuon's runner archive, title `.` unpacked): the directory;
 * - a single packaged chart file (`*.tgz`, e.g. one ORAS-titled layer `chart.tgz`): that file.
 *
 * Anything else fails naming the artifact and what it holds.
 */
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { RegistryConnectOptions } from "../../sources/oci/connect.ts";
import { assertRealPathInsideSync, resolveInside } from "../../workspace/safe-path.ts";
import type { JobLog } from "../handler.ts";
import { fetchDeploySource, type OciSourceRef } from "../oci-source.ts";

/** Name of the directory the chart artifact is fetched into, inside the job's directory. */
export const CHART_DIR_NAME = "chart";

/** What fetchChartFromRegistry needs. */
export interface FetchChartInput {
  source: OciSourceRef;
  /** The job's private directory; the chart goes into `<dir>/chart`. */
  dir: string;
  signal: AbortSignal;
  log: JobLog;
  onSecret?: ((secret: string) => void) | undefined;
  connect?: RegistryConnectOptions | undefined;
}

/** A fetched chart: the path helm gets, and the artifact's digest. */
export interface FetchedChart {
  chart: string;
  digest: string;
  /** `registry/repository@digest`. */
  ref: string;
}

/** Fetches the chart artifact and returns the chart path for helm (see the module comment). */
export async function fetchChartFromRegistry(input: FetchChartInput): Promise<FetchedChart> {
  const target = assertRealPathInsideSync(input.dir, resolveInside(input.dir, CHART_DIR_NAME));
  const fetched = await fetchDeploySource({
    what: "helm chart",
    ...input.source,
    dir: target,
    signal: input.signal,
    log: input.log,
    onSecret: input.onSecret,
    connect: input.connect,
  });
  const chart = await locateChart(fetched.dir);
  if (chart === undefined) {
    const shown = fetched.files.slice(0, 10).join(", ") || "nothing";
    throw new Error(
      `the artifact ${fetched.ref} holds no helm chart (no Chart.yaml at its top or in one directory, and no single .tgz); it holds: ${shown}`,
    );
  }
  return { chart, digest: fetched.digest, ref: fetched.ref };
}

/** The chart inside `dir` by the rules of the module comment, or undefined. */
export async function locateChart(dir: string): Promise<string | undefined> {
  if (await isFile(path.join(dir, "Chart.yaml"))) return dir;
  const entries = await readdir(dir, { withFileTypes: true });
  const charts: string[] = [];
  for (const entry of entries) {
    if (entry.isDirectory() && (await isFile(path.join(dir, entry.name, "Chart.yaml"))))
      charts.push(path.join(dir, entry.name));
  }
  if (charts.length === 1) return charts[0];
  if (charts.length > 1) return undefined;
  const packaged = entries.filter((e) => e.isFile() && /\.tgz$|\.tar\.gz$/.test(e.name));
  const only = packaged.length === 1 ? packaged[0] : undefined;
  return only === undefined ? undefined : path.join(dir, only.name);
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}
