/**
 * What a Job's status means for the runner's job (pure): running, succeeded, or failed with a sentence
 * naming the Job and why — backoff limit exceeded, deadline exceeded, or another Failed reason — plus
 * pods stuck unable to pull their image.
 */
import type { KubeObject } from "../../kube/client.ts";

/** The state of a Job. */
export type JobState =
  | { state: "running" }
  | { state: "succeeded" }
  | { state: "failed"; reason: string; message: string };

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

/** Reads a Job's state from its conditions. */
export function jobState(job: KubeObject): JobState {
  const status = (job.status ?? {}) as { conditions?: Condition[]; failed?: number };
  const spec = (job.spec ?? {}) as { backoffLimit?: number; activeDeadlineSeconds?: number };
  const conditions = status.conditions ?? [];
  const who = `Job ${job.metadata.namespace}/${job.metadata.name}`;
  if (conditions.some((c) => c.type === "Complete" && c.status === "True")) return { state: "succeeded" };
  const failed = conditions.find((c) => c.type === "Failed" && c.status === "True");
  if (failed === undefined) return { state: "running" };
  const reason = failed.reason ?? "Failed";
  if (reason === "BackoffLimitExceeded") {
    const limit = spec.backoffLimit ?? 6;
    return {
      state: "failed",
      reason,
      message: `${who} failed: ${status.failed ?? limit + 1} pod(s) failed, more than its backoff limit of ${limit} (BackoffLimitExceeded)`,
    };
  }
  if (reason === "DeadlineExceeded") {
    return {
      state: "failed",
      reason,
      message: `${who} failed: it ran longer than its deadline of ${spec.activeDeadlineSeconds ?? "?"}s (DeadlineExceeded)`,
    };
  }
  return {
    state: "failed",
    reason,
    message: `${who} failed (${reason})${failed.message ? `: ${failed.message}` : ""}`,
  };
}

/** Reasons a container waits that mean its image cannot be used. */
export const IMAGE_FAILURES: ReadonlySet<string> = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
]);

/** The first container of `pod` waiting because its image cannot be pulled, with the reason and message. */
export function imagePullFailure(
  pod: KubeObject,
): { container: string; reason: string; message: string } | undefined {
  const statuses =
    (
      pod.status as
        | {
            containerStatuses?: Array<{
              name?: string;
              image?: string;
              state?: { waiting?: { reason?: string; message?: string } };
            }>;
          }
        | undefined
    )?.containerStatuses ?? [];
  for (const c of statuses) {
    const w = c.state?.waiting;
    if (w?.reason !== undefined && IMAGE_FAILURES.has(w.reason)) {
      return {
        container: c.name ?? "",
        reason: w.reason,
        message: w.message ?? `cannot pull image ${c.image ?? ""}`.trim(),
      };
    }
  }
  return undefined;
}

/** Exit codes of a pod's terminated containers, e.g. `main exited 2`. */
export function exitSummary(pod: KubeObject): string[] {
  const statuses =
    (
      pod.status as
        | {
            containerStatuses?: Array<{
              name?: string;
              state?: { terminated?: { exitCode?: number; reason?: string } };
            }>;
          }
        | undefined
    )?.containerStatuses ?? [];
  return statuses
    .filter((c) => c.state?.terminated !== undefined)
    .map((c) => `${c.name} exited ${c.state?.terminated?.exitCode} (${c.state?.terminated?.reason ?? "?"})`);
}
