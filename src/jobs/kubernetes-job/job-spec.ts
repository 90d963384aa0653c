/**
 * The Kubernetes Job object a job-deploy plan describes (pure). It carries the label
 * `runner.nuon.co/job-id` (the control plane's job id) so that a runner restarted mid-job finds the Job it
 * started and follows it instead of starting a second one (a restarted runner gets a new execution, so
 * the execution id cannot be the key; it is kept in `runner.nuon.co/execution-id` for reference).
 */
import { createHash } from "node:crypto";
import type { KubeObject } from "../../kube/client.ts";
import type { KubernetesJobPlan } from "./plan.ts";

/** Label holding the control plane's job id. */
export const JOB_ID_LABEL = "runner.nuon.co/job-id";
/** Label holding the execution that created the Job. */
export const EXECUTION_ID_LABEL = "runner.nuon.co/execution-id";

/** A label value: at most 63 characters of [A-Za-z0-9._-], starting and ending alphanumeric. */
export function labelValue(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 63);
  return cleaned.replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "");
}

/** The Job's name: the plan's, else `<component>-<hash of the execution id>` (a lowercase DNS label). */
export function jobName(plan: KubernetesJobPlan, executionId: string): string {
  if (plan.name !== undefined) return plan.name;
  const base =
    (plan.componentName ?? "job")
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 40) || "job";
  const suffix = createHash("sha256").update(executionId).digest("hex").slice(0, 8);
  return `${base}-${suffix}`;
}

/** Builds the Job. */
export function buildJob(
  plan: KubernetesJobPlan,
  args: { name: string; namespace: string; jobId: string; executionId: string },
): KubeObject {
  const labels: Record<string, string> = {
    ...plan.labels,
    "app.kubernetes.io/managed-by": "nuon-runner",
    [JOB_ID_LABEL]: labelValue(args.jobId),
    [EXECUTION_ID_LABEL]: labelValue(args.executionId),
    ...(plan.installId ? { "nuon.co/install-id": labelValue(plan.installId) } : {}),
    ...(plan.componentId ? { "nuon.co/component-id": labelValue(plan.componentId) } : {}),
  };
  const env = Object.entries(plan.env).map(([name, value]) => ({ name, value }));
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: args.name, namespace: args.namespace, labels },
    spec: {
      backoffLimit: plan.backoffLimit,
      ...(plan.activeDeadlineSeconds !== undefined
        ? { activeDeadlineSeconds: plan.activeDeadlineSeconds }
        : {}),
      ...(plan.ttlSecondsAfterFinished !== undefined
        ? { ttlSecondsAfterFinished: plan.ttlSecondsAfterFinished }
        : {}),
      template: {
        metadata: { labels: { [JOB_ID_LABEL]: labelValue(args.jobId) } },
        spec: {
          restartPolicy: plan.restartPolicy,
          ...(plan.serviceAccount !== undefined ? { serviceAccountName: plan.serviceAccount } : {}),
          containers: [
            {
              name: plan.containerName,
              image: plan.image,
              ...(plan.command !== undefined ? { command: plan.command } : {}),
              ...(plan.args !== undefined ? { args: plan.args } : {}),
              ...(env.length > 0 ? { env } : {}),
            },
          ],
        },
      },
    },
  };
}
