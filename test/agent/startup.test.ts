/**
 * Startup of the job-running commands as child processes: configuration and credential problems exit 2
 * with a message naming the cause; a control plane that never answers exits 1 after settingsRetryMs; each
 * mode serves its own groups and reports its process type.
 */
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { EmbeddedControlPlane } from "../../src/mock-control-plane/server.ts";
import { startRunner, stopAllRunners } from "../support/runner-process.ts";
import { controlPlaneWithRunner, eventually, removeDirs, tempDir } from "./support/control-plane.ts";

const planes: EmbeddedControlPlane[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await stopAllRunners();
  await Promise.all(planes.splice(0).map((cp) => cp.close()));
  await removeDirs(dirs.splice(0));
});

async function stateDir() {
  const dir = await tempDir("runner-state-");
  dirs.push(dir);
  return dir;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("runner startup", () => {
  it("exits 2 naming the missing fields when the token and runner id are not set", async () => {
    const child = startRunner({ apiUrl: "http://127.0.0.1:9", stateDir: await stateDir() });
    expect((await child.exited).code, child.stderr()).toBe(2);
    expect(child.stderr()).toContain("apiToken");
    expect(child.stderr()).toContain("runnerId");
  });

  it("exits 2 naming the field when a value is invalid", async () => {
    const child = startRunner({
      apiUrl: "http://127.0.0.1:9",
      token: "t",
      runnerId: "r",
      stateDir: await stateDir(),
      env: { RUNNER_CONCURRENCY: "lots" },
    });
    expect((await child.exited).code, child.stderr()).toBe(2);
    expect(child.stderr()).toContain("concurrency");
  });

  it("exits 2 at once with a clear message when the control plane refuses the token", async () => {
    const { cp, runner } = await controlPlaneWithRunner();
    planes.push(cp);
    const started = performance.now();
    const child = startRunner({
      apiUrl: cp.url,
      token: "not-the-token",
      runnerId: runner.id,
      stateDir: await stateDir(),
    });
    expect((await child.exited).code, child.stderr()).toBe(2);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(child.stderr()).toContain("refused the runner's credentials");
    expect(child.stderr()).not.toContain("not-the-token");
  });

  it("keeps retrying the settings for settingsRetryMs, then exits 1", async () => {
    const port = await closedPort();
    const started = performance.now();
    const child = startRunner({
      apiUrl: `http://127.0.0.1:${port}`,
      token: "t",
      runnerId: "r",
      stateDir: await stateDir(),
      env: { RUNNER_SETTINGS_RETRY: "1500ms" },
    });
    const exit = await child.exited;
    expect(exit.code, child.stderr()).toBe(1);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1_500);
    expect(elapsed).toBeLessThan(15_000);
    expect(child.stderr()).toContain("could not fetch the runner settings");
  });

  it("refuses a second process on the same state directory with exit 2", async () => {
    const { cp, runner } = await controlPlaneWithRunner();
    planes.push(cp);
    const dir = await stateDir();
    const first = startRunner({ apiUrl: cp.url, token: runner.token, runnerId: runner.id, stateDir: dir });
    await first.waitForLog((l) => l.msg === "runner started", 15_000);
    const second = startRunner({ apiUrl: cp.url, token: runner.token, runnerId: runner.id, stateDir: dir });
    expect((await second.exited).code, second.stderr()).toBe(2);
    expect(second.stderr()).toContain(`in use by process ${first.pid}`);
  });

  it.each([
    {
      command: "install" as const,
      process: "install",
      groups: ["operations", "sync", "sandbox", "deploy", "actions"],
    },
    { command: "org" as const, process: "build", groups: ["operations", "sync", "build"] },
  ])(
    "`runner $command` serves $groups and reports process $process",
    async ({ command, process, groups }) => {
      const { cp, runner } = await controlPlaneWithRunner();
      planes.push(cp);
      const child = startRunner({
        command,
        apiUrl: cp.url,
        token: runner.token,
        runnerId: runner.id,
        stateDir: await stateDir(),
      });
      const line = await child.waitForLog((l) => l.msg === "runner started", 15_000);
      expect(line.groups).toEqual(groups);
      expect(line.processType).toBe(process);
      await eventually(() => cp.admin.runnerHealth(runner.id).heartbeats.length > 0, "a heartbeat");
      expect(cp.admin.runnerHealth(runner.id).heartbeats.at(-1)?.process).toBe(process);
      child.signal("SIGINT");
      expect((await child.exited).code).toBe(0);
    },
  );
});
