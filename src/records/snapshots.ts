/**
 * The snapshot of one job's result, kept in the run record under the job's name so two runs can be compared
 * (`runner diff`): its status, its outputs, the terraform resources in its state (address and a hash of the
 * attributes), the Kubernetes objects it applied and the helm release manifest when its outputs carry one.
 * Each item has a hash (what the diff compares), a one-line summary and a multi-line detail (what `--detail`
 * shows), both redacted. Pure, so it is table-tested.
 */
import { createHash } from "node:crypto";
import type { Redactor } from "../logs/redact.ts";

/** What an item is. */
export type SnapshotKind = "status" | "output" | "resource" | "k8s-object" | "helm-manifest";

/** One compared thing. */
export interface SnapshotItem {
  /** Unique within the job: `status`, `output.<name>`, `resource.<address>`, `k8s.<kind>/<ns>/<name>`, `helm.manifest`. */
  key: string;
  kind: SnapshotKind;
  /** sha256 (hex, 16 characters) of the canonical value. */
  hash: string;
  /** One line, redacted. */
  summary: string;
  /** Several lines, redacted: what a unified diff is made of. */
  detail: string;
}

/** A job's snapshot. */
export interface JobSnapshot {
  job: string;
  type: string;
  status: string;
  items: SnapshotItem[];
}

/** What a snapshot is taken from. */
export interface SnapshotInput {
  job: string;
  type: string;
  status: string;
  /** The outputs the runner posted. */
  outputs?: Record<string, unknown>;
  /** The raw terraform state (tfstate JSON), when the job keeps one the run can read. */
  terraformState?: string;
  /** Applied to every summary and detail; the outputs should already be redacted with it. */
  redactor?: Redactor;
}

/** A terraform resource instance from a state. */
export interface StateResource {
  address: string;
  attributes: Record<string, unknown>;
  /** Top-level attribute names marked sensitive in the state. */
  sensitive: string[];
}

/** JSON with object keys sorted at every depth, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? "null";
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** The first 16 hex characters of the sha256 of `text`. */
export function hashOf(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** The resource instances of a tfstate (version 4); [] when the text is not a state. */
export function terraformResources(stateText: string): StateResource[] {
  let state: unknown;
  try {
    state = JSON.parse(stateText);
  } catch {
    return [];
  }
  const resources = (state as { resources?: unknown })?.resources;
  if (!Array.isArray(resources)) return [];
  const out: StateResource[] = [];
  for (const r of resources as Array<Record<string, unknown>>) {
    const prefix = `${typeof r.module === "string" ? `${r.module}.` : ""}${r.mode === "data" ? "data." : ""}${String(r.type)}.${String(r.name)}`;
    const instances = Array.isArray(r.instances) ? (r.instances as Array<Record<string, unknown>>) : [];
    for (const instance of instances) {
      const key = instance.index_key;
      const address = key === undefined ? prefix : `${prefix}[${JSON.stringify(key)}]`;
      const attributes =
        typeof instance.attributes === "object" && instance.attributes !== null
          ? (instance.attributes as Record<string, unknown>)
          : {};
      out.push({ address, attributes, sensitive: sensitiveNames(instance.sensitive_attributes) });
    }
  }
  return out.sort((a, b) => a.address.localeCompare(b.address));
}

/** Top-level attribute names of `sensitive_attributes` (a list of paths of `{type: get_attr, value}` steps). */
function sensitiveNames(paths: unknown): string[] {
  if (!Array.isArray(paths)) return [];
  const names = new Set<string>();
  for (const p of paths) {
    const first = Array.isArray(p) ? (p[0] as { type?: unknown; value?: unknown } | undefined) : undefined;
    if (first?.type === "get_attr" && typeof first.value === "string") names.add(first.value);
  }
  return [...names].sort();
}

const MAX_SUMMARY = 80;

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > MAX_SUMMARY ? `${flat.slice(0, MAX_SUMMARY - 1)}…` : flat;
}

/** Takes a job's snapshot. */
export function takeSnapshot(input: SnapshotInput): JobSnapshot {
  const scrub = (text: string) => (input.redactor === undefined ? text : input.redactor.redact(text).text);
  const items: SnapshotItem[] = [
    {
      key: "status",
      kind: "status",
      hash: hashOf(input.status),
      summary: input.status,
      detail: input.status,
    },
  ];
  const outputs = input.outputs ?? {};
  const kube = kubernetesItems(outputs);
  for (const name of Object.keys(outputs).sort()) {
    if (input.type === "actions-workflow" && name === "steps") continue; // the same values, by step
    if (kube.length > 0 && (name === "objects" || name === "diff")) continue; // items of their own below
    const text = canonicalJson(outputs[name]);
    items.push({
      key: `output.${name}`,
      kind: "output",
      hash: hashOf(text),
      summary: scrub(oneLine(text)),
      detail: scrub(JSON.stringify(sortKeys(outputs[name]), null, 2) ?? "null"),
    });
  }
  if (input.terraformState !== undefined) {
    for (const resource of terraformResources(input.terraformState))
      items.push(resourceItem(resource, scrub));
  }
  items.push(...kube, ...helmItems(outputs, scrub));
  return { job: input.job, type: input.type, status: input.status, items };
}

function resourceItem(resource: StateResource, scrub: (t: string) => string): SnapshotItem {
  const hash = hashOf(canonicalJson(resource.attributes));
  const lines = Object.keys(resource.attributes)
    .sort()
    .map((name) =>
      resource.sensitive.includes(name)
        ? `${name} = (sensitive, ${hashOf(canonicalJson(resource.attributes[name]))})`
        : `${name} = ${canonicalJson(resource.attributes[name])}`,
    );
  return {
    key: `resource.${resource.address}`,
    kind: "resource",
    hash,
    summary: `attributes ${hash}`,
    detail: scrub(lines.join("\n")),
  };
}

/** Items for the objects a kubernetes-manifest job applied (its `objects` output). */
function kubernetesItems(outputs: Record<string, unknown>): SnapshotItem[] {
  const objects = outputs.objects;
  if (!Array.isArray(objects)) return [];
  const diffs = Array.isArray(outputs.diff) ? outputs.diff : [];
  const items: SnapshotItem[] = [];
  for (const [index, o] of (objects as Array<Record<string, unknown>>).entries()) {
    if (typeof o?.kind !== "string" || typeof o.name !== "string") continue;
    const ns = typeof o.namespace === "string" ? o.namespace : "";
    const text = canonicalJson({ object: o, diff: diffs[index] ?? null });
    items.push({
      key: `k8s.${o.kind}/${ns === "" ? "-" : ns}/${o.name}`,
      kind: "k8s-object",
      hash: hashOf(text),
      summary: `${String(o.action ?? "applied")} ${String(o.apiVersion ?? "")}`.trim(),
      detail: JSON.stringify(sortKeys(o), null, 2),
    });
  }
  return items;
}

/** The helm release manifest, when the outputs carry one (`manifest` or `release.manifest`). */
function helmItems(outputs: Record<string, unknown>, scrub: (t: string) => string): SnapshotItem[] {
  const release = outputs.release as { manifest?: unknown } | undefined;
  const manifest = typeof outputs.manifest === "string" ? outputs.manifest : release?.manifest;
  if (typeof manifest !== "string") return [];
  const hash = hashOf(manifest);
  return [
    {
      key: "helm.manifest",
      kind: "helm-manifest",
      hash,
      summary: `manifest ${hash}`,
      detail: scrub(manifest),
    },
  ];
}
