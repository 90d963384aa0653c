/**
 * Multi-document YAML manifests: parsing (every document an object with apiVersion, kind and
 * metadata.name; `kind: List` documents flattened; errors name the document and line), and the order
 * objects are applied and deleted in. Apply order is Helm's install order (namespaces, then what others
 * depend on — accounts, secrets, config, storage, CRDs, RBAC — then services and workloads, kinds the
 * table does not know last). Delete order is the reverse, except that CRDs and then namespaces go last:
 * deleting either removes everything still inside it.
 */
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "./client.ts";

/** A manifest that cannot be used as it is. */
export class ManifestError extends Error {
  override readonly name = "ManifestError";
}

/** Kind order for applying (after Helm's InstallOrder). */
export const APPLY_ORDER: readonly string[] = [
  "PriorityClass",
  "Namespace",
  "NetworkPolicy",
  "ResourceQuota",
  "LimitRange",
  "PodDisruptionBudget",
  "ServiceAccount",
  "Secret",
  "ConfigMap",
  "StorageClass",
  "PersistentVolume",
  "PersistentVolumeClaim",
  "CustomResourceDefinition",
  "ClusterRole",
  "ClusterRoleBinding",
  "Role",
  "RoleBinding",
  "Service",
  "DaemonSet",
  "Pod",
  "ReplicationController",
  "ReplicaSet",
  "Deployment",
  "HorizontalPodAutoscaler",
  "StatefulSet",
  "Job",
  "CronJob",
  "IngressClass",
  "Ingress",
  "APIService",
  "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration",
];

/** Parses a multi-document manifest into objects, in document order. Throws ManifestError naming the document. */
export function parseManifest(text: string): KubeObject[] {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: KubeObject[] = [];
  list.forEach((doc, i) => {
    const where = `manifest document ${i + 1}`;
    const error = doc.errors[0];
    if (error !== undefined) {
      const line = error.linePos?.[0]?.line;
      throw new ManifestError(
        `${where} is not valid YAML${line !== undefined ? ` (line ${line})` : ""}: ${firstLine(error.message)}`,
      );
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // an empty document (`---` at the end, comments only)
    for (const obj of flatten(value, where)) out.push(checkObject(obj, where));
  });
  const seen = new Set<string>();
  for (const o of out) {
    const key = `${o.apiVersion}|${o.kind}|${o.metadata.namespace ?? ""}|${o.metadata.name}`;
    if (seen.has(key)) {
      throw new ManifestError(
        `the manifest contains ${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name} twice`,
      );
    }
    seen.add(key);
  }
  return out;
}

function flatten(value: unknown, where: string): unknown[] {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const v = value as { kind?: unknown; items?: unknown };
    if (typeof v.kind === "string" && v.kind.endsWith("List") && Array.isArray(v.items)) return v.items;
  }
  if (Array.isArray(value)) throw new ManifestError(`${where} is a YAML list, not a Kubernetes object`);
  return [value];
}

function checkObject(value: unknown, where: string): KubeObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ManifestError(
      `${where} is not a Kubernetes object (a YAML mapping with apiVersion, kind and metadata)`,
    );
  }
  const o = value as Partial<KubeObject>;
  const kind = typeof o.kind === "string" && o.kind !== "" ? o.kind : undefined;
  const label = kind !== undefined ? `${where} (${kind})` : where;
  if (typeof o.apiVersion !== "string" || o.apiVersion === "")
    throw new ManifestError(`${label} has no apiVersion`);
  if (kind === undefined) throw new ManifestError(`${where} has no kind`);
  const metadata = o.metadata;
  if (
    typeof metadata !== "object" ||
    metadata === null ||
    typeof metadata.name !== "string" ||
    metadata.name === ""
  ) {
    throw new ManifestError(
      `${label} has no metadata.name (generateName cannot be applied: the runner must know the name)`,
    );
  }
  if (metadata.namespace !== undefined && typeof metadata.namespace !== "string") {
    throw new ManifestError(`${label} ${metadata.name}: metadata.namespace must be a string`);
  }
  return o as KubeObject;
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}

/** Rank of a kind in APPLY_ORDER; unknown kinds after all known ones. */
function rank(kind: string): number {
  const i = APPLY_ORDER.indexOf(kind);
  return i === -1 ? APPLY_ORDER.length : i;
}

/** The kind of an object, or of an apply target (`ref.kind`). */
function kindOf(item: { kind?: string; ref?: { kind: string } }): string {
  return item.kind ?? item.ref?.kind ?? "";
}

/** Sorts objects (or apply targets) for applying: by kind rank, stable within a kind (manifest order). */
export function applyOrder<T extends { kind?: string; ref?: { kind: string } }>(items: readonly T[]): T[] {
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => rank(kindOf(a.item)) - rank(kindOf(b.item)) || a.i - b.i)
    .map((x) => x.item);
}

/** Sorts for deleting: reverse apply order, then CustomResourceDefinitions, then Namespaces. */
export function deleteOrder<T extends { kind?: string; ref?: { kind: string } }>(items: readonly T[]): T[] {
  const reversed = applyOrder(items).reverse();
  const last = (k: string) => (k === "Namespace" ? 2 : k === "CustomResourceDefinition" ? 1 : 0);
  return reversed
    .map((item, i) => ({ item, i }))
    .sort((a, b) => last(kindOf(a.item)) - last(kindOf(b.item)) || a.i - b.i)
    .map((x) => x.item);
}
