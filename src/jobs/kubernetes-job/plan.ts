/**
 * The job-deploy plan: a Runner extension. Nuon's current runner treats `job-deploy` as a no-op ("job
 * components are no longer supported"); its earlier job handler ran one Kubernetes Job from a config of
 * image, tag, command, args, env vars, service account and restart policy. This runner runs that Job from a
 * DeployPlan section `kubernetes_job` (documented in docs/kubernetes.md):
 *
 * ```json
 * {"component_name": "migrate", "install_id": "…", "component_id": "…",
 *  "kubernetes_job": {
 *    "cluster_info": {…}, "namespace": "app",
 *    "image": "ghcr.io/acme/migrate", "tag": "1.2.0",
 *    "command": ["/bin/migrate"], "args": ["up"], "env_vars": {"LOG_LEVEL": "debug"},
 *    "service_account": "migrator", "backoff_limit": 0, "active_deadline_seconds": 600,
 *    "ttl_seconds_after_finished": 3600, "restart_policy": "Never", "image_pull_timeout_seconds": 300}}
 * ```
 */
import * as z from "zod";
import { ClusterInfo } from "../../kube/cluster-info.ts";

/** Default seconds a pod may stay unable to pull its image before the job fails: 300. */
export const DEFAULT_IMAGE_PULL_TIMEOUT_SECONDS = 300;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The `kubernetes_job` section. */
export const KubernetesJobSection = z.looseObject({
  cluster_info: ClusterInfo.nullish(),
  namespace: z.string().nullish(),
  /** Job name; default derived from the component name and the job id. */
  name: z.string().max(52).regex(DNS_LABEL, "must be a lowercase DNS label (a-z, 0-9, '-')").nullish(),
  image: z.string().min(1, "kubernetes_job.image is required"),
  tag: z.string().nullish(),
  container_name: z.string().regex(DNS_LABEL).nullish(),
  command: z.array(z.string()).nullish(),
  args: z.array(z.string()).nullish(),
  env_vars: z.record(z.string(), z.string()).nullish(),
  service_account: z.string().nullish(),
  /** Retries after a failed pod; default 0 (the Job fails with its first failed pod). */
  backoff_limit: z.number().int().min(0).nullish(),
  active_deadline_seconds: z.number().int().positive().nullish(),
  ttl_seconds_after_finished: z.number().int().min(0).nullish(),
  restart_policy: z.enum(["Never", "OnFailure"]).nullish(),
  image_pull_timeout_seconds: z.number().positive().nullish(),
  labels: z.record(z.string(), z.string()).nullish(),
});

/** The DeployPlan fields this handler reads. */
export const KubernetesJobDeployPlan = z.looseObject({
  install_id: z.string().nullish(),
  component_id: z.string().nullish(),
  component_name: z.string().nullish(),
  apply_plan_contents: z.string().nullish(),
  kubernetes_job: KubernetesJobSection.nullish(),
});

/** The plan, normalized. */
export interface KubernetesJobPlan {
  clusterInfo: ClusterInfo | undefined;
  namespace: string | undefined;
  name: string | undefined;
  componentName: string | undefined;
  installId: string | undefined;
  componentId: string | undefined;
  applyPlanContents: string | undefined;
  image: string;
  containerName: string;
  command: string[] | undefined;
  args: string[] | undefined;
  env: Record<string, string>;
  serviceAccount: string | undefined;
  backoffLimit: number;
  activeDeadlineSeconds: number | undefined;
  ttlSecondsAfterFinished: number | undefined;
  restartPolicy: "Never" | "OnFailure";
  imagePullTimeoutMs: number;
  labels: Record<string, string>;
}

/**
 * Parses and normalizes the raw plan; throws a ZodError naming the bad field. A plan without
 * `kubernetes_job` (what Nuon's control plane sends) gives undefined: the job is a no-op, as in Nuon.
 */
export function parseKubernetesJobPlan(raw: unknown): KubernetesJobPlan | undefined {
  const plan = KubernetesJobDeployPlan.parse(raw ?? {});
  const k = plan.kubernetes_job;
  if (k === undefined || k === null) return undefined;
  return {
    clusterInfo: k.cluster_info ?? undefined,
    namespace: k.namespace || undefined,
    name: k.name || undefined,
    componentName: plan.component_name || undefined,
    installId: plan.install_id || undefined,
    componentId: plan.component_id || undefined,
    applyPlanContents: plan.apply_plan_contents || undefined,
    image: k.tag ? `${k.image}:${k.tag}` : k.image,
    containerName: k.container_name || "main",
    command: k.command ?? undefined,
    args: k.args ?? undefined,
    env: k.env_vars ?? {},
    serviceAccount: k.service_account || undefined,
    backoffLimit: k.backoff_limit ?? 0,
    activeDeadlineSeconds: k.active_deadline_seconds ?? undefined,
    ttlSecondsAfterFinished: k.ttl_seconds_after_finished ?? undefined,
    restartPolicy: k.restart_policy ?? "Never",
    imagePullTimeoutMs: (k.image_pull_timeout_seconds ?? DEFAULT_IMAGE_PULL_TIMEOUT_SECONDS) * 1000,
    labels: k.labels ?? {},
  };
}
