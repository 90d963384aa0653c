/**
 * Job type → handler factory. The table is checked with `satisfies` against the wire's job types, so a typo
 * in a key fails the typecheck. A type missing here still gets claimed and failed with a message naming it.
 */
import type { JobType } from "../control-plane/schemas.ts";
import type { Redactor } from "../logs/redact.ts";
import type { HandlerFactory } from "./handler.ts";
import { createHealthCheckHandler } from "./operations/health-check.ts";
import { createNoopHandler } from "./operations/noop.ts";
import { createShutDownHandler } from "./operations/shut-down.ts";
import type { TerraformHandlerOptions } from "./terraform/handler.ts";

/**
 * The built-in handlers, by job type. Handler modules load on the first job of their type (their SDKs —
 * Kubernetes, AWS, Azure — would otherwise cost the runner most of a second at every start).
 */
export const HANDLERS = {
  noop: createNoopHandler,
  "health-check": createHealthCheckHandler,
  "shut-down": () => createShutDownHandler("shut-down"),
  "update-version": () => createShutDownHandler("update-version"),
  "actions-workflow": async () => (await import("./actions/handler.ts")).createActionsWorkflowHandler(),
  // Without the runner token; createHandlerRegistry(…, { apiToken }) rebuilds these with it.
  "terraform-deploy": () => terraform({ variant: "deploy" }),
  "sandbox-terraform": () => terraform({ variant: "sandbox" }),
  "terraform-module-build": async () =>
    (await import("./build/terraform-module/handler.ts")).createTerraformModuleBuildHandler(),
  "helm-chart-build": async () =>
    (await import("./build/helm-chart/handler.ts")).createHelmChartBuildHandler(),
  "container-image-build": async () =>
    (await import("./build/container-image/handler.ts")).createContainerImageBuildHandler(),
  "docker-build": async () => (await import("./build/docker/handler.ts")).createDockerBuildHandler(),
  "oci-sync": async () => (await import("./sync/oci/handler.ts")).createOciSyncHandler(),
  // Management (runner mng): from the environment here; `runner mng` passes its own, sharing its service gate.
  "mng-shut-down": async () =>
    (await import("./management/shut-down.ts")).createMngShutDownHandler(await managementDeps()),
  "mng-runner-restart": async () =>
    (await import("./management/restart.ts")).createMngRunnerRestartHandler(await managementDeps()),
  "mng-runner-update-version": async () =>
    (await import("./management/update-version.ts")).createMngUpdateVersionHandler(await managementDeps()),
  "mng-vm-shut-down": async () =>
    (await import("./management/vm-shut-down.ts")).createMngVmShutDownHandler(await managementDeps()),
  "kubernetes-manifest-deploy": async () =>
    (await import("./kubernetes-manifest/handler.ts")).createKubernetesManifestHandler(),
  "job-deploy": async () => (await import("./kubernetes-job/handler.ts")).createKubernetesJobHandler(),
  "helm-chart-deploy": async () => (await import("./helm/handler.ts")).createHelmHandler(),
  "sandbox-sync-secrets": async () => (await import("./sync-secrets/handler.ts")).createSyncSecretsHandler(),
} satisfies Partial<Record<JobType, HandlerFactory>>;

async function terraform(options: TerraformHandlerOptions) {
  return (await import("./terraform/handler.ts")).createTerraformHandler(options);
}

async function managementDeps() {
  return (await import("./management/deps.ts")).managementDepsFromEnv(process.env);
}

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
  const terraformDeps = {
    ...(deps.apiToken !== undefined ? { apiToken: deps.apiToken } : {}),
    ...(deps.redactor !== undefined ? { redactor: deps.redactor } : {}),
  };
  const withDeps: Partial<Record<JobType, HandlerFactory>> = {
    "terraform-deploy": () => terraform({ ...terraformDeps, variant: "deploy" }),
    "sandbox-terraform": () => terraform({ ...terraformDeps, variant: "sandbox" }),
  };
  const redactor = deps.redactor;
  if (redactor !== undefined) {
    // Cluster credentials the Kubernetes handlers use are registered with the runner-wide redactor.
    withDeps["kubernetes-manifest-deploy"] = async () =>
      (await import("./kubernetes-manifest/handler.ts")).createKubernetesManifestHandler({ redactor });
    withDeps["job-deploy"] = async () =>
      (await import("./kubernetes-job/handler.ts")).createKubernetesJobHandler({ redactor });
    withDeps["helm-chart-deploy"] = async () =>
      (await import("./helm/handler.ts")).createHelmHandler({ redactor });
    withDeps["sandbox-sync-secrets"] = async () =>
      (await import("./sync-secrets/handler.ts")).createSyncSecretsHandler({ redactor });
  }
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
