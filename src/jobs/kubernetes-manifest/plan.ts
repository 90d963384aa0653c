/**
 * The kubernetes-manifest-deploy plan (PROTOCOL.md §1.8): a DeployPlan whose `kubernetes_manifest` holds
 * `cluster_info`, `namespace` and `manifest` (multi-document YAML). Parsed with zod; a bad field is named.
 *
 * Runner extensions (not sent by Nuon's control plane):
 * - `kubernetes_manifest.force_conflicts` (default false): take over fields another field manager owns.
 *   Nuon's runner always forces; this runner stops with a 409 naming the other manager unless told to.
 * - `kubernetes_manifest.wait` (default true) and `wait_timeout_seconds` (default 300): wait for
 *   Deployments, StatefulSets, DaemonSets and Jobs to be ready after an apply.
 */
import { z } from "zod";
import { ClusterInfo } from "../../kube/cluster-info.ts";

/** Default readiness timeout: 300 s. */
export const DEFAULT_WAIT_TIMEOUT_SECONDS = 300;

/** The `kubernetes_manifest` section. */
export const KubernetesManifestSection = z.looseObject({
  cluster_info: ClusterInfo.nullish(),
  namespace: z.string().nullish(),
  manifest: z.string({ error: "kubernetes_manifest.manifest must be the manifest's YAML text" }),
  force_conflicts: z.boolean().nullish(),
  wait: z.boolean().nullish(),
  wait_timeout_seconds: z.number().positive().nullish(),
});

/** The DeployPlan fields this handler reads. */
export const KubernetesManifestDeployPlan = z.looseObject({
  install_id: z.string().nullish(),
  app_id: z.string().nullish(),
  component_id: z.string().nullish(),
  component_name: z.string().nullish(),
  apply_plan_contents: z.string().nullish(),
  kubernetes_manifest: KubernetesManifestSection,
});

/** The plan, normalized. */
export interface KubernetesManifestPlan {
  clusterInfo: ClusterInfo | undefined;
  /** Namespace for namespaced objects that name none; undefined: the cluster access's default. */
  namespace: string | undefined;
  manifest: string;
  installId: string | undefined;
  componentId: string | undefined;
  applyPlanContents: string | undefined;
  forceConflicts: boolean;
  wait: boolean;
  waitTimeoutMs: number;
}

/** Parses and normalizes the raw plan; throws a ZodError naming the bad field. */
export function parseKubernetesManifestPlan(raw: unknown): KubernetesManifestPlan {
  const plan = KubernetesManifestDeployPlan.parse(raw);
  const k = plan.kubernetes_manifest;
  return {
    clusterInfo: k.cluster_info ?? undefined,
    namespace: k.namespace || undefined,
    manifest: k.manifest,
    installId: plan.install_id || undefined,
    componentId: plan.component_id || undefined,
    applyPlanContents: plan.apply_plan_contents || undefined,
    forceConflicts: k.force_conflicts ?? false,
    wait: k.wait ?? true,
    waitTimeoutMs: (k.wait_timeout_seconds ?? DEFAULT_WAIT_TIMEOUT_SECONDS) * 1000,
  };
}
