/**
 * Applying and deleting a set of objects: server-side apply under one field manager, object by object in
 * the order given (see manifests.ts), with the live object read first so each result carries a diff.
 *
 * - Kinds are looked up in discovery; a kind the cluster does not serve fails naming the object, unless a
 *   CustomResourceDefinition in the same set defines it (then it is applied after the CRD is Established).
 * - Dry runs (plans) use `dryRun=All`; objects whose namespace or CRD the same plan would create cannot be
 *   dry-run by the server and are reported as created from the manifest as written.
 * - Deletion uses foreground propagation and waits until each object is gone, so dependents go first.
 * - Every failure is a KubeError whose message names the object and keeps the server's reason and code.
 */
import type { ApiResource, KubeClient, KubeObject, ObjectRef } from "./client.ts";
import { describeRef } from "./client.ts";
import { applyDiff, deleteDiff, type ResourceDiff } from "./diff.ts";
import { isKubeError, KubeError } from "./errors.ts";

/** One object ready to apply: kind resolved, namespace filled in. */
export interface ApplyTarget {
  ref: ObjectRef;
  object: KubeObject;
  /** Plural resource name; undefined when a CRD in the same set defines the kind and is not served yet. */
  resource: string | undefined;
  namespaced: boolean;
}

/** What happened to one object. */
export interface ApplyResult {
  target: ApplyTarget;
  action: "created" | "changed" | "unchanged" | "deleted" | "absent";
  diff: ResourceDiff;
  /** The object as stored (or as it would be, in a dry run); undefined after a delete. */
  result?: KubeObject;
}

/** Options of applyTargets. */
export interface ApplyOptions {
  fieldManager: string;
  /** Take over fields other managers own instead of failing with a conflict; default false. */
  force?: boolean;
  dryRun?: boolean;
  signal?: AbortSignal;
  /** Called after each object. */
  onResult?: (result: ApplyResult) => void;
  /** How long a new CRD may take to become Established, ms; default 60 000. */
  crdEstablishTimeoutMs?: number;
}

/** Options of deleteTargets. */
export interface DeleteOptions {
  dryRun?: boolean;
  signal?: AbortSignal;
  /** How long one object may take to disappear, ms; default 300 000. */
  goneTimeoutMs?: number;
  onResult?: (result: ApplyResult) => void;
  /** Poll interval while waiting for an object to disappear, ms; default 250. */
  pollIntervalMs?: number;
}

/** A KubeError whose message starts with what was being done to which object. */
export function objectError(action: string, ref: ObjectRef, err: unknown): Error {
  const what = `cannot ${action} ${describeRef(ref)}`;
  if (err instanceof KubeError) {
    return new KubeError({
      code: err.code,
      message: `${what}: ${err.message}`,
      ...(err.status !== undefined ? { status: err.status } : {}),
      ...(err.body !== undefined ? { body: err.body } : {}),
      cause: err,
    });
  }
  return new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

function crdDefines(
  objects: readonly KubeObject[],
  apiVersion: string,
  kind: string,
): { namespaced: boolean } | undefined {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  for (const o of objects) {
    if (o.kind !== "CustomResourceDefinition") continue;
    const spec = (o.spec ?? {}) as {
      group?: string;
      scope?: string;
      names?: { kind?: string };
      versions?: Array<{ name?: string }>;
    };
    if (
      spec.group === group &&
      spec.names?.kind === kind &&
      (spec.versions ?? []).some((v) => v.name === version)
    ) {
      return { namespaced: spec.scope !== "Cluster" };
    }
  }
  return undefined;
}

/**
 * Resolves kinds and namespaces: namespaced objects without a namespace get `namespace` (else the
 * client's default); cluster-scoped objects lose any namespace they carry. Throws naming the first object
 * whose kind the cluster does not serve (unless a CRD among `objects` defines it, or `allowUnknownKinds`).
 */
export async function resolveTargets(
  client: KubeClient,
  objects: readonly KubeObject[],
  options: {
    namespace?: string;
    signal?: AbortSignal;
    /** Keep objects of kinds nobody serves (a teardown after their CRD is gone), taken as namespaced. */
    allowUnknownKinds?: boolean;
  } = {},
): Promise<ApplyTarget[]> {
  const targets: ApplyTarget[] = [];
  for (const obj of objects) {
    const name = obj.metadata.name ?? "";
    let resource: ApiResource | undefined;
    let namespaced: boolean;
    try {
      resource = await client.resource(obj.apiVersion, obj.kind, options.signal);
      namespaced = resource.namespaced;
    } catch (err) {
      const unknown = isKubeError(err, "UNKNOWN_KIND");
      const fromCrd = unknown
        ? (crdDefines(objects, obj.apiVersion, obj.kind) ??
          (options.allowUnknownKinds ? { namespaced: true } : undefined))
        : undefined;
      if (fromCrd === undefined) {
        const ref = {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name,
          ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
        };
        throw objectError("apply", ref, err);
      }
      namespaced = fromCrd.namespaced;
    }
    const namespace = namespaced
      ? obj.metadata.namespace || options.namespace || client.defaultNamespace
      : undefined;
    const metadata = { ...obj.metadata };
    if (namespace !== undefined) metadata.namespace = namespace;
    else delete metadata.namespace;
    targets.push({
      ref: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name,
        ...(namespace !== undefined ? { namespace } : {}),
      },
      object: { ...obj, metadata },
      resource: resource?.name,
      namespaced,
    });
  }
  return targets;
}

