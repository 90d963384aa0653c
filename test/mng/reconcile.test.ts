/**
 * The reconcile loop against real files and a recording systemctl script: it writes the unit service.yml
 * renders, applies a change with daemon-reload + restart, starts a stopped service, and does nothing at all
 * to a running service whose unit is unchanged.
 */
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { APPLY_PENDING_FILE, reconcileOnce, startReconcileLoop } from "../../src/mng/reconcile.ts";
import { createServiceGate } from "../../src/mng/service-gate.ts";
import { createSystemctl } from "../../src/mng/systemctl.ts";
import { parseServiceConfig } from "../../src/service/schema.ts";
import { renderUnit } from "../../src/service/unit.ts";
import { silentLog } from "../agent/support/silent-log.ts";
import { createMachine, createSystemctlRecorder, type Machine, type SystemctlRecorder } from "./support.ts";

let machine: Machine;
let recorder: SystemctlRecorder;

beforeEach(async () => {
  machine = await createMachine();
  recorder = await createSystemctlRecorder(machine.root);
});
afterEach(async () => {
  await machine.cleanup();
});

function deps(gate = createServiceGate()) {
  return {
    systemctl: createSystemctl({ binary: recorder.binary }),
    gate,
    target: { serviceFile: machine.serviceFile, unitPath: machine.unitPath },
    stateDir: machine.stateDir,
    log: silentLog(),
  };
}

const expectedUnit = (extra: Record<string, unknown> = {}) =>
  renderUnit(parseServiceConfig({ binary: machine.binary, ...extra }));

