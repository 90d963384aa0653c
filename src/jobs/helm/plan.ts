/**
 * The helm-chart-deploy plan (PROTOCOL.md §1.8): a DeployPlan whose `helm` holds `cluster_info, name,
 * namespace, create_namespace, storage_driver, helm_chart_id, values_files[], values[{name,value,type}],
 * take_ownership`. `values_files` are YAML documents (contents, not paths); `values` are `--set`-style
 * assignments, `type` "auto"/"" (typed like --set) or "string" (like --set-string).
 *
 * Runner extensions: `helm.chart` — a chart reference the helm CLI understands (a local chart directory or
 * archive, `repo/name`, `oci://…`, a URL) with optional `chart_version` and `repo_url`; Nuon's control plane
 * instead ships the chart as an OCI artifact (`src_registry` + `src_tag`, which may also be a digest),
 * fetched by chart-source.ts. `helm.wait_timeout_seconds`: helm's --timeout (default: the job's execution
 * timeout less 10 s, at least 60 s).
 */
import * as z from "zod";
import { ClusterInfo } from "../../kube/cluster-info.ts";
import { type OciSourceRef, tagOrDigest } from "../oci-source.ts";

/** One `--set` style value. */
export const HelmValue = z.looseObject({
  name: z.string().min(1),
  value: z.string(),
  type: z.string().nullish(),
});
export type HelmValue = z.infer<typeof HelmValue>;

/** The `helm` section. */
export const HelmSection = z.looseObject({
  cluster_info: ClusterInfo.nullish(),
  name: z.string().min(1, "helm.name (the release name) is required"),
  namespace: z.string().nullish(),
  create_namespace: z.boolean().nullish(),
  storage_driver: z.string().nullish(),
  helm_chart_id: z.string().nullish(),
  values_files: z.array(z.string()).nullish(),
  values: z.array(HelmValue).nullish(),
  take_ownership: z.boolean().nullish(),
  chart: z.string().min(1).nullish(),
  chart_version: z.string().nullish(),
  repo_url: z.string().nullish(),
  wait_timeout_seconds: z.number().positive().nullish(),
});

/** The DeployPlan fields this handler reads. */
export const HelmDeployPlan = z.looseObject({
  install_id: z.string().nullish(),
  component_id: z.string().nullish(),
  src_registry: z.unknown().optional(),
  src_tag: z.string().nullish(),
  apply_plan_contents: z.string().nullish(),
  helm: HelmSection,
});

/** The plan, normalized. */
export interface HelmPlan {
  clusterInfo: ClusterInfo | undefined;
  release: string;
  namespace: string | undefined;
  createNamespace: boolean;
  storageDriver: string | undefined;
  valuesFiles: string[];
  values: HelmValue[];
  takeOwnership: boolean;
  chart: string | undefined;
  chartVersion: string | undefined;
  repoUrl: string | undefined;
  waitTimeoutSeconds: number | undefined;
  srcTag: string | undefined;
  hasSrcRegistry: boolean;
  /** The chart artifact (`src_registry` + `src_tag`), when the plan has a registry. */
  source: OciSourceRef | undefined;
  applyPlanContents: string | undefined;
}

/** Parses and normalizes the raw plan; throws a ZodError naming the bad field. */
export function parseHelmPlan(raw: unknown): HelmPlan {
  const plan = HelmDeployPlan.parse(raw);
  const h = plan.helm;
  return {
    clusterInfo: h.cluster_info ?? undefined,
    release: h.name,
    namespace: h.namespace || undefined,
    createNamespace: h.create_namespace ?? false,
    storageDriver: h.storage_driver || undefined,
    valuesFiles: h.values_files ?? [],
    values: h.values ?? [],
    takeOwnership: h.take_ownership ?? false,
    chart: h.chart ?? undefined,
    chartVersion: h.chart_version || undefined,
    repoUrl: h.repo_url || undefined,
    waitTimeoutSeconds: h.wait_timeout_seconds ?? undefined,
    srcTag: plan.src_tag || undefined,
    hasSrcRegistry: plan.src_registry !== undefined && plan.src_registry !== null,
    source:
      plan.src_registry === undefined || plan.src_registry === null
        ? undefined
        : { registry: plan.src_registry, ...tagOrDigest(plan.src_tag) },
    applyPlanContents: plan.apply_plan_contents || undefined,
  };
}
