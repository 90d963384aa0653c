/**
 * Heartbeats on their worker thread keep their cadence while the main thread is blocked (a CPU-bound
 * handler, a log flood): the thread measures its own send gaps, unaffected by the main thread.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  type HeartbeatHandle,
  startHeartbeats,
  startHeartbeatThread,
} from "../../src/agent/heartbeat-thread.ts";
import { createControlPlaneClient } from "../../src/control-plane/client.ts";
import type { EmbeddedControlPlane } from "../../src/mock-control-plane/server.ts";
import { controlPlaneWithRunner } from "./support/control-plane.ts";
import { silentLog } from "./support/silent-log.ts";

let cp: EmbeddedControlPlane | undefined;
let beats: HeartbeatHandle | undefined;
afterEach(async () => {
  await beats?.stop();
  await cp?.close();
  beats = undefined;
  cp = undefined;
});

describe("heartbeat thread", () => {
  it("keeps beating every interval while the main thread is blocked", async () => {
    const ctx = await controlPlaneWithRunner();
    cp = ctx.cp;
    beats = startHeartbeatThread(
      { baseUrl: ctx.cp.url, token: ctx.runner.token, runnerId: ctx.runner.id },
      {
        intervalMs: 100,
        initialOffsetMs: 0,
        requestTimeoutMs: 2_000,
        body: { version: "1.2.3", process: "install", process_id: "p-1" },
        log: silentLog(),
      },
    );
    const until = async (check: () => boolean) => {
      const end = performance.now() + 5_000;
      while (!check() && performance.now() < end) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await until(() => (beats?.stats().sent ?? 0) >= 2);
    const blockUntil = performance.now() + 1_000;
    while (performance.now() < blockUntil) {
      // the main thread is busy; nothing here yields
    }
    await until(() => (beats?.stats().sent ?? 0) >= 14);
    const stats = beats.stats();
    expect(stats.sent).toBeGreaterThanOrEqual(14);
    expect(stats.worstGapMs).toBeLessThan(250);
    // the beats themselves reached the control plane with the fixed fields and a truthful alive_time
    await until(() => ctx.cp.admin.runnerHealth(ctx.runner.id).heartbeats.length >= 10);
    const last = ctx.cp.admin.runnerHealth(ctx.runner.id).heartbeats.at(-1);
    expect(last).toMatchObject({ version: "1.2.3", process: "install", process_id: "p-1" });
    expect(Math.abs((last?.alive_time ?? 0) / 1e9 - process.uptime())).toBeLessThan(2);
  });

  it("carries the process id in the beats after setBody, on the thread and inline", async () => {
    const ctx = await controlPlaneWithRunner();
    cp = ctx.cp;
    const runnerBeats = () => ctx.cp.admin.runnerHealth(ctx.runner.id).heartbeats;
    const until = async (check: () => boolean) => {
      const end = performance.now() + 5_000;
      while (!check() && performance.now() < end) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    const client = createControlPlaneClient({
      baseUrl: ctx.cp.url,
      token: ctx.runner.token,
      runnerId: ctx.runner.id,
    });
    for (const threadClient of [
      { baseUrl: ctx.cp.url, token: ctx.runner.token, runnerId: ctx.runner.id },
      undefined,
    ]) {
      const before = runnerBeats().length;
      beats = startHeartbeats(client, threadClient, {
        intervalMs: 50,
        initialOffsetMs: 0,
        requestTimeoutMs: 2_000,
        body: { version: "1.2.3", process: "" },
        log: silentLog(),
      });
      await until(() => runnerBeats().length >= before + 2);
      expect(runnerBeats().at(-1)?.process_id).toBeUndefined();
      beats.setBody({ version: "1.2.3", process: "", process_id: "p-late" });
      const marked = runnerBeats().length;
      await until(() => runnerBeats().length >= marked + 3);
      expect(runnerBeats().at(-1)).toMatchObject({ version: "1.2.3", process_id: "p-late" });
      await beats.stop();
      beats = undefined;
    }
    await client.close();
  });
});
