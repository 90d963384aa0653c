/**
 * Job type → handler factory. The table is checked with `satisfies` against the wire's job types, so a typo
 * in a key fails the typecheck. A type missing here still gets claimed and failed with a message naming it.
 */
import type { JobType } from "../control-plane/schemas.ts";
import type { Redactor } from "../logs/redact.ts";
import { createActionsWorkflowHandler } from "./actions/handler.ts";
import { createContainerImageBuildHandler } from "./build/container-image/handler.ts";
import { createDockerBuildHandler } from "./build/docker/handler.ts";
import { createHelmChartBuildHandler } from "./build/helm-chart/handler.ts";
import { createTerraformModuleBuildHandler } from "./build/terraform-module/handler.ts";
import type { HandlerFactory } from "./handler.ts";
import { createHelmHandler } from "./helm/handler.ts";
import { createKubernetesJobHandler } from "./kubernetes-job/handler.ts";
import { createKubernetesManifestHandler } from "./kubernetes-manifest/handler.ts";
import { managementDepsFromEnv } from "./management/deps.ts";
import { createMngRunnerRestartHandler } from "./management/restart.ts";
import { createMngShutDownHandler } from "./management/shut-down.ts";
import { createMngUpdateVersionHandler } from "./management/update-version.ts";
import { createMngVmShutDownHandler } from "./management/vm-shut-down.ts";
import { createHealthCheckHandler } from "./operations/health-check.ts";
import { createNoopHandler } from "./operations/noop.ts";
import { createShutDownHandler } from "./operations/shut-down.ts";
import { createOciSyncHandler } from "./sync/oci/handler.ts";
import { createTerraformHandler, terraformHandlerFactories } from "./terraform/handler.ts";

/** The built-in handlers, by job type. */
export const HANDLERS = {
  noop: createNoopHandler,
  "health-check": createHealthCheckHandler,
  "shut-down": () => createShutDownHandler("shut-down"),
  "update-version": () => createShutDownHandler("update-version"),
  "actions-workflow": () => createActionsWorkflowHandler(),
  // Without the runner token; createHandlerRegistry(…, { apiToken }) rebuilds these with it.
  "terraform-deploy": () => createTerraformHandler({ variant: "deploy" }),
  "sandbox-terraform": () => createTerraformHandler({ variant: "sandbox" }),
  "terraform-module-build": () => createTerraformModuleBuildHandler(),
  "helm-chart-build": () => createHelmChartBuildHandler(),
  "container-image-build": () => createContainerImageBuildHandler(),
  "docker-build": () => createDockerBuildHandler(),
  "oci-sync": () => createOciSyncHandler(),
  // Management (runner mng): from the environment here; `runner mng` passes its own, sharing its service gate.
  "mng-shut-down": () => createMngShutDownHandler(managementDepsFromEnv(process.env)),
  "mng-runner-restart": () => createMngRunnerRestartHandler(managementDepsFromEnv(process.env)),
  "mng-runner-update-version": () => createMngUpdateVersionHandler(managementDepsFromEnv(process.env)),
  "mng-vm-shut-down": () => createMngVmShutDownHandler(managementDepsFromEnv(process.env)),
  "kubernetes-manifest-deploy": () => createKubernetesManifestHandler(),
  "job-deploy": () => createKubernetesJobHandler(),
  "helm-chart-deploy": () => createHelmHandler(),
} satisfies Partial<Record<JobType, HandlerFactory>>;

/** Looks up handlers by job type. */
export interface HandlerRegistry {
  /** The factory for `type`, or undefined when this runner has no handler for it. */
  find(type: string | undefined): HandlerFactory | undefined;
  /** Every type this registry handles. */
  types(): string[];
}

/** What handlers get from the runner itself. */
export interface HandlerDeps {
  /** The runner's token: terraform's http backend authenticates with it (never in argv or logs). */
  apiToken?: string;
  /** The runner-wide redactor (the token and other secrets already registered). */
  redactor?: Redactor;
}

/**
 * Creates a registry of the built-in handlers, built with `deps`, plus `extra` (extra wins on a clash).
 */
export function createHandlerRegistry(
  extra: Partial<Record<JobType, HandlerFactory>> = {},
  deps: HandlerDeps = {},
): HandlerRegistry {
  const withDeps: Partial<Record<JobType, HandlerFactory>> = {
    ...terraformHandlerFactories({
      ...(deps.apiToken !== undefined ? { apiToken: deps.apiToken } : {}),
      ...(deps.redactor !== undefined ? { redactor: deps.redactor } : {}),
    }),
  };
  const table = new Map<string, HandlerFactory>(
    Object.entries({ ...HANDLERS, ...withDeps, ...extra }) as Array<[string, HandlerFactory]>,
  );
  return {
    find(type) {
      return type === undefined ? undefined : table.get(type);
    },
    types() {
      return [...table.keys()];
    },
  };
}
