/**
 * Outputs of action steps (PROTOCOL.md §1.10). A step writes `$NUON_ACTIONS_OUTPUT_FILEPATH` as either one JSON
 * object (pretty-printed or not), or lines that are each `KEY=VALUE` or a one-line JSON object (later lines
 * win). The workflow's outputs are every step's outputs merged at the top level (later steps win) plus
 * `steps: {<name>: {...}}`, as Nuon's runner posts them. Pure, so it is table-tested.
 */

/** Largest outputs file read, in bytes: 10 MiB. */
export const MAX_OUTPUTS_FILE_BYTES = 10 * 1024 * 1024;

/** Parses an outputs file's text; throws an Error naming the offending line. */
export function parseStepOutputs(text: string): Record<string, unknown> {
  const trimmed = text.trim();
  const out: Record<string, unknown> = {};
  if (trimmed === "") return out;
  if (trimmed.startsWith("["))
    throw new Error("the outputs file holds a JSON array; write a JSON object or KEY=VALUE lines");
  if (trimmed.startsWith("{")) {
    const whole = tryParseObject(trimmed);
    if (whole !== undefined) return copyInto(out, whole);
  }
  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") continue;
    const where = `line ${index + 1} of the outputs file`;
    if (line.trimStart().startsWith("{")) {
      const object = tryParseObject(line.trim());
      if (object === undefined) throw new Error(`${where} starts with { but is not a JSON object`);
      copyInto(out, object);
      continue;
    }
    if (line.trimStart().startsWith("["))
      throw new Error(`${where} is a JSON array; only objects are supported`);
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`${where} is neither KEY=VALUE nor a JSON object`);
    setOwn(out, line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

/** Adds one step's outputs to the workflow's: merged at the top level, and under `steps.<name>`. */
export function addStepOutputs(
  workflow: Record<string, unknown>,
  name: string,
  stepOutputs: Record<string, unknown>,
): void {
  const existing = workflow.steps;
  const steps: Record<string, unknown> =
    typeof existing === "object" && existing !== null && !Array.isArray(existing)
      ? (existing as Record<string, unknown>)
      : {};
  copyInto(workflow, stepOutputs);
  setOwn(steps, name, stepOutputs);
  workflow.steps = steps;
}

function tryParseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Copies own entries; a key like `__proto__` becomes a plain property instead of changing the prototype. */
function copyInto(target: Record<string, unknown>, source: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(source)) setOwn(target, key, value);
  return target;
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
