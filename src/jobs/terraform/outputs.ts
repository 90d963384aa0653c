/**
 * `terraform output -json` (pure): `{name: {sensitive, type, value}}` → the outputs map the runner posts,
 * `{name: value}`, as Nuon's runner posts it (`pkg/outputs/terraform.go`). Sensitive outputs keep their real
 * value on the wire, because downstream components and actions read them from there; the handler registers
 * those values with its redactor so they never reach a log line, and shows them masked anywhere else.
 */
import * as z from "zod";

const OutputJson = z.record(
  z.string(),
  z.looseObject({ sensitive: z.boolean().optional(), value: z.unknown() }),
);

/** The parsed outputs: values by name, and which names terraform marks sensitive. */
export interface TerraformOutputs {
  values: Record<string, unknown>;
  sensitive: string[];
}

/** Text shown instead of a sensitive value. */
export const SENSITIVE_MASK = "(sensitive)";

/** Parses the stdout of `terraform output -json`; empty text means no outputs. */
export function parseOutputJson(text: string): TerraformOutputs {
  const trimmed = text.trim();
  if (trimmed === "") return { values: {}, sensitive: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(trimmed);
  } catch (err) {
    throw new Error("terraform output -json did not print JSON", { cause: err });
  }
  const parsed = OutputJson.parse(raw);
  const values: Record<string, unknown> = {};
  const sensitive: string[] = [];
  for (const [name, output] of Object.entries(parsed)) {
    values[name] = output.value;
    if (output.sensitive === true) sensitive.push(name);
  }
  return { values, sensitive };
}

/** The outputs for display: sensitive values replaced by SENSITIVE_MASK. */
export function maskedOutputs(outputs: TerraformOutputs): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(outputs.values)) {
    shown[name] = outputs.sensitive.includes(name) ? SENSITIVE_MASK : value;
  }
  return shown;
}

/**
 * Every text a sensitive value could appear as, to register with a redactor: each string and number leaf,
 * and the JSON of each object or array (as terraform would print it).
 */
export function secretTexts(value: unknown): string[] {
  const out: string[] = [];
  const visit = (v: unknown): void => {
    if (typeof v === "string") out.push(v);
    else if (typeof v === "number" || typeof v === "bigint") out.push(String(v));
    else if (v !== null && typeof v === "object") {
      out.push(JSON.stringify(v));
      for (const child of Array.isArray(v) ? v : Object.values(v)) visit(child);
    }
  };
  visit(value);
  return out;
}