describe("reconcileOnce", () => {
  it("installs a missing unit: writes it (0644), daemon-reload, enable, then starts the inactive service", async () => {
    const outcome = await reconcileOnce(deps());
    expect(outcome).toEqual({ kind: "done", unit: "runner.service", written: true, action: "started" });
    expect(await readFile(machine.unitPath, "utf8")).toBe(expectedUnit());
    expect((await stat(machine.unitPath)).mode & 0o777).toBe(0o644);
    expect(await recorder.calls()).toEqual([
      "daemon-reload",
      "enable runner.service",
      "is-active runner.service",
      "start runner.service",
    ]);
    await expect(stat(path.join(machine.stateDir, APPLY_PENDING_FILE))).rejects.toThrow(/ENOENT/);
  });

  it("does nothing to a running service whose unit is unchanged: no write, no reload, no restart", async () => {
    await reconcileOnce(deps());
    const before = await stat(machine.unitPath);
    const callsBefore = (await recorder.calls()).length;
    const outcome = await reconcileOnce(deps());
    expect(outcome).toEqual({ kind: "done", unit: "runner.service", written: false, action: "none" });
    expect((await recorder.calls()).slice(callsBefore)).toEqual(["is-active runner.service"]);
    expect((await stat(machine.unitPath)).mtimeMs).toBe(before.mtimeMs);
  });

  it("rewrites the unit when service.yml changes and restarts the running service after a daemon-reload", async () => {
    await reconcileOnce(deps());
    const callsBefore = (await recorder.calls()).length;
    await machine.writeServiceYaml("drainTimeout: 20m\nlimits:\n  memoryMax: 4G\n");
    const outcome = await reconcileOnce(deps());
    expect(outcome).toEqual({ kind: "done", unit: "runner.service", written: true, action: "restarted" });
    const unit = await readFile(machine.unitPath, "utf8");
    expect(unit).toBe(expectedUnit({ drainTimeout: "20m", limits: { memoryMax: "4G" } }));
    expect(unit).toContain("TimeoutStopSec=1230");
    expect(unit).toContain("MemoryMax=4G");
    expect((await recorder.calls()).slice(callsBefore)).toEqual([
      "daemon-reload",
      "is-active runner.service",
      "restart runner.service",
    ]);
  });

  it("starts a service that stopped or failed while its unit stayed the same, without reloading", async () => {
    await reconcileOnce(deps());
    await recorder.setState("failed");
    const callsBefore = (await recorder.calls()).length;
    expect(await reconcileOnce(deps())).toMatchObject({ written: false, action: "started" });
    expect((await recorder.calls()).slice(callsBefore)).toEqual([
      "is-active runner.service",
      "start runner.service",
    ]);
  });

  it("leaves the installed unit alone when service.yml is invalid, and calls no systemctl", async () => {
    await reconcileOnce(deps());
    const unit = await readFile(machine.unitPath, "utf8");
    const callsBefore = (await recorder.calls()).length;
    await writeFile(machine.serviceFile, "mode: sideways\n");
    const outcome = await reconcileOnce(deps());
    expect(outcome.kind).toBe("skipped");
    expect(outcome.kind === "skipped" && outcome.reason).toMatch(/mode/);
    expect(await readFile(machine.unitPath, "utf8")).toBe(unit);
    expect((await recorder.calls()).slice(callsBefore)).toEqual([]);
  });

  it("finishes an apply a crash interrupted: a pending mark with the unit already written still reloads and restarts", async () => {
    await reconcileOnce(deps());
    await writeFile(machine.unitPath, expectedUnit({ restartDelay: "9s" }));
    await machine.writeServiceYaml("restartDelay: 9s\n");
    await writeFile(path.join(machine.stateDir, APPLY_PENDING_FILE), "runner.service abc\n");
    const callsBefore = (await recorder.calls()).length;
    expect(await reconcileOnce(deps())).toMatchObject({ written: false, action: "restarted" });
    expect((await recorder.calls()).slice(callsBefore)).toEqual([
      "daemon-reload",
      "is-active runner.service",
      "restart runner.service",
    ]);
    await expect(stat(path.join(machine.stateDir, APPLY_PENDING_FILE))).rejects.toThrow(/ENOENT/);
  });

  it("keeps the mark when the restart fails, and applies the change on the next pass", async () => {
    await reconcileOnce(deps());
    await machine.writeServiceYaml("restartDelay: 7s\n");
    await recorder.failVerb("restart");
    await expect(reconcileOnce(deps())).rejects.toThrow(
      /restart runner.service exited with code 1: Failed to restart/,
    );
    expect(await readFile(path.join(machine.stateDir, APPLY_PENDING_FILE), "utf8")).toMatch(
      /^runner.service /,
    );
    await recorder.failVerb(undefined);
    expect(await reconcileOnce(deps())).toMatchObject({ written: false, action: "restarted" });
  });

  it("does nothing once the gate is closed (after mng-shut-down)", async () => {
    const gate = createServiceGate();
    gate.close("mng-shut-down job j1");
    expect(await reconcileOnce(deps(gate))).toEqual({ kind: "skipped", reason: "mng-shut-down job j1" });
    expect(await recorder.calls()).toEqual([]);
    await expect(stat(machine.unitPath)).rejects.toThrow(/ENOENT/);
  });
});

describe("startReconcileLoop", () => {
  it("reconciles at start and again every interval, picking up a service.yml change, until stopped", async () => {
    const passes: string[] = [];
    let notify: () => void = () => undefined;
    const loop = startReconcileLoop(deps(), {
      intervalMs: 40,
      onPass: (o) => {
        passes.push(
          o instanceof Error ? `error ${o.message}` : o.kind === "done" ? `${o.written} ${o.action}` : o.kind,
        );
        notify();
      },
    });
    const waitFor = (check: () => boolean) =>
      new Promise<void>((resolve) => {
        notify = () => {
          if (check()) resolve();
        };
        notify();
      });
    await waitFor(() => passes.length >= 2);
    expect(passes.slice(0, 2)).toEqual(["true started", "false none"]);
    await machine.writeServiceYaml("restartDelay: 3s\n");
    await waitFor(() => passes.includes("true restarted"));
    await loop.stop();
    const count = passes.length;
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(passes.length).toBe(count);
    expect(await readFile(machine.unitPath, "utf8")).toContain("RestartSec=3");
  });
});