/** Namespaces the targets live in that neither exist nor are created by the targets themselves. */
export async function missingNamespaces(
  client: KubeClient,
  targets: readonly ApplyTarget[],
  signal?: AbortSignal,
): Promise<string[]> {
  const declared = new Set(targets.filter((t) => t.ref.kind === "Namespace").map((t) => t.ref.name));
  const wanted = [
    ...new Set(targets.map((t) => t.ref.namespace).filter((n): n is string => n !== undefined)),
  ];
  const missing: string[] = [];
  for (const ns of wanted) {
    if (declared.has(ns)) continue;
    const live = await client.get({ apiVersion: "v1", kind: "Namespace", name: ns }, signal);
    if (live === undefined) missing.push(ns);
  }
  return missing;
}

/** A Namespace target for `name`. */
export function namespaceTarget(name: string): ApplyTarget {
  return {
    ref: { apiVersion: "v1", kind: "Namespace", name },
    object: { apiVersion: "v1", kind: "Namespace", metadata: { name } },
    resource: "namespaces",
    namespaced: false,
  };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** Applies the targets in order; throws on the first failure (objects before it stay applied). */
export async function applyTargets(
  client: KubeClient,
  targets: readonly ApplyTarget[],
  options: ApplyOptions,
): Promise<ApplyResult[]> {
  const dryRun = options.dryRun ?? false;
  const results: ApplyResult[] = [];
  const createdNamespaces = new Set<string>();
  for (const target of targets) {
    const { ref } = target;
    const diffTarget = { ...ref, ...(target.resource !== undefined ? { resource: target.resource } : {}) };
    let live: KubeObject | undefined;
    let result: KubeObject;
    // In a dry run, a kind whose CRD this same set creates is not served yet.
    const notServedYet = dryRun && target.resource === undefined;
    try {
      live = notServedYet ? undefined : await client.get(ref, options.signal);
      const inNewNamespace = dryRun && ref.namespace !== undefined && createdNamespaces.has(ref.namespace);
      if (notServedYet || (inNewNamespace && live === undefined)) {
        result = target.object; // the server cannot dry-run this yet: show the manifest as written
      } else {
        result = await client.apply(
          target.object,
          { fieldManager: options.fieldManager, force: options.force ?? false, dryRun },
          options.signal,
        );
      }
    } catch (err) {
      throw objectError("apply", ref, err);
    }
    if (ref.kind === "Namespace" && live === undefined) createdNamespaces.add(ref.name);
    if (ref.kind === "CustomResourceDefinition" && !dryRun) {
      await waitEstablished(client, ref, options.crdEstablishTimeoutMs ?? 60_000, options.signal);
      client.invalidateDiscovery();
    }
    const diff = applyDiff(diffTarget, live, result, dryRun);
    const action = live === undefined ? "created" : diff.type === 0 ? "unchanged" : "changed";
    const entry: ApplyResult = { target, action, diff, result };
    results.push(entry);
    options.onResult?.(entry);
  }
  return results;
}

async function waitEstablished(
  client: KubeClient,
  ref: ObjectRef,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const crd = await client.get(ref, signal);
    const conditions =
      (crd?.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? [];
    if (conditions.some((c) => c.type === "Established" && c.status === "True")) return;
    if (Date.now() >= deadline) {
      throw new KubeError({
        code: "TIMEOUT",
        message: `${describeRef(ref)} did not become Established within ${Math.round(timeoutMs / 1000)}s`,
      });
    }
    await sleep(100, signal);
  }
}

/** Deletes the targets in order (foreground propagation), waiting for each to be gone. */
export async function deleteTargets(
  client: KubeClient,
  targets: readonly ApplyTarget[],
  options: DeleteOptions = {},
): Promise<ApplyResult[]> {
  const dryRun = options.dryRun ?? false;
  const results: ApplyResult[] = [];
  for (const target of targets) {
    const { ref } = target;
    const diffTarget = { ...ref, ...(target.resource !== undefined ? { resource: target.resource } : {}) };
    let live: KubeObject | undefined;
    try {
      live = await client.get(ref, options.signal);
    } catch (err) {
      // A custom resource whose CRD is already gone: nothing left to delete.
      if (!isKubeError(err, "UNKNOWN_KIND")) throw objectError("delete", ref, err);
    }
    if (live !== undefined && !dryRun) {
      try {
        await client.delete(ref, { propagationPolicy: "Foreground" }, options.signal);
        await waitGone(
          client,
          ref,
          options.goneTimeoutMs ?? 300_000,
          options.pollIntervalMs ?? 250,
          options.signal,
        );
      } catch (err) {
        throw objectError("delete", ref, err);
      }
    }
    const entry: ApplyResult = {
      target,
      action: live === undefined ? "absent" : "deleted",
      diff: deleteDiff(diffTarget, live, dryRun),
    };
    results.push(entry);
    options.onResult?.(entry);
  }
  return results;
}

async function waitGone(
  client: KubeClient,
  ref: ObjectRef,
  timeoutMs: number,
  pollMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let obj: KubeObject | undefined;
    try {
      obj = await client.get(ref, signal);
    } catch (err) {
      if (isKubeError(err, "UNKNOWN_KIND")) return;
      throw err;
    }
    if (obj === undefined) return;
    if (Date.now() >= deadline) {
      const finalizers = (obj.metadata.finalizers as string[] | undefined) ?? [];
      throw new KubeError({
        code: "TIMEOUT",
        message: `it was still there after ${Math.round(timeoutMs / 1000)}s${finalizers.length > 0 ? ` (finalizers: ${finalizers.join(", ")})` : ""}`,
      });
    }
    await sleep(pollMs, signal);
  }
}
