/**
 * Whether an applied object is ready, by the rules `kubectl rollout status` and `kubectl wait` use:
 *
 * - Deployment: the controller saw the newest generation, every replica is updated, no old replicas
 *   remain, and the updated ones are available; `Progressing=False/ProgressDeadlineExceeded` fails it.
 * - StatefulSet (RollingUpdate): newest generation observed, every replica ready and updated
 *   (`updatedReplicas` ≥ replicas − partition), currentRevision = updateRevision; OnDelete is ready at once.
 * - DaemonSet: newest generation observed, every scheduled pod updated and available.
 * - Job: condition Complete=True; Failed=True fails it (its reason, e.g. BackoffLimitExceeded).
 * - CustomResourceDefinition: Established=True. Namespace: phase Active.
 * - Everything else is ready once it exists.
 */
import type { KubeObject } from "./client.ts";

/** What readiness says about one object. */
export type Readiness =
  | { state: "ready" }
  | { state: "pending"; message: string }
  | { state: "failed"; message: string };

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

function condition(obj: KubeObject, type: string): Condition | undefined {
  const conditions = ((obj.status as { conditions?: Condition[] } | undefined)?.conditions ??
    []) as Condition[];
  return conditions.find((c) => c.type === type);
}

const num = (v: unknown, fallback = 0): number => (typeof v === "number" ? v : fallback);

/** Kinds whose readiness is more than existence. */
export const WAITED_KINDS: ReadonlySet<string> = new Set([
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "Job",
  "CustomResourceDefinition",
  "Namespace",
]);

/** Readiness of one object (pure). */
export function readiness(obj: KubeObject): Readiness {
  const status = (obj.status ?? {}) as Record<string, unknown>;
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const generation = num(obj.metadata.generation, 0);
  const observed = num(status.observedGeneration, -1);
  const stale = {
    state: "pending" as const,
    message: "waiting for the controller to observe the newest generation",
  };

  switch (obj.kind) {
    case "Deployment": {
      const progressing = condition(obj, "Progressing");
      if (progressing?.reason === "ProgressDeadlineExceeded") {
        return {
          state: "failed",
          message: `rollout exceeded its progress deadline: ${progressing.message ?? ""}`.trim(),
        };
      }
      if (observed < generation) return stale;
      const want = num(spec.replicas, 1);
      const updated = num(status.updatedReplicas);
      const total = num(status.replicas);
      const available = num(status.availableReplicas);
      if (updated < want) return { state: "pending", message: `${updated} of ${want} replicas updated` };
      if (total > updated)
        return { state: "pending", message: `${total - updated} old replicas are pending termination` };
      if (available < updated)
        return { state: "pending", message: `${available} of ${updated} updated replicas available` };
      return { state: "ready" };
    }
    case "StatefulSet": {
      const strategy = (spec.updateStrategy ?? {}) as {
        type?: string;
        rollingUpdate?: { partition?: number };
      };
      if (strategy.type === "OnDelete") return { state: "ready" };
      if (observed < generation) return stale;
      const want = num(spec.replicas, 1);
      const ready = num(status.readyReplicas);
      if (ready < want) return { state: "pending", message: `${ready} of ${want} replicas ready` };
      const partition = num(strategy.rollingUpdate?.partition, 0);
      if (partition > 0) {
        const updated = num(status.updatedReplicas);
        return updated >= want - partition
          ? { state: "ready" }
          : { state: "pending", message: `${updated} of ${want - partition} partitioned replicas updated` };
      }
      if (status.updateRevision !== status.currentRevision) {
        return {
          state: "pending",
          message: `${num(status.updatedReplicas)} of ${want} replicas updated to revision ${String(status.updateRevision)}`,
        };
      }
      return { state: "ready" };
    }
    case "DaemonSet": {
      if (observed < generation) return stale;
      const desired = num(status.desiredNumberScheduled);
      const updated = num(status.updatedNumberScheduled);
      const available = num(status.numberAvailable);
      if (updated < desired) return { state: "pending", message: `${updated} of ${desired} pods updated` };
      if (available < desired)
        return { state: "pending", message: `${available} of ${desired} updated pods available` };
      return { state: "ready" };
    }
    case "Job": {
      const failed = condition(obj, "Failed");
      if (failed?.status === "True")
        return {
          state: "failed",
          message: `the Job failed (${failed.reason ?? "Failed"}): ${failed.message ?? ""}`.trim(),
        };
      if (condition(obj, "Complete")?.status === "True") return { state: "ready" };
      return {
        state: "pending",
        message: `${num(status.active)} active, ${num(status.succeeded)} succeeded, ${num(status.failed)} failed pods`,
      };
    }
    case "CustomResourceDefinition":
      return condition(obj, "Established")?.status === "True"
        ? { state: "ready" }
        : { state: "pending", message: "not Established yet" };
    case "Namespace":
      return status.phase === undefined || status.phase === "Active"
        ? { state: "ready" }
        : { state: "pending", message: `phase ${String(status.phase)}` };
    default:
      return { state: "ready" };
  }
}

/** Why a pod is not running, from its container statuses (`container app: ImagePullBackOff: Back-off pulling image "x"`). */
export function podProblems(pod: KubeObject): string[] {
  const status = (pod.status ?? {}) as {
    phase?: string;
    containerStatuses?: Array<{
      name?: string;
      state?: {
        waiting?: { reason?: string; message?: string };
        terminated?: { reason?: string; exitCode?: number };
      };
    }>;
  };
  const out: string[] = [];
  for (const c of status.containerStatuses ?? []) {
    const w = c.state?.waiting;
    if (w?.reason !== undefined && w.reason !== "ContainerCreating" && w.reason !== "PodInitializing") {
      out.push(`container ${c.name}: ${w.reason}${w.message ? `: ${w.message}` : ""}`);
    }
    const t = c.state?.terminated;
    if (t !== undefined && t.exitCode !== 0)
      out.push(`container ${c.name} exited with code ${t.exitCode} (${t.reason ?? "Error"})`);
  }
  return out;
}
