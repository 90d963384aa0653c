/**
 * What an apply or delete changes, object by object: field-level entries between the live object and the
 * object the server would store, ignoring what the server maintains (status, resourceVersion, uid,
 * generation, timestamps, managedFields). The entries use Nuon's `diff.ResourceDiff` JSON shape
 * (`pkg/diff/types.go`: `_version: "2"`, `type` 0 unchanged / 1 removed / 2 added / 3 modified / 4 error),
 * so a control plane that renders Nuon plans renders these; `renderPlan` gives the readable text.
 */
import { isDeepStrictEqual } from "node:util";
import type { KubeObject } from "./client.ts";

/** Nuon's DiffEntryType. */
export const ENTRY = { unchanged: 0, removed: 1, added: 2, modified: 3, error: 4 } as const;
export type EntryType = (typeof ENTRY)[keyof typeof ENTRY];

/** One changed field (Nuon's DiffEntry). */
export interface DiffEntry {
  path?: string;
  original?: unknown;
  applied?: unknown;
  type: EntryType;
}

/** One object's change (Nuon's ResourceDiff). */
export interface ResourceDiff {
  _version: "2";
  name?: string;
  namespace?: string;
  kind?: string;
  /** `group/version` (`/v1` for the core group, as Nuon writes it). */
  api?: string;
  /** Plural resource name. */
  resource?: string;
  op?: "apply" | "delete";
  type: EntryType;
  error?: string;
  dry_run?: boolean;
  entries: DiffEntry[];
}

/** Paths the server maintains; never part of a diff. */
const IGNORED = [
  "status",
  "metadata.creationTimestamp",
  "metadata.resourceVersion",
  "metadata.generation",
  "metadata.uid",
  "metadata.managedFields",
  "metadata.deletionTimestamp",
  "metadata.deletionGracePeriodSeconds",
  "metadata.selfLink",
];

