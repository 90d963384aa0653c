/**
 * Heartbeats under a flood of job output: a runner with `heart_beat_timeout` shortened to 1 s runs an
 * actions-workflow job whose inline bash step writes 100 MB to stdout (base64 of 75 MB of random bytes, in
 * 76-column lines: 1.3 million log records through redaction, the spool and the OTLP shipper). The gaps
 * between heartbeats are measured as the control plane received them (`created_at`), from the last beat
 * before the claim to the first after the end. The job is followed by polling, not with a `job:updated`
 * listener (which would copy the job's logs at every change).
 */
import { msToNs, TERMINAL_JOB_STATUSES } from "../src/control-plane/schemas.ts";
import type { EmbeddedControlPlane } from "../src/mock-control-plane/server.ts";
import { delay, runnerStarted, spawnBenchRunner } from "./runner.ts";

/** Output (MB, 10^6 bytes) of base64 with 76-column lines of `randomBytes` bytes. */
export function base64OutputMb(randomBytes: number): number {
  return ((Math.ceil(randomBytes / 3) * 4) / 76) * 77 * 1e-6;
}

function floodJob(cp: EmbeddedControlPlane, runnerId: string, randomBytes: number): string {
  const job = cp.admin.enqueueJob(runnerId, {
    type: "actions-workflow",
    plan: {
      id: "bench-run",
      install_id: "bench-install",
      steps: [
        {
          id: "flood",
          name: "flood",
          interpolated_inline_contents: `#!/bin/bash\nhead -c ${randomBytes} /dev/urandom | base64\n`,
        },
      ],
    },
  });
  return job.id;
}

/** Polls until the job is terminal: its status and epoch ms of claim and end (NaN when it did not end in time). */
async function followJob(cp: EmbeddedControlPlane, jobId: string, timeoutMs: number) {
  let claimedAtMs = Number.NaN;
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    await delay(50);
    const detail = cp.admin.getJob(jobId);
    const created = detail?.executions[0]?.created_at;
    if (Number.isNaN(claimedAtMs) && created !== undefined) claimedAtMs = Date.parse(created);
    if (detail?.status !== undefined && TERMINAL_JOB_STATUSES.has(detail.status)) {
      return { status: detail.status as string, claimedAtMs, endedAtMs: Date.now() };
    }
  }
  return { status: "did not end in time", claimedAtMs, endedAtMs: Number.NaN };
}

/** What the heartbeat run measured. */
export interface HeartbeatGapResult {
  intervalMs: number;
  /** Largest gap between consecutive heartbeats received while the job ran, in ms. */
  worstGapMs: number;
  /** Heartbeats received while the job ran. */
  beats: number;
  outputMb: number;
  /** Claim → terminal status, in seconds. */
  jobSeconds: number;
  status: string;
  /** The runner's own view, `runner_heartbeat_worst_gap_seconds` of /metrics (its whole life), in ms. */
  runnerWorstGapMs: number | undefined;
}

async function metricMs(adminUrl: string, name: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${adminUrl}/metrics`)).text();
    const value = new RegExp(`^${name}\\s+(\\S+)$`, "m").exec(text)?.[1];
    return value === undefined ? undefined : Number(value) * 1000;
  } catch {
    return undefined;
  }
}

/** Runs a 100 MB job on a fresh runner with 1 s heartbeats and measures the gaps the control plane saw. */
export async function heartbeatGapUnderOutput(
  cp: EmbeddedControlPlane,
  entry: string | undefined,
  options: { randomBytes?: number; intervalMs?: number; timeoutMs?: number } = {},
): Promise<HeartbeatGapResult> {
  const intervalMs = options.intervalMs ?? 1000;
  const randomBytes = options.randomBytes ?? 75_000_000;
  const runner = await spawnBenchRunner(cp, {
    ...(entry !== undefined ? { entry } : {}),
    settings: { heart_beat_timeout: msToNs(intervalMs) },
  });
  try {
    await runnerStarted(runner);
    const adminUrl = String((await runner.waitForLog((l) => l.msg === "admin server listening")).url);
    await delay(2 * intervalMs); // the first beats, at their random offset
    const jobId = floodJob(cp, runner.runnerId, randomBytes);
    const end = await followJob(cp, jobId, options.timeoutMs ?? 90_000);
    const endMs = Number.isNaN(end.endedAtMs) ? Date.now() : end.endedAtMs;
    await delay(intervalMs * 1.6); // one beat after the end
    const startMs = Number.isNaN(end.claimedAtMs) ? endMs : end.claimedAtMs;
    const times = cp.admin
      .runnerHealth(runner.runnerId)
      .heartbeats.map((b) => Date.parse(b.created_at ?? ""))
      .filter((t) => Number.isFinite(t));
    const before = times.filter((t) => t <= startMs).at(-1) ?? Number.NEGATIVE_INFINITY;
    const after = times.find((t) => t >= endMs) ?? Number.POSITIVE_INFINITY;
    const during = times.filter((t) => t >= before && t <= after);
    let worstGapMs = during.length < 2 ? Number.NaN : 0;
    for (let i = 1; i < during.length; i++) worstGapMs = Math.max(worstGapMs, during[i]! - during[i - 1]!);
    return {
      intervalMs,
      worstGapMs,
      beats: during.length,
      outputMb: base64OutputMb(randomBytes),
      jobSeconds: (end.endedAtMs - end.claimedAtMs) / 1000,
      status: end.status,
      runnerWorstGapMs: await metricMs(adminUrl, "runner_heartbeat_worst_gap_seconds"),
    };
  } finally {
    await runner.stop();
  }
}
