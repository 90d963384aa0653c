/**
 * Field ownership for the fake API server, after the documented server-side apply rules
 * (kubernetes.io/docs/reference/using-api/server-side-apply):
 *
 * - every manager owns a set of fields; an apply makes the applier own exactly the fields of its config;
 * - applying a field that another manager owns, to a value different from the live one, is a conflict (409)
 *   unless `force`, which moves ownership to the applier; the same value makes them co-owners;
 * - fields the applier owned before and left out of its new config are removed, unless someone else owns them;
 * - an update (create, replace, merge patch) takes ownership of the fields it changed from everyone else.
 *
 * Simplification: lists are atomic (one field), where the real server merges keyed lists such as
 * `containers` by name. Maps, which is where most co-ownership happens (labels, annotations, spec), are
 * granular as in the real thing.
 */
import { isDeepStrictEqual } from "node:util";

/** One entry of metadata.managedFields, with the field set kept as paths. */
export interface ManagerEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  fields: Set<string>;
}

/** A field conflict found by an apply. */
export interface Conflict {
  manager: string;
  apiVersion: string;
  path: string[];
}

type Json = Record<string, unknown>;
const SEP = "\u001f";

/** Fields nobody owns: identity and server-maintained metadata, and status. */
const UNOWNED = new Set(
  [
    ["apiVersion"],
    ["kind"],
    ["status"],
    ["metadata", "name"],
    ["metadata", "namespace"],
    ["metadata", "uid"],
    ["metadata", "resourceVersion"],
    ["metadata", "generation"],
    ["metadata", "creationTimestamp"],
    ["metadata", "deletionTimestamp"],
    ["metadata", "deletionGracePeriodSeconds"],
    ["metadata", "managedFields"],
  ].map((p) => p.join(SEP)),
);