function ignored(path: string): boolean {
  return IGNORED.some((p) => path === p || path.startsWith(`${p}.`));
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Field entries from `before` to `after` (maps walked; lists compared whole); empty when equal. */
export function fieldChanges(before: unknown, after: unknown, prefix = ""): DiffEntry[] {
  if (prefix !== "" && ignored(prefix)) return [];
  if (isMap(before) && isMap(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => fieldChanges(before[k], after[k], prefix === "" ? k : `${prefix}.${k}`));
  }
  if (isDeepStrictEqual(before, after)) return [];
  if (before === undefined) return [{ path: prefix, applied: after, type: ENTRY.added }];
  if (after === undefined) return [{ path: prefix, original: before, type: ENTRY.removed }];
  return [{ path: prefix, original: before, applied: after, type: ENTRY.modified }];
}

/** Identity fields of a ResourceDiff. */
export interface DiffTarget {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  /** Plural resource name, when known. */
  resource?: string;
}

function identity(t: DiffTarget) {
  return {
    _version: "2" as const,
    name: t.name,
    ...(t.namespace ? { namespace: t.namespace } : {}),
    kind: t.kind,
    api: t.apiVersion.includes("/") ? t.apiVersion : `/${t.apiVersion}`,
    ...(t.resource ? { resource: t.resource } : {}),
  };
}

/** Placeholder shown instead of Secret values. */
export const SENSITIVE = "(sensitive value)";

/** A Secret with its data values replaced by SENSITIVE (other kinds unchanged). */
function maskObject(obj: KubeObject): KubeObject {
  if (obj.kind !== "Secret") return obj;
  const out: KubeObject = { ...obj };
  for (const key of ["data", "stringData"]) {
    const map = obj[key];
    if (isMap(map)) out[key] = Object.fromEntries(Object.keys(map).map((k) => [k, SENSITIVE]));
  }
  return out;
}

function maskEntry(kind: string, e: DiffEntry): DiffEntry {
  if (kind !== "Secret" || e.path === undefined || !/^(data|stringData)(\.|$)/.test(e.path)) return e;
  const mask = (v: unknown) =>
    v === undefined
      ? undefined
      : isMap(v)
        ? maskObject({ kind: "Secret", data: v } as never).data
        : SENSITIVE;
  return {
    ...e,
    ...(e.original !== undefined ? { original: mask(e.original) } : {}),
    ...(e.applied !== undefined ? { applied: mask(e.applied) } : {}),
  };
}

/** The diff of applying: created (no live object), changed, or unchanged. Secret values are masked. */
export function applyDiff(
  target: DiffTarget,
  live: KubeObject | undefined,
  result: KubeObject,
  dryRun: boolean,
): ResourceDiff {
  const base = { ...identity(target), op: "apply" as const, ...(dryRun ? { dry_run: true } : {}) };
  if (live === undefined) {
    return {
      ...base,
      type: ENTRY.added,
      entries: [{ type: ENTRY.added, applied: maskObject(stripServerFields(result)) }],
    };
  }
  const entries = fieldChanges(live, result).map((e) => maskEntry(target.kind, e));
  return { ...base, type: entries.length > 0 ? ENTRY.modified : ENTRY.unchanged, entries };
}

/** The diff of deleting `live` (or an object that is already gone). */
export function deleteDiff(target: DiffTarget, live: KubeObject | undefined, dryRun: boolean): ResourceDiff {
  return {
    ...identity(target),
    op: "delete",
    ...(dryRun ? { dry_run: true } : {}),
    type: live === undefined ? ENTRY.unchanged : ENTRY.removed,
    entries:
      live === undefined ? [] : [{ type: ENTRY.removed, original: maskObject(stripServerFields(live)) }],
  };
}

/** An object without status and server-maintained metadata. */
export function stripServerFields(obj: KubeObject): KubeObject {
  const { status: _status, ...rest } = obj;
  const metadata = { ...obj.metadata };
  for (const key of [
    "creationTimestamp",
    "resourceVersion",
    "generation",
    "uid",
    "managedFields",
    "selfLink",
  ]) {
    delete metadata[key];
  }
  return { ...rest, metadata } as KubeObject;
}

/** Counts of a plan. */
export interface PlanSummary {
  create: number;
  change: number;
  delete: number;
  unchanged: number;
}

/** Counts diffs by what they do. */
export function summarize(diffs: readonly ResourceDiff[]): PlanSummary {
  const s: PlanSummary = { create: 0, change: 0, delete: 0, unchanged: 0 };
  for (const d of diffs) {
    if (d.type === ENTRY.added) s.create++;
    else if (d.type === ENTRY.modified) s.change++;
    else if (d.type === ENTRY.removed) s.delete++;
    else if (d.type === ENTRY.unchanged) s.unchanged++;
  }
  return s;
}

function show(value: unknown): string {
  if (value === undefined) return "(none)";
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** Readable plan text: a summary line, then one line per object and one per changed field. */
export function renderPlan(diffs: readonly ResourceDiff[]): string {
  const s = summarize(diffs);
  const lines = [
    `Plan: ${s.create} to create, ${s.change} to change, ${s.delete} to delete, ${s.unchanged} unchanged.`,
  ];
  for (const d of diffs) {
    const who = `${d.kind} ${d.namespace ? `${d.namespace}/` : ""}${d.name}`;
    if (d.type === ENTRY.added) lines.push(`+ create ${who}`);
    else if (d.type === ENTRY.removed) lines.push(`- delete ${who}`);
    else if (d.type === ENTRY.error) lines.push(`! error  ${who}: ${d.error ?? ""}`);
    else if (d.type === ENTRY.unchanged) lines.push(`  unchanged ${who}`);
    else {
      lines.push(`~ change ${who}`);
      for (const e of d.entries) lines.push(`    ${e.path}: ${show(e.original)} -> ${show(e.applied)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
