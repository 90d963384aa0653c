/**
 * The floors a figure is compared with, measured in the same run: one loopback HTTP round trip to the
 * embedded control plane (keep-alive, as the runner's client), the spawn of a process (`true`, and a bare
 * `node -e 0` for what Node's own startup costs), and one durable atomic file write (what a journal entry costs).
 */
import { spawn } from "node:child_process";
import { mkdtemp, open, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { median, percentile } from "./stats.ts";

/** Round-trip samples in ms. */
export interface FloorSamples {
  p50Ms: number;
  p99Ms: number;
}

/** Times `count` sequential GETs of the runner's settings on one keep-alive connection (after a warm-up). */
export async function httpRoundTripFloor(
  baseUrl: string,
  runnerId: string,
  token: string,
  count = 500,
): Promise<FloorSamples> {
  const pool = new Pool(baseUrl, { connections: 1 });
  const path = `/v1/runners/${runnerId}/settings`;
  const headers = { authorization: `Bearer ${token}` };
  const once = async () => {
    const res = await pool.request({ method: "GET", path, headers });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`the settings GET answered ${res.statusCode}`);
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
    await pool.close();
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

/**
 * Median ms of one durable atomic file write in the temporary directory's filesystem (where the benchmark
 * runners keep their state): write + fsync, rename, fsync of the directory — what the runner's journal does
 * for each change.
 */
export async function durableWriteFloorMs(count = 30): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "runner-bench-fsync-"));
  try {
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      const tmp = join(dir, "journal.json.tmp");
      const fh = await open(tmp, "w", 0o600);
      await fh.writeFile(`{"version":1,"entries":[${i}]}\n`);
      await fh.sync();
      await fh.close();
      await rename(tmp, join(dir, "journal.json"));
      const dh = await open(dir, "r");
      await dh.sync();
      await dh.close();
      samples.push(performance.now() - t0);
    }
    return median(samples);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
