/**
 * The floors a figure is compared with, measured in the same run: one loopback HTTP round trip to the
 * embedded control plane (keep-alive, through the runner's own transport), the spawn of a process (`true`, and a
 * bare `node -e 0` for what Node's own startup costs), and one journal change (a write in place, its fdatasync).
 */
import { spawn } from "node:child_process";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHttpTransport } from "../src/control-plane/transport.ts";
import { median, percentile } from "./stats.ts";

/** Round-trip samples in ms. */
export interface FloorSamples {
  p50Ms: number;
  p99Ms: number;
}

/** Times `count` sequential GETs of the runner's settings on one keep-alive connection of the runner's transport
 * (src/control-plane/transport.ts), after a warm-up. */
export async function httpRoundTripFloor(
  baseUrl: string,
  runnerId: string,
  token: string,
  count = 500,
): Promise<FloorSamples> {
  const transport = createHttpTransport({ baseUrl });
  const path = `/v1/runners/${runnerId}/settings`;
  const headers = { authorization: `Bearer ${token}` };
  const once = async () => {
    const res = await transport.request({ method: "GET", path, headers, timeoutMs: 10_000 });
    if (res.status !== 200) throw new Error(`the settings GET answered ${res.status}`);
  };
  try {
    for (let i = 0; i < 50; i++) await once();
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await once();
      samples.push(performance.now() - t0);
    }
    return { p50Ms: median(samples), p99Ms: percentile(samples, 99) };
  } finally {
    transport.close();
  }
}

function spawnOnce(file: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, args, { stdio: "ignore" });
    child.once("error", reject);
    child.once("exit", () => resolve(performance.now() - t0));
  });
}

/** Median ms from spawn to exit of `file args`, over `count` runs (after one warm-up). */
export async function spawnFloorMs(file: string, args: string[] = [], count = 20): Promise<number> {
  await spawnOnce(file, args);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) samples.push(await spawnOnce(file, args));
  return median(samples);
}

/** What one journal change costs in the temporary directory's filesystem, median ms (journal-slots.ts). */
export interface JournalWriteFloors {
  /** A write in place of a slot file (on the job's path: the claim, the outcome). */
  writeMs: number;
  /** The fdatasync that follows it (off the job's path, unless RUNNER_JOURNAL_SYNC=always). */
  datasyncMs: number;
}

/** Times `count` journal-like changes: a ~300-byte write in place at offset 0 of an open file, then fdatasync. */
export async function journalWriteFloors(count = 30): Promise<JournalWriteFloors> {
  const dir = await mkdtemp(join(tmpdir(), "runner-bench-fsync-"));
  const fh = await open(join(dir, "journal.0"), "w+", 0o600);
  try {
    const writes: number[] = [];
    const syncs: number[] = [];
    for (let i = 0; i < count; i++) {
      const data = Buffer.from(`runner-journal 2 ${i} 300 ${"0".repeat(64)}\n${"x".repeat(300)}`);
      const t0 = performance.now();
      await fh.write(data, 0, data.length, 0);
      const t1 = performance.now();
      await fh.datasync();
      writes.push(t1 - t0);
      syncs.push(performance.now() - t1);
    }
    return { writeMs: median(writes), datasyncMs: median(syncs) };
  } finally {
    await fh.close();
    await rm(dir, { recursive: true, force: true });
  }
}
