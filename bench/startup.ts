/**
 * Startup and idle footprint: time from spawning the runner to its first ask for work (the first
 * `TailRunnerJobs` request the control plane received; a fresh control plane per sample, since it keeps the
 * first request of each operation), and the resident set size after the runner sat idle a few seconds, next
 * to the floor: a bare `node` process sitting idle.
 */
import { spawn } from "node:child_process";
import type { EmbeddedControlPlane } from "../src/mock-control-plane/server.ts";
import { startControlPlane } from "../src/mock-control-plane/server.ts";
import { anonRssMb, delay, NODE, rssMb, runnerStarted, spawnBenchRunner } from "./runner.ts";
import { median } from "./stats.ts";

/** The operation a job loop asks with (long-poll on). */
const FIRST_POLL_OPERATION = "TailRunnerJobs";

/** Spawns `samples` runners one after another; milliseconds from spawn to the first ask, each. */
export async function firstPollSamples(entry: string | undefined, samples = 3): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    const cp = await startControlPlane();
    const runner = await spawnBenchRunner(cp, entry !== undefined ? { entry } : {});
    try {
      await runnerStarted(runner);
      const deadline = performance.now() + 5000;
      let at = cp.stats().firstRequestAtMs[FIRST_POLL_OPERATION];
      while (at === undefined) {
        if (performance.now() > deadline) throw new Error("the runner started but never asked for work");
        await delay(5);
        at = cp.stats().firstRequestAtMs[FIRST_POLL_OPERATION];
      }
      out.push(at - runner.spawnedAtMs);
    } finally {
      await runner.stop();
      await cp.close();
    }
  }
  return out;
}

/** The idle RSS (MB) of a bare `node` waiting on a timer, after `idleMs` (the floor of the runner's). */
export async function bareNodeRssMb(idleMs = 2000): Promise<number> {
  const child = spawn(NODE, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
  try {
    await delay(idleMs);
    return rssMb(child.pid ?? -1);
  } finally {
    child.kill("SIGKILL");
  }
}

/** The runner's RSS (MB) sampled `samples` times, 200 ms apart, after `idleMs` of idling: the median. */
export async function idleRssMb(pid: number, idleMs = 3000, samples = 5): Promise<number> {
  await delay(idleMs);
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    values.push(rssMb(pid));
    await delay(200);
  }
  return median(values);
}

/** One runner's idle footprint, MB: the RSS (median of its samples) and the anonymous part of it. */
export interface IdleFootprint {
  rssMb: number;
  anonMb: number;
}

/** The idle footprint of a runner that is up: idleRssMb, then its anonymous part. */
export async function idleFootprint(pid: number): Promise<IdleFootprint> {
  const rss = await idleRssMb(pid);
  return { rssMb: rss, anonMb: anonRssMb(pid) };
}

/** The idle footprints of `count` fresh runners against `cp`, one after another. */
export async function freshIdleFootprints(
  cp: EmbeddedControlPlane,
  entry: string | undefined,
  count: number,
): Promise<IdleFootprint[]> {
  const out: IdleFootprint[] = [];
  for (let i = 0; i < count; i++) {
    const runner = await spawnBenchRunner(cp, entry !== undefined ? { entry } : {});
    try {
      await runnerStarted(runner);
      out.push(await idleFootprint(runner.pid));
    } finally {
      await runner.stop();
    }
  }
  return out;
}
