/**
 * `kubernetes-manifest-deploy`: server-side applies a multi-document manifest to the cluster named by the
 * plan's `cluster_info`, by `job.operation`:
 *
 * - `create-apply-plan`: a dry run (`dryRun=All`) of every object against the live ones; the result holds
 *   the plan (Nuon's KubernetesManifestPlanContents with per-object diffs) and the job log its readable text.
 * - `create-teardown-plan`: what a teardown would delete, in delete order.
 * - `apply-plan`: `op` of the saved plan in `apply_plan_contents` (none: apply). Apply: objects in
 *   dependency order under field manager `kube-apply` (Nuon's), namespaces the objects need but the
 *   manifest lacks created first, then a wait until workloads are ready. Delete: reverse order, CRDs and
 *   namespaces last, foreground propagation, each object gone before the next.
 *
 * Objects get the labels `nuon.co/install-id` and `nuon.co/component-id` when the plan has those ids (as
 * Nuon's runner stamps them). Bad YAML fails the validate step; every cluster error names its object.
 * A manifest that comes as an OCI artifact (`oci_artifact`, plan.ts) is pulled and checked at initialize
 * (manifest-source.ts); the outputs then carry `manifest_artifact {ref, digest}`.
 */
import {
  type ApplyResult,
  type ApplyTarget,
  applyTargets,
  deleteTargets,
  missingNamespaces,
  namespaceTarget,
  resolveTargets,
} from "../../kube/apply.ts";
import { createKubeClient, describeRef, type KubeClient, type KubeObject } from "../../kube/client.ts";
import { type ClusterAccessDeps, resolveClusterAccess } from "../../kube/cluster-access.ts";
import { renderPlan } from "../../kube/diff.ts";
import { applyOrder, deleteOrder, parseManifest } from "../../kube/manifests.ts";
import { waitForReady } from "../../kube/wait.ts";
import type { Redactor } from "../../logs/redact.ts";
import type { RegistryConnectOptions } from "../../sources/oci/connect.ts";
import type { JobContext, JobHandler } from "../handler.ts";
import { type PulledManifest, pullManifest } from "./manifest-source.ts";
import { manifestOutputs } from "./outputs.ts";
import { type KubernetesManifestPlan, parseKubernetesManifestPlan } from "./plan.ts";
import { buildPlanContents, type ManifestOp, opOfSavedPlan } from "./plan-contents.ts";

/** The field manager of every apply (the one Nuon's runner uses, so ownership carries over). */
export const FIELD_MANAGER = "kube-apply";

/** Options of createKubernetesManifestHandler. */
export interface KubernetesManifestHandlerOptions {
  /** How cluster credentials are found (environment, AWS credentials provider, …). */
  access?: Omit<ClusterAccessDeps, "signal" | "killGraceMs" | "onSecret">;
  /** Receives the cluster credentials in play, so that logs and errors never show them. */
  redactor?: Pick<Redactor, "add">;
  /** Poll interval while waiting for deleted objects to go, ms; default 250. */
  deletePollIntervalMs?: number;
  /** Dispatcher and timeouts of registry requests (manifest artifacts); default undici's global dispatcher. */
  registry?: RegistryConnectOptions;
}

type Operation = "create-apply-plan" | "create-teardown-plan" | "apply-plan";

function operationOf(operation: string | undefined): Operation {
  if (operation === "create-apply-plan" || operation === "create-teardown-plan" || operation === "apply-plan")
    return operation;
  throw new Error(
    `kubernetes-manifest-deploy does not support operation ${JSON.stringify(operation ?? "")}; expected create-apply-plan, create-teardown-plan or apply-plan`,
  );
}

/** Adds the Nuon ownership labels. */
function stamp(objects: KubeObject[], plan: KubernetesManifestPlan): KubeObject[] {
  const labels: Record<string, string> = {
    ...(plan.installId ? { "nuon.co/install-id": plan.installId } : {}),
    ...(plan.componentId ? { "nuon.co/component-id": plan.componentId } : {}),
  };
  if (Object.keys(labels).length === 0) return objects;
  return objects.map((o) => ({
    ...o,
    metadata: { ...o.metadata, labels: { ...(o.metadata.labels ?? {}), ...labels } },
  }));
}

