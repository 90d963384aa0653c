/**
 * The management process's own settings, from the environment (every one optional). Kept apart from the
 * runner configuration because they describe the machine (systemctl, unit and service.yml paths, the update
 * health check), not the agent. A bad value throws a UsageError naming the variable (exit 2).
 */
import { UsageError } from "../cli/args.ts";
import { type CloudOptions, cloudOptionsFromEnv } from "../cloud/detect.ts";
import { parseDurationMs } from "../config/duration.ts";
import { DEFAULT_RECONCILE_INTERVAL_MS } from "./reconcile.ts";
import { DEFAULT_SERVICE_FILE } from "./service-target.ts";
import { DEFAULT_UPDATE_HEALTH_TIMEOUT_MS, DEFAULT_UPDATE_SETTLE_MS } from "./update-health.ts";

/** Default admin port of `runner mng` (the runner service keeps 5000): 5001. */
export const DEFAULT_MNG_ADMIN_PORT = 5001;

/** The management settings. */
export interface MngOptions {
  /** `RUNNER_SYSTEMCTL`: the systemctl executable; default "systemctl". */
  systemctl: string;
  /** `RUNNER_SERVICE_FILE`: the service definition; default /etc/runner/service.yml (defaults if missing). */
  serviceFile: string;
  /** `RUNNER_UNIT_PATH`: the unit file; default /etc/systemd/system/<name>.service (runner.service). */
  unitPath?: string;
  /** `RUNNER_RECONCILE_INTERVAL`: pause between reconcile passes in ms; default 15 000. */
  reconcileIntervalMs: number;
  /** `RUNNER_UPDATE_HEALTH_TIMEOUT`: how long a new version has to become healthy, in ms; default 120 000. */
  updateHealthTimeoutMs: number;
  /** `RUNNER_UPDATE_SETTLE`: how long the service must stay active after an update, in ms; default 10 000. */
  updateSettleMs: number;
  /**
   * `RUNNER_UPDATE_READY_URL`: the runner's readiness URL probed after an update; default
   * http://127.0.0.1:<RUNNER_ADMIN_PORT or 5000>/readyz; `off` disables the probe.
   */
  readyUrl?: string;
  /** `RUNNER_MNG_ADMIN_PORT`: where `runner mng` serves /healthz, /readyz, /metrics; default 5001. */
  adminPort: number;
  /** `RUNNER_CLOUD` (aws | azure) forces the cloud mng-vm-shut-down stops; default detected. */
  cloud: CloudOptions;
}

function duration(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const ms = parseDurationMs(raw);
  if (ms === undefined || ms <= 0)
    throw new UsageError(`${name} must be a duration such as "15s" or "2m", got "${raw}"`);
  return ms;
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65_535) {
    throw new UsageError(`${name} must be a port number from 0 to 65535, got "${raw}"`);
  }
  return value;
}

function path(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  if (!raw.startsWith("/")) throw new UsageError(`${name} must be an absolute path, got "${raw}"`);
  return raw;
}

/** Reads the management settings from `env`; throws UsageError naming a bad variable. */
export function mngOptionsFromEnv(env: NodeJS.ProcessEnv): MngOptions {
  const unitPath = path(env, "RUNNER_UNIT_PATH");
  const ready = env.RUNNER_UPDATE_READY_URL?.trim();
  let readyUrl: string | undefined;
  if (ready === undefined || ready === "") {
    readyUrl = `http://127.0.0.1:${port(env, "RUNNER_ADMIN_PORT", 5000)}/readyz`;
  } else if (ready !== "off") {
    if (!/^https?:\/\//.test(ready))
      throw new UsageError(`RUNNER_UPDATE_READY_URL must be an http(s) URL or "off"`);
    readyUrl = ready;
  }
  let cloud: CloudOptions;
  try {
    cloud = cloudOptionsFromEnv(env);
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
  return {
    systemctl: env.RUNNER_SYSTEMCTL?.trim() || "systemctl",
    serviceFile: path(env, "RUNNER_SERVICE_FILE") ?? DEFAULT_SERVICE_FILE,
    ...(unitPath !== undefined ? { unitPath } : {}),
    reconcileIntervalMs: duration(env, "RUNNER_RECONCILE_INTERVAL", DEFAULT_RECONCILE_INTERVAL_MS),
    updateHealthTimeoutMs: duration(env, "RUNNER_UPDATE_HEALTH_TIMEOUT", DEFAULT_UPDATE_HEALTH_TIMEOUT_MS),
    updateSettleMs: duration(env, "RUNNER_UPDATE_SETTLE", DEFAULT_UPDATE_SETTLE_MS),
    ...(readyUrl !== undefined ? { readyUrl } : {}),
    adminPort: port(env, "RUNNER_MNG_ADMIN_PORT", DEFAULT_MNG_ADMIN_PORT),
    cloud,
  };
}
