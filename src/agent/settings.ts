/**
 * Fetching the runner settings at startup, and reading the few fields the agent uses. Nuon's runner gives
 * the settings request a single 1 s attempt and dies when it fails; here the fetch is retried with backoff
 * for `retryForMs` (default 5 minutes) — except a refused token (401/403), which no retry can fix.
 */
import type { Logger } from "pino";
import { createBackoff, sleep } from "../backoff.ts";
import type { ControlPlaneApi } from "../control-plane/api.ts";
import { isUnrecoverable } from "../control-plane/errors.ts";
import { nsToMs, type RunnerSettings } from "../control-plane/schemas.ts";
import { errorFields } from "./log-fields.ts";

/** Why the agent could not start; `exitCode` is what the command returns (2 = fix the configuration). */
export class AgentStartupError extends Error {
  override readonly name = "AgentStartupError";
  /** UNAUTHORIZED: token or runner id refused; SETTINGS_UNAVAILABLE: the control plane never answered;
   * STATE_DIR: the journal or its lock could not be used; ADMIN_SERVER: the admin address is unusable. */
  readonly code: "UNAUTHORIZED" | "SETTINGS_UNAVAILABLE" | "STATE_DIR" | "ADMIN_SERVER";
  readonly exitCode: number;
  constructor(code: AgentStartupError["code"], message: string, exitCode: number, cause?: unknown) {
    super(message, { cause });
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Default heartbeat interval when the settings carry none (Nuon's default, 5 s). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000;

/** Options of `fetchSettings`. */
export interface FetchSettingsOptions {
  /** Keep retrying for this many milliseconds (default 300 000). */
  retryForMs: number;
  log: Logger;
  /** Aborts the retries (a signal during startup). */
  signal: AbortSignal;
  /** First pause in ms; default 500. */
  initialDelayMs?: number;
  /** Longest pause in ms; default 10 000. */
  maxDelayMs?: number;
  now?: () => number;
}

/** Fetches the settings, retrying transient failures; throws AgentStartupError when it gives up. */
export async function fetchSettings(
  client: Pick<ControlPlaneApi, "getSettings">,
  options: FetchSettingsOptions,
): Promise<RunnerSettings> {
  const now = options.now ?? (() => performance.now());
  const startedAt = now();
  const backoff = createBackoff({
    initialMs: options.initialDelayMs ?? 500,
    maxMs: options.maxDelayMs ?? 10_000,
  });
  for (;;) {
    try {
      return await client.getSettings({ signal: options.signal });
    } catch (err) {
      if (isUnrecoverable(err)) {
        throw new AgentStartupError(
          "UNAUTHORIZED",
          "the control plane refused the runner's credentials (401/403): check apiToken (RUNNER_API_TOKEN) and runnerId (RUNNER_ID); the runner stops",
          2,
          err,
        );
      }
      if (options.signal.aborted) throw options.signal.reason;
      const elapsedMs = now() - startedAt;
      if (elapsedMs >= options.retryForMs) {
        throw new AgentStartupError(
          "SETTINGS_UNAVAILABLE",
          `could not fetch the runner settings for ${Math.round(elapsedMs / 1000)} s (settingsRetryMs); the runner stops so its supervisor can restart it`,
          1,
          err,
        );
      }
      const delayMs = Math.min(backoff.next(), Math.max(0, options.retryForMs - elapsedMs));
      options.log.warn({ ...errorFields(err), delayMs }, "could not fetch the runner settings; retrying");
      await sleep(delayMs, options.signal);
    }
  }
}

/** The heartbeat interval in ms: settings.heart_beat_timeout (ns) or the 5 s default; at least 100 ms. */
export function heartbeatIntervalMs(settings: RunnerSettings): number {
  const ns = settings.heart_beat_timeout;
  return ns !== undefined && ns > 0 ? Math.max(100, nsToMs(ns)) : DEFAULT_HEARTBEAT_INTERVAL_MS;
}

/** settings.job_group_parallelism[group] as a positive integer, or undefined when absent or unreadable. */
export function settingsParallelism(settings: RunnerSettings, group: string): number | undefined {
  const raw = settings.job_group_parallelism?.[group];
  const n =
    typeof raw === "number"
      ? raw
      : typeof raw === "string" && /^\s*\d+\s*$/.test(raw)
        ? Number(raw)
        : Number.NaN;
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

/** Slots of one group: the runner's own per-group setting, else the settings', else `concurrency`. */
export function groupSlots(
  group: string,
  groupConcurrency: Readonly<Record<string, number>>,
  settings: RunnerSettings,
  concurrency: number,
): number {
  return groupConcurrency[group] ?? settingsParallelism(settings, group) ?? Math.max(1, concurrency);
}
