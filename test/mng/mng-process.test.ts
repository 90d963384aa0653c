/**
 * `runner mng` as a real child process against the embedded control plane, with a recording systemctl:
 * it installs and starts the runner unit at once, heartbeats as process "mng", runs management jobs,
 * re-applies an edited service.yml, and exits 0 after mng-shut-down stopped the runner service.
 */
import { readFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { createSystemctl } from "../../src/mng/systemctl.ts";
import type { EmbeddedControlPlane } from "../../src/mock-control-plane/server.ts";
import { controlPlaneWithRunner, eventually } from "../agent/support/control-plane.ts";
import { startRunner, stopAllRunners } from "../support/runner-process.ts";
import { createMachine, createSystemctlRecorder, type Machine } from "./support.ts";

const planes: EmbeddedControlPlane[] = [];
const machines: Machine[] = [];
afterEach(async () => {
  await stopAllRunners();
  await Promise.all(planes.splice(0).map((cp) => cp.close()));
  await Promise.all(machines.splice(0).map((m) => m.cleanup()));
});

describe("systemctl lookup", () => {
  it("finds `systemctl` on the PATH it is given, so a recorder first on PATH replaces the real one", async () => {
    const machine = await createMachine();
    machines.push(machine);
    const recorder = await createSystemctlRecorder(machine.root);
    await recorder.setState("activating");
    const systemctl = createSystemctl({ env: { PATH: recorder.binDir } });
    expect(systemctl.binary).toBe("systemctl");
    expect(await systemctl.isActive("runner.service")).toBe("activating");
    expect(await recorder.calls()).toEqual(["is-active runner.service"]);
  });
});

describe("runner mng (child process)", () => {
  it("keeps the unit, heartbeats as mng, restarts on a job, re-applies service.yml, and exits 0 on mng-shut-down", async () => {
    const { cp, runner } = await controlPlaneWithRunner();
    planes.push(cp);
    const machine = await createMachine("1.0.0");
    machines.push(machine);
    const recorder = await createSystemctlRecorder(machine.root);
    const child = startRunner({
      command: "mng",
      apiUrl: cp.url,
      token: runner.token,
      runnerId: runner.id,
      stateDir: machine.stateDir,
      env: {
        PATH: `${recorder.binDir}:${process.env.PATH ?? "/usr/bin:/bin"}`,
        RUNNER_SYSTEMCTL: recorder.binary,
        RUNNER_SERVICE_FILE: machine.serviceFile,
        RUNNER_UNIT_PATH: machine.unitPath,
        RUNNER_MNG_ADMIN_PORT: "0",
        RUNNER_RECONCILE_INTERVAL: "150ms",
        RUNNER_UPDATE_READY_URL: "off",
      },
    });
    await child.waitForLog((l) => l.msg === "runner started", 15_000);

    // at start: the unit is written, enabled and the service started
    let calls: string[] = [];
    const poll = async (want: (c: string[]) => boolean, what: string) => {
      const end = Date.now() + 10_000;
      for (;;) {
        calls = await recorder.calls();
        if (want(calls)) return;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; calls: ${calls.join(", ")}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await poll((c) => c.includes("start runner.service"), "the first start");
    expect(calls.slice(0, 4)).toEqual([
      "daemon-reload",
      "enable runner.service",
      "is-active runner.service",
      "start runner.service",
    ]);
    expect(await readFile(machine.unitPath, "utf8")).toContain(`ExecStart=${machine.binary} install`);

    await eventually(
      () => cp.admin.runnerHealth(runner.id).heartbeats.some((h) => h.process === "mng"),
      "a heartbeat from process mng",
    );

    const restart = cp.admin.enqueueJob(runner.id, { type: "mng-runner-restart" });
    const restarted = await cp.waitForJob(
      restart.id,
      (j) => j.status === "finished" || j.status === "failed",
    );
    expect(restarted.status).toBe("finished");
    expect(restarted.executions[0]?.outputs?.state).toBe("active");
    await poll((c) => c.includes("restart runner.service"), "the restart");

    await machine.writeServiceYaml("mode: org\n");
    await poll((c) => c.filter((x) => x === "restart runner.service").length >= 2, "the re-applied unit");
    expect(await readFile(machine.unitPath, "utf8")).toContain(`ExecStart=${machine.binary} org`);

    const shutdown = cp.admin.enqueueJob(runner.id, { type: "mng-shut-down" });
    const exited = await child.exited;
    expect(exited.code).toBe(0);
    expect((await cp.waitForJob(shutdown.id, (j) => j.status === "finished")).status).toBe("finished");
    calls = await recorder.calls();
    expect(calls.at(-1)).toBe("stop runner.service");
    expect(child.lines.some((l) => l.msg === "the runner service is stopped")).toBe(true);
  });
});