/** Creates the handler. */
export function createKubernetesManifestHandler(
  options: KubernetesManifestHandlerOptions = {},
): JobHandler<KubernetesManifestPlan> {
  let objects: KubeObject[] = [];
  let client: KubeClient | undefined;
  let results: ApplyResult[] = [];
  let namespace = "default";
  let pulled: PulledManifest | undefined;

  function readObjects(manifest: string, from: string): KubeObject[] {
    const parsed = parseManifest(manifest);
    if (parsed.length === 0) throw new Error(`${from} holds no objects`);
    return parsed;
  }

  async function targets(
    ctx: JobContext<KubernetesManifestPlan>,
    c: KubeClient,
    op: ManifestOp,
  ): Promise<ApplyTarget[]> {
    const ordered = applyOrder(stamp(objects, ctx.plan));
    const resolved = await resolveTargets(c, ordered, {
      ...(ctx.plan.namespace !== undefined ? { namespace: ctx.plan.namespace } : {}),
      signal: ctx.signal,
      allowUnknownKinds: op === "delete",
    });
    if (op === "delete") return deleteOrder(resolved);
    const missing = await missingNamespaces(c, resolved, ctx.signal);
    for (const ns of missing)
      ctx.log.info("the manifest's objects live in a namespace that does not exist; it is created first", {
        namespace: ns,
      });
    return [...missing.map((ns) => namespaceTarget(ns)), ...resolved];
  }

  function logResult(ctx: JobContext<KubernetesManifestPlan>, r: ApplyResult, dryRun: boolean): void {
    const fields = {
      kind: r.target.ref.kind,
      namespace: r.target.ref.namespace,
      name: r.target.ref.name,
      action: r.action,
    };
    ctx.log.info(
      dryRun
        ? "planned object"
        : r.action === "deleted" || r.action === "absent"
          ? "deleted object"
          : "applied object",
      fields,
    );
  }

  async function run(
    ctx: JobContext<KubernetesManifestPlan>,
    c: KubeClient,
    op: ManifestOp,
    dryRun: boolean,
  ): Promise<void> {
    const list = await targets(ctx, c, op);
    const onResult = (r: ApplyResult) => logResult(ctx, r, dryRun);
    results =
      op === "apply"
        ? await applyTargets(c, list, {
            fieldManager: FIELD_MANAGER,
            force: ctx.plan.forceConflicts,
            dryRun,
            signal: ctx.signal,
            onResult,
          })
        : await deleteTargets(c, list, {
            dryRun,
            signal: ctx.signal,
            onResult,
            ...(options.deletePollIntervalMs !== undefined
              ? { pollIntervalMs: options.deletePollIntervalMs }
              : {}),
          });
    const diffs = results.map((r) => r.diff);
    for (const line of renderPlan(diffs).trimEnd().split("\n")) ctx.log.line(line, "stdout");
    const contents = JSON.stringify(
      buildPlanContents(
        op,
        diffs,
        list.map((t) => t.object),
      ),
    );
    ctx.result.contents = contents;
    ctx.result.contentsDisplay = contents;
    if (dryRun || op !== "apply" || !ctx.plan.wait) return;
    const refs = results.map((r) => r.target.ref);
    ctx.log.info("waiting for the applied workloads to become ready", { timeoutMs: ctx.plan.waitTimeoutMs });
    await waitForReady(c, refs, {
      timeoutMs: ctx.plan.waitTimeoutMs,
      signal: ctx.signal,
      onProgress: (ref, r) =>
        ctx.log.info(`${describeRef(ref)}: ${r.state === "ready" ? "ready" : r.message}`),
    });
  }

  return {
    name: "kubernetes-manifest",
    parsePlan: parseKubernetesManifestPlan,
    async validate(ctx) {
      operationOf(ctx.job.operation);
      // A manifest that comes as an artifact is pulled and checked at initialize.
      if (ctx.plan.source === undefined)
        objects = readObjects(ctx.plan.manifest, "kubernetes_manifest.manifest");
    },
    async initialize(ctx) {
      if (ctx.plan.source !== undefined) {
        pulled = await pullManifest({
          source: ctx.plan.source,
          workspaceDir: ctx.workspaceDir,
          signal: ctx.signal,
          log: ctx.log,
          onSecret: (secret) => options.redactor?.add(secret),
          connect: options.registry,
        });
        const from = `the manifest of ${pulled.ref} (${pulled.files.join(", ")})`;
        try {
          objects = readObjects(pulled.manifest, from);
        } catch (err) {
          const message = (err as Error).message;
          throw message.startsWith(from) ? err : new Error(`${from}: ${message}`, { cause: err });
        }
        ctx.log.info("read the manifest from the artifact", {
          artifact: pulled.ref,
          files: pulled.files,
          objects: objects.length,
        });
      }
      const access = await resolveClusterAccess(ctx.plan.clusterInfo, {
        ...options.access,
        signal: ctx.signal,
        killGraceMs: ctx.killGraceMs,
        ...(options.redactor !== undefined ? { onSecret: (s: string) => options.redactor?.add(s) } : {}),
      });
      client = createKubeClient(access);
      namespace = ctx.plan.namespace ?? access.defaultNamespace;
      ctx.log.info("connecting to the cluster", {
        server: access.server,
        access: access.mode,
        namespace,
        objects: objects.length,
      });
    },
    async execute(ctx) {
      const c = client as KubeClient;
      const operation = operationOf(ctx.job.operation);
      if (operation === "create-apply-plan") return run(ctx, c, "apply", true);
      if (operation === "create-teardown-plan") return run(ctx, c, "delete", true);
      const op = opOfSavedPlan(ctx.plan.applyPlanContents);
      ctx.log.info(op === "apply" ? "applying the manifest" : "tearing down the manifest's objects", { op });
      return run(ctx, c, op, false);
    },
    async outputs() {
      return {
        ...manifestOutputs(results, namespace),
        ...(pulled === undefined ? {} : { manifest_artifact: { ref: pulled.ref, digest: pulled.digest } }),
      };
    },
    async cleanup() {
      await client?.close();
      client = undefined;
    },
  };
}
