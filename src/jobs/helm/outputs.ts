/**
 * Reading helm's output (pure): the release JSON of `helm status -o json` / `helm upgrade -o json`, and the
 * object identities of a rendered manifest; plus the per-object diff between two manifests and the
 * handler's outputs (release name, namespace, revision, status, chart, objects).
 */
import { parseAllDocuments } from "yaml";
import type { KubeObject } from "../../kube/client.ts";
import { applyDiff, deleteDiff, type ResourceDiff } from "../../kube/diff.ts";

/** The parts of a helm release the runner uses. */
export interface HelmRelease {
  name: string;
  namespace: string;
  revision: number;
  status: string;
  chart: string;
  appVersion?: string;
  manifest: string;
}

/** Parses a release JSON printed by helm; throws naming what is missing. */
export function parseRelease(json: string): HelmRelease {
  let r: {
    name?: string;
    namespace?: string;
    version?: number;
    info?: { status?: string };
    chart?: { metadata?: { name?: string; version?: string; appVersion?: string } };
    manifest?: string;
  };
  try {
    r = JSON.parse(json) as typeof r;
  } catch (err) {
    throw new Error(`helm did not print a release as JSON (${json.trim().slice(0, 80) || "no output"})`, {
      cause: err,
    });
  }
  if (typeof r.name !== "string" || typeof r.version !== "number")
    throw new Error("helm's release JSON has no name or version");
  const meta = r.chart?.metadata ?? {};
  return {
    name: r.name,
    namespace: r.namespace ?? "",
    revision: r.version,
    status: r.info?.status ?? "unknown",
    chart: meta.name !== undefined ? `${meta.name}-${meta.version ?? ""}` : "",
    ...(meta.appVersion !== undefined ? { appVersion: meta.appVersion } : {}),
    manifest: r.manifest ?? "",
  };
}

/** True when helm's stderr says the release does not exist. */
export function isReleaseNotFound(stderr: string): boolean {
  return /release: not found/i.test(stderr);
}

/** Objects of a rendered manifest (empty documents skipped); objects without a namespace get `namespace`. */
export function manifestObjects(manifest: string, namespace: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(manifest) as ReturnType<typeof parseAllDocuments> & unknown[]) {
    const value = doc.toJS() as KubeObject | null;
    if (value === null || typeof value !== "object" || typeof value.kind !== "string") continue;
    out.push({
      ...value,
      metadata: { ...value.metadata, namespace: value.metadata?.namespace ?? namespace },
    });
  }
  return out;
}

/** Identity of an object: `apiVersion kind namespace/name`. */
export function identity(o: KubeObject): {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
} {
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    name: o.metadata.name ?? "",
  };
}

const keyOf = (o: KubeObject) =>
  `${o.apiVersion.split("/").length > 1 ? o.apiVersion.split("/")[0] : ""}|${o.kind}|${o.metadata.namespace ?? ""}|${o.metadata.name}`;

/** Per-object diff from the current release manifest to the new one: created, changed, unchanged, deleted. */
export function manifestDiff(current: KubeObject[], next: KubeObject[], dryRun: boolean): ResourceDiff[] {
  const before = new Map(current.map((o) => [keyOf(o), o]));
  const after = new Set(next.map(keyOf));
  const diffs = next.map((o) => applyDiff(identity(o), before.get(keyOf(o)), o, dryRun));
  for (const o of current) if (!after.has(keyOf(o))) diffs.push(deleteDiff(identity(o), o, dryRun));
  return diffs;
}

/** The outputs of a finished install, upgrade or uninstall. */
export function helmOutputs(
  release: HelmRelease | undefined,
  target: { release: string; namespace: string },
  op: string,
): Record<string, unknown> {
  if (release === undefined)
    return { release: target.release, namespace: target.namespace, op, status: "uninstalled", objects: [] };
  return {
    release: release.name,
    namespace: release.namespace || target.namespace,
    op,
    revision: release.revision,
    status: release.status,
    chart: release.chart,
    ...(release.appVersion !== undefined ? { app_version: release.appVersion } : {}),
    objects: manifestObjects(release.manifest, release.namespace || target.namespace).map(identity),
  };
}
