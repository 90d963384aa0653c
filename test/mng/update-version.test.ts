/**
 * mng-runner-update-version end to end on a temporary machine: a loopback HTTP server serves the new
 * "binary" (a shell script printing its version) and its checksum, a recording systemctl stands in for
 * systemd, and a loopback /readyz plays the restarted runner. Checks the swap, the restart, the rollback
 * when the new version never becomes ready, and that a bad checksum swaps nothing.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ManagementDeps } from "../../src/jobs/management/deps.ts";
import { createMngUpdateVersionHandler } from "../../src/jobs/management/update-version.ts";
import { createServiceGate } from "../../src/mng/service-gate.ts";
import { createSystemctl } from "../../src/mng/systemctl.ts";
import { jobContext } from "./context.ts";
import {
  createMachine,
  createSystemctlRecorder,
  fakeRunnerScript,
  type Machine,
  type SystemctlRecorder,
} from "./support.ts";

const NEW_BINARY = fakeRunnerScript("2.0.0");
const NEW_SHA = createHash("sha256").update(NEW_BINARY).digest("hex");
const OLD_BINARY = fakeRunnerScript("1.0.0");

let machine: Machine;
let recorder: SystemctlRecorder;
let server: Server;
let base = "";
let readyStatus = 200;
const served: string[] = [];

beforeEach(async () => {
  machine = await createMachine("1.0.0");
  recorder = await createSystemctlRecorder(machine.root);
  await recorder.setState("active");
  readyStatus = 200;
  served.length = 0;
  server = createServer((req, res) => {
    served.push(req.url ?? "");
    if (req.url === "/runner-2.0.0") res.end(NEW_BINARY);
    else if (req.url === "/runner-2.0.0.sha256") res.end(`${NEW_SHA}  runner-2.0.0\n`);
    else if (req.url === "/readyz") {
      res.statusCode = readyStatus;
      res.end(readyStatus === 200 ? "ok" : "not ready");
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await machine.cleanup();
});

function deps(overrides: Partial<ManagementDeps["update"]> = {}): ManagementDeps {
  return {
    systemctl: createSystemctl({ binary: recorder.binary }),
    gate: createServiceGate(),
    target: { serviceFile: machine.serviceFile, unitPath: machine.unitPath },
    update: {
      timeoutMs: 3_000,
      settleMs: 150,
      probeIntervalMs: 50,
      readyUrl: `${base}/readyz`,
      ...overrides,
    },
    cloud: {},
  };
}

const plan = (extra: Record<string, unknown> = {}) => ({
  runner_binary_url: `${base}/runner-2.0.0`,
  runner_binary_sha256: NEW_SHA,
  runner_version: "2.0.0",
  ...extra,
});

describe("mng-runner-update-version", () => {
  it("downloads, verifies, swaps the binary (keeping .previous), restarts and waits until the runner is ready", async () => {
    const handler = createMngUpdateVersionHandler(deps());
    const { ctx } = jobContext(handler, plan());
    await handler.execute(ctx);
    expect(await readFile(machine.binary, "utf8")).toBe(NEW_BINARY);
    expect((await stat(machine.binary)).mode & 0o777).toBe(0o755);
    expect(await readFile(`${machine.binary}.previous`, "utf8")).toBe(OLD_BINARY);
    await expect(stat(`${machine.binary}.new`)).rejects.toThrow(/ENOENT/);
    const calls = await recorder.calls();
    expect(calls[0]).toBe("restart runner.service");
    expect(calls.filter((c) => c.startsWith("restart"))).toHaveLength(1);
    expect(calls.slice(1).every((c) => c === "is-active runner.service")).toBe(true);
    expect(served).toContain("/readyz");
    expect(ctx.outputs).toEqual({
      version: "2.0.0",
      sha256: NEW_SHA,
      previous_version: "1.0.0",
      updated: true,
    });
  });

  it("rolls back to the previous binary and restarts again when the new version never becomes ready", async () => {
    readyStatus = 503;
    const handler = createMngUpdateVersionHandler(deps({ timeoutMs: 600 }));
    const { ctx, log } = jobContext(handler, plan());
    await expect(handler.execute(ctx)).rejects.toThrow(
      /version 2\.0\.0 did not become healthy within 600ms \(.*readyz answered 503.*\); rolled back to 1\.0\.0 and restarted runner\.service/,
    );
    expect(await readFile(machine.binary, "utf8")).toBe(OLD_BINARY);
    expect(await readFile(`${machine.binary}.failed`, "utf8")).toBe(NEW_BINARY);
    const restarts = (await recorder.calls()).filter((c) => c.startsWith("restart"));
    expect(restarts).toEqual(["restart runner.service", "restart runner.service"]);
    expect(
      log.messages.some((m) => m.startsWith("error: the new version is not healthy; rolling back")),
    ).toBe(true);
  });

  it("rolls back when the service does not stay active on the new binary", async () => {
    await recorder.setStateAfterStart("failed");
    const handler = createMngUpdateVersionHandler(deps({ timeoutMs: 500, readyUrl: undefined }));
    const { ctx } = jobContext(handler, plan());
    await expect(handler.execute(ctx)).rejects.toThrow(
      /\(runner\.service is failed\); rolled back to 1\.0\.0/,
    );
    expect(await readFile(machine.binary, "utf8")).toBe(OLD_BINARY);
  });

  it("fails on a sha256 mismatch and swaps nothing: no restart, the binary untouched, no .new left", async () => {
    const handler = createMngUpdateVersionHandler(deps());
    const { ctx } = jobContext(handler, plan({ runner_binary_sha256: "0".repeat(64) }));
    await expect(handler.execute(ctx)).rejects.toThrow(
      new RegExp(
        `sha256 mismatch for ${base}/runner-2\\.0\\.0: expected 0{64}, got ${NEW_SHA}; the binary was not replaced`,
      ),
    );
    expect(await readFile(machine.binary, "utf8")).toBe(OLD_BINARY);
    await expect(stat(`${machine.binary}.new`)).rejects.toThrow(/ENOENT/);
    await expect(stat(`${machine.binary}.previous`)).rejects.toThrow(/ENOENT/);
    expect(await recorder.calls()).toEqual([]);
  });

  it("refuses a binary that reports another version than the job names, before swapping", async () => {
    const handler = createMngUpdateVersionHandler(deps());
    const { ctx } = jobContext(handler, plan({ runner_version: "3.0.0" }));
    await expect(handler.execute(ctx)).rejects.toThrow(
      /the new binary reports version 2\.0\.0, expected 3\.0\.0; the binary was not replaced/,
    );
    expect(await readFile(machine.binary, "utf8")).toBe(OLD_BINARY);
    expect(await recorder.calls()).toEqual([]);
  });

  it("takes the URL from the settings and the checksum from <url>.sha256 when the plan is empty", async () => {
    const handler = createMngUpdateVersionHandler(deps());
    const { ctx, settingsCalls } = jobContext(handler, null, {
      settings: { runner_binary_url: `${base}/runner-2.0.0`, container_image_tag: "v2.0.0" },
    });
    await handler.execute(ctx);
    expect(settingsCalls()).toBe(1);
    expect(served.slice(0, 2)).toEqual(["/runner-2.0.0.sha256", "/runner-2.0.0"]);
    expect(await readFile(machine.binary, "utf8")).toBe(NEW_BINARY);
    expect(ctx.outputs.updated).toBe(true);
  });

  it("does not restart when the service already runs the same bytes", async () => {
    const handler = createMngUpdateVersionHandler(deps());
    await handler.execute(jobContext(handler, plan()).ctx);
    const before = (await recorder.calls()).length;
    const again = jobContext(handler, plan());
    await handler.execute(again.ctx);
    expect(again.ctx.outputs.updated).toBe(false);
    expect((await recorder.calls()).length).toBe(before);
  });

  it("fails naming the missing source when nothing names a binary URL", async () => {
    const handler = createMngUpdateVersionHandler(deps());
    const { ctx } = jobContext(handler, {});
    await expect(handler.execute(ctx)).rejects.toThrow(/no binary to install/);
  });
});
