/**
 * The kubernetes-manifest-deploy plan (PROTOCOL.md §1.8): a DeployPlan whose `kubernetes_manifest` holds
 * `cluster_info`, `namespace` and `manifest` (multi-document YAML). Parsed with zod; a bad field is named.
 *
 * Since 2026 the manifest may instead come from an OCI artifact, pulled at initialize (manifest-source.ts):
 * `kubernetes_manifest.manifest` is then empty and `kubernetes_manifest.oci_artifact {url, tag, digest}` says
 * which artifact. As Nuon's runner does, the DeployPlan's `src_registry` (with its credentials) and `src_tag`
 * name the repository and tag; `oci_artifact.digest` pins the artifact when given, `oci_artifact.url` and
 * `.tag` stand in when `src_registry` / `src_tag` are absent. A non-empty `manifest` always wins.
 *
 * Runner extensions (not sent by Nuon's control plane):
 * - `kubernetes_manifest.force_conflicts` (default false): take over fields another field manager owns.
 *   Nuon's runner always forces; this runner stops with a 409 naming the other manager unless told to.
 * - `kubernetes_manifest.wait` (default true) and `wait_timeout_seconds` (default 300): wait for
 *   Deployments, StatefulSets, DaemonSets and Jobs to be ready after an apply.
 */
import * as z from "zod";
import { ClusterInfo } from "../../kube/cluster-info.ts";
import { type OciSourceRef, tagOrDigest } from "../oci-source.ts";

/** Default readiness timeout: 300 s. */
export const DEFAULT_WAIT_TIMEOUT_SECONDS = 300;

/** The `kubernetes_manifest` section. */
export const KubernetesManifestSection = z.looseObject({
  cluster_info: ClusterInfo.nullish(),
  namespace: z.string().nullish(),
  manifest: z.string({ error: "kubernetes_manifest.manifest must be the manifest's YAML text" }).nullish(),
  oci_artifact: z
    .looseObject({ url: z.string().nullish(), tag: z.string().nullish(), digest: z.string().nullish() })
    .nullish(),
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
  src_registry: z.unknown().optional(),
  src_tag: z.string().nullish(),
  kubernetes_manifest: KubernetesManifestSection,
});

/** The plan, normalized. */
export interface KubernetesManifestPlan {
  clusterInfo: ClusterInfo | undefined;
  /** Namespace for namespaced objects that name none; undefined: the cluster access's default. */
  namespace: string | undefined;
  /** The manifest's YAML; empty when it is pulled from `source` at initialize. */
  manifest: string;
  /** The artifact holding the manifest, when the plan has no inline manifest. */
  source: OciSourceRef | undefined;
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
  const manifest = k.manifest ?? "";
  const source = manifest.trim() === "" ? manifestSource(plan) : undefined;
  if (manifest.trim() === "" && source === undefined) {
    throw new Error(
      "kubernetes_manifest.manifest is empty and the plan names no artifact to pull it from (kubernetes_manifest.oci_artifact or src_registry)",
    );
  }
  return {
    clusterInfo: k.cluster_info ?? undefined,
    namespace: k.namespace || undefined,
    manifest,
    source,
    installId: plan.install_id || undefined,
    componentId: plan.component_id || undefined,
    applyPlanContents: plan.apply_plan_contents || undefined,
    forceConflicts: k.force_conflicts ?? false,
    wait: k.wait ?? true,
    waitTimeoutMs: (k.wait_timeout_seconds ?? DEFAULT_WAIT_TIMEOUT_SECONDS) * 1000,
  };
}

/** The artifact the manifest is pulled from (see the module comment), or undefined when the plan names none. */
function manifestSource(plan: z.infer<typeof KubernetesManifestDeployPlan>): OciSourceRef | undefined {
  const artifact = plan.kubernetes_manifest.oci_artifact ?? undefined;
  const hasRegistry = plan.src_registry !== undefined && plan.src_registry !== null;
  const url = artifact?.url?.trim().replace(/^oci:\/\//, "") || undefined;
  if (!hasRegistry && url === undefined) return undefined;
  const registry = hasRegistry ? plan.src_registry : { Repository: url };
  const fromTag = tagOrDigest(plan.src_tag || artifact?.tag);
  const digest = artifact?.digest?.trim() || fromTag.digest;
  return { registry, ...(digest ? { digest } : {}), ...(fromTag.tag ? { tag: fromTag.tag } : {}) };
}
