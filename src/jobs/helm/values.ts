/**
 * Helm `--set` values, turned into a values document instead of argv (pure): values often hold secrets, and
 * argv is visible to every process on the machine and ends up in error messages. The document is passed
 * as the last `--values` file, so it wins over the values files exactly as `--set` would.
 *
 * Follows helm's strvals for one `name=value`: dotted paths, `\.` for a literal dot, list indices
 * `name[0]`; type "auto" (or empty) makes `true`/`false`/`null` and integers typed (as `--set` does), type
 * "string" keeps text (as `--set-string` does). Unlike Nuon's runner, a value containing commas stays one
 * value instead of being split into several assignments.
 */
import type { HelmValue } from "./plan.ts";

type Segment = string | number;

/** Splits `a.b\.c[2].d` into `["a", "b.c", 2, "d"]`; throws on a malformed name. */
export function parseSetPath(name: string): Segment[] {
  const out: Segment[] = [];
  let cur = "";
  let i = 0;
  const fail = (why: string) => new Error(`helm value name ${JSON.stringify(name)} is malformed: ${why}`);
  const push = () => {
    if (cur === "") throw fail("empty key");
    out.push(cur);
    cur = "";
  };
  while (i < name.length) {
    const ch = name[i] as string;
    if (ch === "\\" && i + 1 < name.length) {
      cur += name[i + 1];
      i += 2;
      continue;
    }
    if (ch === ".") {
      if (cur !== "") push();
      else if (typeof out.at(-1) !== "number") throw fail("empty key");
      i++;
      continue;
    }
    if (ch === "[") {
      const end = name.indexOf("]", i);
      if (end === -1) throw fail("unclosed [");
      const index = name.slice(i + 1, end);
      if (!/^\d+$/.test(index)) throw fail(`list index ${JSON.stringify(index)} is not a number`);
      if (cur !== "") push();
      if (out.length === 0) throw fail("a list index needs a key before it");
      out.push(Number(index));
      i = end + 1;
      continue;
    }
    cur += ch;
    i++;
  }
  if (cur !== "") push();
  if (out.length === 0) throw fail("empty name");
  return out;
}

/** The value as `--set` (auto) or `--set-string` (string) would type it. */
export function typedValue(value: string, type: string): unknown {
  if (type === "string") return value;
  if (value === "true") return true;
  if (value === "false") return false;
  if (value === "null") return null;
  if (/^-?(0|[1-9]\d*)$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  return value;
}

function setIn(root: Record<string, unknown>, path: Segment[], value: unknown): void {
  let cur: unknown = root;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i] as Segment;
    const last = i === path.length - 1;
    const next = path[i + 1];
    const container = cur as Record<string, unknown> & unknown[];
    if (last) {
      (container as Record<string | number, unknown>)[seg] = value;
      return;
    }
    let child = (container as Record<string | number, unknown>)[seg];
    const wantList = typeof next === "number";
    if (
      wantList ? !Array.isArray(child) : typeof child !== "object" || child === null || Array.isArray(child)
    ) {
      child = wantList ? [] : {};
      (container as Record<string | number, unknown>)[seg] = child;
    }
    if (wantList) {
      const list = child as unknown[];
      while (list.length <= (next as number)) list.push(null);
    }
    cur = child;
  }
}

/** Builds the values document of all `--set` style values, in order (later ones win). */
export function setValuesDocument(values: readonly HelmValue[]): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  values.forEach((v, i) => {
    const type = v.type ?? "";
    if (type !== "" && type !== "auto" && type !== "string") {
      throw new Error(
        `helm.values[${i}] (${v.name}) has type ${JSON.stringify(type)}; expected "auto" or "string"`,
      );
    }
    setIn(doc, parseSetPath(v.name), typedValue(v.value, type));
  });
  return doc;
}
