/**
 * `helm-chart-build`: the chart directory of the plan's git source, pushed the way `helm push` lays out an
 * OCI chart, so `helm pull oci://…` works on it: config `application/vnd.cncf.helm.config.v1+json` (Chart.yaml
 * as JSON) and one layer `application/vnd.cncf.helm.chart.content.v1.tar+gzip` holding `<chart name>/…`,
 * packed reproducibly. `helm_build_plan.Labels` become manifest annotations. Not done (no helm binary on the
 * runner): `.helmignore` and `helm dependency update` (vendored `charts/` are packed as they are), and charts
 * from a Helm repository (`HelmRepoConfig`), which fail saying so.
 */
import { HELM_CHART_CONFIG, HELM_CHART_LAYER } from "../../../sources/oci/media-types.ts";
import type { JobHandler } from "../../handler.ts";
import { sortedRecord } from "../outputs.ts";
import { createPackageBuildHandler, type PackageBuildOptions } from "../package-handler.ts";
import type { BuildPlan } from "../plan.ts";
import { readChartMetadata } from "./chart.ts";

/** Creates the helm-chart-build handler. */
export function createHelmChartBuildHandler(options: PackageBuildOptions = {}): JobHandler<BuildPlan> {
  const handler = createPackageBuildHandler(
    {
      name: "helm-chart-build",
      async describe(plan, sourceDir) {
        const chart = await readChartMetadata(sourceDir);
        const labels = sortedRecord(plan.helm_build_plan?.Labels);
        return {
          prefix: chart.name,
          layerMediaType: HELM_CHART_LAYER,
          config: { mediaType: HELM_CHART_CONFIG, bytes: Buffer.from(JSON.stringify(chart)) },
          labels,
        };
      },
    },
    options,
  );
  const fetch = handler.fetch;
  return {
    ...handler,
    async fetch(ctx) {
      const repoConfig = ctx.plan.helm_build_plan?.HelmRepoConfig;
      const building =
        ctx.plan.sandbox_mode?.enabled !== true && !ctx.plan.git_source && options.localDir === undefined;
      if (building && repoConfig !== undefined && repoConfig !== null) {
        throw new Error(
          "building a chart from a Helm repository (helm_build_plan.HelmRepoConfig) is not supported yet; give the chart as git_source",
        );
      }
      await fetch?.(ctx);
    },
  };
}
