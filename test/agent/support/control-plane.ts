/**
 * The embedded control plane for agent integration tests, plus a recorder of every execution status the
 * control plane stored (from `job:updated` events), so tests can assert the PATCH sequence.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunnerSettings } from "../../../src/control-plane/schemas.ts";
import {
  type ControlPlaneOptions,
  type EmbeddedControlPlane,
  type JobDetail,
  startControlPlane,
} from "../../../src/mock-control-plane/server.ts";

/** Records execution status changes per execution id, in order. */
export function recordStatuses(cp: EmbeddedControlPlane): Map<string, string[]> {
  const history = new Map<string, string[]>();
  cp.events.on("job:updated", (job: JobDetail) => {
    for (const exec of job.executions) {
      const seen = history.get(exec.id) ?? [];
      if (exec.status !== undefined && seen.at(-1) !== exec.status) seen.push(exec.status);
      history.set(exec.id, seen);
    }
  });
  return history;
}

/** A temporary directory removed by `cleanup`. */
export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Starts a control plane and registers one runner with fast heartbeats. */
export async function controlPlaneWithRunner(
  options: ControlPlaneOptions = {},
  settings: Partial<RunnerSettings> = {},
): Promise<{
  cp: EmbeddedControlPlane;
  runner: { id: string; token: string };
  statuses: Map<string, string[]>;
}> {
  const cp = await startControlPlane(options);
  const statuses = recordStatuses(cp);
  const runner = cp.admin.createRunner({ settings: { heart_beat_timeout: 300e6, ...settings } });
  return { cp, runner, statuses };
}

/** Removes directories, ignoring errors. */
export async function removeDirs(dirs: string[]): Promise<void> {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}

/** Resolves once `check()` is true; rejects with `what` after `timeoutMs` (default 10 000). */
export async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
