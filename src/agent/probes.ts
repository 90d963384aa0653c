/**
 * The admin probes, as pure functions of the agent's state: `/healthz` (liveness: no job loop is stuck) and
 * `/readyz` (readiness: settings fetched and running).
 */
import type { ProbeResult } from "../telemetry/admin-server.ts";
import type { JobLoopHealth } from "./job-loop.ts";
import type { AgentState } from "./lifecycle.ts";

/**
 * Healthy unless stopped or, while running, a loop has neither asked for work nor had all its slots busy
 * for longer than `windowMs`. A draining agent's loops stopped on purpose, so they never count as stuck.
 */
export function healthProbe(
  state: AgentState,
  loops: readonly JobLoopHealth[],
  windowMs: number,
): ProbeResult {
  const stuck =
    state === "running" ? loops.filter((h) => h.sinceLastCheckMs > windowMs).map((h) => h.group) : [];
  const ok = state !== "stopped" && stuck.length === 0;
  return {
    ok,
    body: {
      status: ok ? "ok" : "unhealthy",
      state,
      ...(stuck.length > 0 ? { stuck, message: `job loops not checking for work: ${stuck.join(", ")}` } : {}),
      loops: Object.fromEntries(
        loops.map((h) => [
          h.group,
          { sinceLastCheckMs: Math.round(h.sinceLastCheckMs), busy: h.busy, mode: h.mode },
        ]),
      ),
    },
  };
}

/** Ready when the settings were fetched and the agent is running (503 while starting and draining). */
export function readyProbe(state: AgentState, settingsFetched: boolean): ProbeResult {
  const ok = settingsFetched && state === "running";
  return { ok, body: { status: ok ? "ready" : "not-ready", state, settingsFetched } };
}