function isMap(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Leaf paths of a JSON value: maps are walked, lists and scalars (and empty maps) are leaves. */
export function leafPaths(value: unknown, prefix: string[] = []): string[][] {
  if (UNOWNED.has(prefix.join(SEP))) return [];
  if (!isMap(value) || (Object.keys(value).length === 0 && prefix.length > 0))
    return prefix.length > 0 ? [prefix] : [];
  return Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
}

/** The value at `path`, or undefined. */
export function getAt(obj: unknown, path: string[]): unknown {
  let cur: unknown = obj;
  for (const key of path) {
    if (!isMap(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

function setAt(obj: Json, path: string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    if (!isMap(cur[key])) cur[key] = {};
    cur = cur[key] as Json;
  }
  cur[path[path.length - 1] as string] = structuredClone(value);
}

function deleteAt(obj: Json, path: string[]): void {
  const parents: Json[] = [];
  let cur: unknown = obj;
  for (const key of path.slice(0, -1)) {
    if (!isMap(cur)) return;
    parents.push(cur);
    cur = cur[key];
  }
  if (!isMap(cur)) return;
  delete cur[path[path.length - 1] as string];
  // Drop maps the removal left empty (but never the object's top-level sections).
  for (let i = path.length - 2; i >= 1; i--) {
    const parent = parents[i];
    const key = path[i] as string;
    if (parent !== undefined && isMap(parent[key]) && Object.keys(parent[key] as Json).length === 0)
      delete parent[key];
    else break;
  }
}

const key = (p: string[]) => p.join(SEP);
const unkey = (k: string) => k.split(SEP);
/** True when one path is the other or lies under it. */
function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(b + SEP) || b.startsWith(a + SEP);
}

/** Result of applyConfig. */
export type ApplyOutcome =
  | { ok: true; object: Json; managers: ManagerEntry[]; changed: boolean }
  | { ok: false; conflicts: Conflict[] };

/** Server-side apply of `config` by `manager` onto `live` (undefined: create). Pure; inputs are not changed. */
export function applyConfig(args: {
  live: Json | undefined;
  config: Json;
  managers: ManagerEntry[];
  manager: string;
  apiVersion: string;
  force: boolean;
  now: string;
}): ApplyOutcome {
  const { live, config, manager } = args;
  const newFields = new Set(leafPaths(config).map(key));
  const others = args.managers.filter((m) => !(m.manager === manager && m.operation === "Apply"));
  const previous = args.managers.find((m) => m.manager === manager && m.operation === "Apply");

  const conflicts: Conflict[] = [];
  const taken = new Map<ManagerEntry, Set<string>>();
  if (live !== undefined) {
    for (const field of newFields) {
      const path = unkey(field);
      if (isDeepStrictEqual(getAt(live, path), getAt(config, path))) continue; // same value: co-owned
      for (const other of others) {
        for (const owned of other.fields) {
          if (!overlaps(owned, field)) continue;
          if (args.force) {
            const set = taken.get(other) ?? new Set<string>();
            set.add(owned);
            taken.set(other, set);
          } else {
            conflicts.push({ manager: other.manager, apiVersion: other.apiVersion, path: unkey(owned) });
          }
        }
      }
    }
  }
  if (conflicts.length > 0) return { ok: false, conflicts: dedupe(conflicts) };

  const object: Json = structuredClone(live ?? {});
  // Fields this manager dropped from its config go away unless someone else still owns them.
  for (const field of previous?.fields ?? []) {
    if (newFields.has(field)) continue;
    const ownedElsewhere = others.some((o) =>
      [...o.fields].some((f) => overlaps(f, field) && !taken.get(o)?.has(f)),
    );
    if (!ownedElsewhere) deleteAt(object, unkey(field));
  }
  for (const field of newFields) setAt(object, unkey(field), getAt(config, unkey(field)));
  for (const top of ["apiVersion", "kind"]) if (config[top] !== undefined) object[top] = config[top];

  const managers: ManagerEntry[] = [];
  for (const other of others) {
    const removed = taken.get(other);
    const fields = new Set([...other.fields].filter((f) => !removed?.has(f)));
    if (fields.size > 0) managers.push({ ...other, fields });
  }
  managers.push({
    manager,
    operation: "Apply",
    apiVersion: args.apiVersion,
    time: args.now,
    fields: newFields,
  });
  return { ok: true, object, managers, changed: !isDeepStrictEqual(live, object) };
}

/** Ownership after an update by `manager`: it takes every field that changed, from everyone. */
export function recordUpdate(args: {
  before: Json | undefined;
  after: Json;
  managers: ManagerEntry[];
  manager: string;
  apiVersion: string;
  now: string;
}): ManagerEntry[] {
  const afterLeaves = leafPaths(args.after).map(key);
  const beforeLeaves = new Set(args.before === undefined ? [] : leafPaths(args.before).map(key));
  const changed = new Set(
    afterLeaves.filter(
      (f) =>
        !beforeLeaves.has(f) || !isDeepStrictEqual(getAt(args.before, unkey(f)), getAt(args.after, unkey(f))),
    ),
  );
  const removed = [...beforeLeaves].filter((f) => !afterLeaves.includes(f));
  const out: ManagerEntry[] = [];
  let mine: ManagerEntry | undefined;
  for (const m of args.managers) {
    const fields = new Set(
      [...m.fields].filter((f) => ![...changed, ...removed].some((c) => overlaps(c, f))),
    );
    if (m.manager === args.manager && m.operation === "Update") {
      mine = { ...m, fields: new Set([...fields, ...changed]), time: args.now };
      out.push(mine);
    } else if (fields.size > 0) {
      out.push({ ...m, fields });
    }
  }
  if (mine === undefined && changed.size > 0) {
    out.push({
      manager: args.manager,
      operation: "Update",
      apiVersion: args.apiVersion,
      time: args.now,
      fields: changed,
    });
  }
  return out;
}

/** metadata.managedFields as the API shows it (FieldsV1 trees: `{"f:spec": {"f:replicas": {}}}`). */
export function renderManagedFields(managers: ManagerEntry[]): unknown[] {
  return managers.map((m) => {
    const tree: Json = {};
    for (const field of m.fields) {
      let cur = tree;
      for (const part of unkey(field)) {
        const k = `f:${part}`;
        if (!isMap(cur[k])) cur[k] = {};
        cur = cur[k] as Json;
      }
    }
    return {
      manager: m.manager,
      operation: m.operation,
      apiVersion: m.apiVersion,
      time: m.time,
      fieldsType: "FieldsV1",
      fieldsV1: tree,
    };
  });
}

/** The message the real server gives, e.g. `Apply failed with 1 conflict: conflict with "x" using apps/v1: .spec.replicas`. */
export function conflictMessage(conflicts: Conflict[]): string {
  const dotted = (c: Conflict) => `.${c.path.join(".")}`;
  const n = conflicts.length;
  if (n === 1) {
    const c = conflicts[0] as Conflict;
    return `Apply failed with 1 conflict: conflict with "${c.manager}" using ${c.apiVersion}: ${dotted(c)}`;
  }
  const byManager = new Map<string, Conflict[]>();
  for (const c of conflicts) byManager.set(c.manager, [...(byManager.get(c.manager) ?? []), c]);
  const parts = [...byManager].map(
    ([m, cs]) =>
      `conflicts with "${m}" using ${cs[0]?.apiVersion}:\n${cs.map((c) => `- ${dotted(c)}`).join("\n")}`,
  );
  return `Apply failed with ${n} conflicts: ${parts.join("\n")}`;
}

function dedupe(conflicts: Conflict[]): Conflict[] {
  const seen = new Set<string>();
  return conflicts.filter((c) => {
    const k = `${c.manager}${SEP}${key(c.path)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
