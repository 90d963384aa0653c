/**
 * Did the runner come back healthy on its new binary? The control plane cannot say: its runner API offers no
 * read of a runner's heartbeats or of the processes registered by others (GET /v1/runners/{id} carries no
 * version), so the management process checks on the machine itself, until `timeoutMs`:
 *
 * - the binary on disk reports the expected version (`<binary> version -o json`);
 * - `systemctl is-active` says `active` on every probe for `settleMs` in a row (a binary that crashes at
 *   start flips to `activating`/`failed` under Restart=always and resets the count);
 * - when a ready URL is set, the runner's own `/readyz` answers 200: it fetched its settings from the
 *   control plane and runs its loops, which is when its heartbeats (carrying the new `version`) flow.
 */
import { request } from "undici";
import { readBinaryVersion } from "./binary-version.ts";
import type { Systemctl } from "./systemctl.ts";

/** Default time the new version has to become healthy: 2 min (`RUNNER_UPDATE_HEALTH_TIMEOUT`). */
export const DEFAULT_UPDATE_HEALTH_TIMEOUT_MS = 120_000;
/** Default time the service must stay active: 10 s (`RUNNER_UPDATE_SETTLE`). */
export const DEFAULT_UPDATE_SETTLE_MS = 10_000;
/** Default pause between probes: 1 s. */
export const DEFAULT_HEALTH_PROBE_INTERVAL_MS = 1_000;

/** What the check needs. */
export interface HealthCheckOptions {
  systemctl: Systemctl;
  unit: string;
  binary: string;
  /** The version the binary must report; any version when absent. */
  expectedVersion?: string;
  /** The runner's readiness URL (e.g. http://127.0.0.1:5000/readyz); not probed when absent. */
  readyUrl?: string;
  timeoutMs: number;
  settleMs: number;
  probeIntervalMs?: number;
  signal?: AbortSignal;
}

/** The verdict. */
export type HealthResult =
  | { healthy: true; version: string; elapsedMs: number }
  | { healthy: false; reason: string; elapsedMs: number };

async function readyStatus(url: string, timeoutMs: number): Promise<number | string> {
  try {
    const res = await request(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    await res.body.dump();
    return res.statusCode;
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/** Probes until healthy or `timeoutMs` passed; never throws for an unhealthy service (the result says why). */
export async function waitForHealthyRunner(options: HealthCheckOptions): Promise<HealthResult> {
  const startedAt = performance.now();
  const elapsed = () => Math.round(performance.now() - startedAt);
  const interval = options.probeIntervalMs ?? DEFAULT_HEALTH_PROBE_INTERVAL_MS;
  const opts = options.signal !== undefined ? { signal: options.signal } : {};
  let version: string;
  try {
    version = await readBinaryVersion(options.binary, opts);
  } catch (err) {
    return { healthy: false, reason: (err as Error).message, elapsedMs: elapsed() };
  }
  if (options.expectedVersion !== undefined && version !== options.expectedVersion) {
    return {
      healthy: false,
      reason: `${options.binary} reports version ${version}, expected ${options.expectedVersion}`,
      elapsedMs: elapsed(),
    };
  }
  let activeSince: number | undefined;
  let reason = "not probed yet";
  for (;;) {
    if (options.signal?.aborted)
      return { healthy: false, reason: "the check was aborted", elapsedMs: elapsed() };
    const state = await options.systemctl.isActive(options.unit, opts);
    const now = performance.now();
    if (state === "active") activeSince ??= now;
    else {
      activeSince = undefined;
      reason = `${options.unit} is ${state}`;
    }
    let ready = true;
    if (options.readyUrl !== undefined && state === "active") {
      const status = await readyStatus(options.readyUrl, Math.max(500, Math.min(interval * 2, 5_000)));
      ready = status === 200;
      if (!ready)
        reason = `${options.readyUrl} answered ${status}, not 200 (the runner is not running its loops)`;
    }
    if (activeSince !== undefined && ready) {
      const activeMs = performance.now() - activeSince;
      if (activeMs >= options.settleMs) return { healthy: true, version, elapsedMs: elapsed() };
      reason = `${options.unit} has been active for only ${Math.round(activeMs)} ms of ${options.settleMs}`;
    }
    const left = options.timeoutMs - elapsed();
    if (left <= 0) return { healthy: false, reason, elapsedMs: elapsed() };
    await sleep(Math.min(interval, left), options.signal);
  }
}
