/**
 * What the management handlers (group `management`, served by `runner mng`) work with: systemctl, the
 * service gate they share with the reconcile loop, where service.yml and the unit are, the update health
 * check settings and the cloud addresses. `runner mng` builds one set and hands the same gate to its reconcile
 * loop; the registry's defaults build their own from the environment.
 */
import type { Logger } from "pino";
import type { CloudOptions } from "../../cloud/detect.ts";
import { type MngOptions, mngOptionsFromEnv } from "../../mng/options.ts";
import { createServiceGate, type ServiceGate } from "../../mng/service-gate.ts";
import type { ServiceTargetOptions } from "../../mng/service-target.ts";
import { createSystemctl, type Systemctl } from "../../mng/systemctl.ts";

/** The update health check settings (see src/mng/update-health.ts). */
export interface UpdateHealthSettings {
  timeoutMs: number;
  settleMs: number;
  probeIntervalMs?: number;
  readyUrl?: string;
}

/** The management handlers' dependencies. */
export interface ManagementDeps {
  systemctl: Systemctl;
  gate: ServiceGate;
  target: ServiceTargetOptions;
  update: UpdateHealthSettings;
  cloud: CloudOptions;
  /** The environment processes (the binary's `version`) start from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The process logger, for what happens after a job ended (its job log is closed by then). */
  log?: Logger;
}

/** Builds the dependencies from the management settings; `gate` shares one with a reconcile loop. */
export function managementDeps(
  options: MngOptions,
  extra: { gate?: ServiceGate; log?: Logger; env?: NodeJS.ProcessEnv; killGraceMs?: number } = {},
): ManagementDeps {
  return {
    systemctl: createSystemctl({
      binary: options.systemctl,
      ...(extra.env !== undefined ? { env: extra.env } : {}),
      ...(extra.killGraceMs !== undefined ? { killGraceMs: extra.killGraceMs } : {}),
    }),
    gate: extra.gate ?? createServiceGate(),
    target: {
      serviceFile: options.serviceFile,
      ...(options.unitPath !== undefined ? { unitPath: options.unitPath } : {}),
    },
    update: {
      timeoutMs: options.updateHealthTimeoutMs,
      settleMs: options.updateSettleMs,
      ...(options.readyUrl !== undefined ? { readyUrl: options.readyUrl } : {}),
    },
    cloud: options.cloud,
    ...(extra.env !== undefined ? { env: extra.env } : {}),
    ...(extra.log !== undefined ? { log: extra.log } : {}),
  };
}

/** Dependencies from the environment alone (the registry's defaults); throws naming a bad variable. */
export function managementDepsFromEnv(env: NodeJS.ProcessEnv): ManagementDeps {
  return managementDeps(mngOptionsFromEnv(env), { env });
}
