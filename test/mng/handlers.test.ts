/**
 * mng-shut-down, mng-runner-restart and mng-vm-shut-down: the systemctl calls they record and what they
 * leave behind; the VM stop goes through the real AWS SDK to the loopback emulators of test/cloud.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ManagementDeps } from "../../src/jobs/management/deps.ts";
import { createMngRunnerRestartHandler } from "../../src/jobs/management/restart.ts";
import { createMngShutDownHandler } from "../../src/jobs/management/shut-down.ts";
import { createMngVmShutDownHandler } from "../../src/jobs/management/vm-shut-down.ts";
import { createHandlerRegistry } from "../../src/jobs/registry.ts";
import { reconcileOnce } from "../../src/mng/reconcile.ts";
import { createServiceGate } from "../../src/mng/service-gate.ts";
import { createSystemctl } from "../../src/mng/systemctl.ts";
import { silentLog } from "../agent/support/silent-log.ts";
import { AWS_INSTANCE, type Emulator, startAwsImds, startEc2 } from "../cloud/emulators.ts";
import { jobContext } from "./context.ts";
import { createMachine, createSystemctlRecorder, type Machine, type SystemctlRecorder } from "./support.ts";

let machine: Machine;
let recorder: SystemctlRecorder;
const emulators: Emulator[] = [];

beforeEach(async () => {
  machine = await createMachine("1.0.0");
  recorder = await createSystemctlRecorder(machine.root);
  await recorder.setState("active");
});
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((e) => e.close()));
  await machine.cleanup();
});

function deps(extra: Partial<ManagementDeps> = {}): ManagementDeps {
  return {
    systemctl: createSystemctl({ binary: recorder.binary }),
    gate: createServiceGate(),
    target: { serviceFile: machine.serviceFile, unitPath: machine.unitPath },
    update: { timeoutMs: 1_000, settleMs: 100 },
    cloud: {},
    log: silentLog(),
    ...extra,
  };
}

describe("mng-shut-down", () => {
  it("after the finished status: closes the gate, stops the runner service, then asks runner mng to exit", async () => {
    const d = deps();
    const handler = createMngShutDownHandler(d);
    const { ctx, exits } = jobContext(handler, null);
    await handler.execute(ctx);
    expect(await recorder.calls()).toEqual([]); // nothing before the status is delivered
    handler.afterFinished?.(ctx, "finished");
    await waitUntil(() => exits.length > 0);
    expect(await recorder.calls()).toEqual(["stop runner.service"]);
    expect(exits).toEqual(["mng-shut-down job job-1"]);
    expect(d.gate.closedReason).toBe("mng-shut-down job job-1");
    // the reconcile loop no longer starts the stopped service
    const outcome = await reconcileOnce({ ...d, stateDir: machine.stateDir, log: silentLog() });
    expect(outcome.kind).toBe("skipped");
    expect(await recorder.calls()).toEqual(["stop runner.service"]);
  });

  it("does nothing when the job did not finish", async () => {
    const handler = createMngShutDownHandler(deps());
    const { ctx, exits } = jobContext(handler, null);
    handler.afterFinished?.(ctx, "failed");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(exits).toEqual([]);
    expect(await recorder.calls()).toEqual([]);
  });

  it("still exits when systemctl stop fails", async () => {
    await recorder.failVerb("stop");
    const handler = createMngShutDownHandler(deps());
    const { ctx, exits } = jobContext(handler, null);
    handler.afterFinished?.(ctx, "finished");
    await waitUntil(() => exits.length > 0);
    expect(await recorder.calls()).toEqual(["stop runner.service"]);
  });
});

describe("mng-runner-restart", () => {
  it("restarts the runner service and checks it runs again", async () => {
    const handler = createMngRunnerRestartHandler(deps());
    const { ctx } = jobContext(handler, null);
    await handler.execute(ctx);
    expect(await recorder.calls()).toEqual(["restart runner.service", "is-active runner.service"]);
    expect(ctx.outputs).toEqual({ unit: "runner.service", state: "active" });
  });

  it("fails naming the state when the service does not come back", async () => {
    await recorder.setStateAfterStart("failed");
    const handler = createMngRunnerRestartHandler(deps());
    const { ctx } = jobContext(handler, null);
    await expect(handler.execute(ctx)).rejects.toThrow(
      "systemctl restart runner.service returned, but the service is failed",
    );
  });

  it("restarts the unit service.yml names", async () => {
    await machine.writeServiceYaml("name: nuon-runner\n");
    const handler = createMngRunnerRestartHandler(deps());
    await handler.execute(jobContext(handler, null).ctx);
    expect(await recorder.calls()).toEqual(["restart nuon-runner.service", "is-active nuon-runner.service"]);
  });
});

describe("mng-vm-shut-down", () => {
  it("stops this EC2 instance through StopInstances with the id IMDSv2 gave", async () => {
    const imds = await startAwsImds();
    const ec2 = await startEc2();
    emulators.push(imds, ec2);
    const handler = createMngVmShutDownHandler(
      deps({
        cloud: {
          cloud: "aws",
          aws: {
            imdsEndpoint: imds.url,
            ec2Endpoint: ec2.url,
            credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
          },
        },
      }),
    );
    const { ctx } = jobContext(handler, null);
    await handler.execute(ctx);
    expect(ec2.requests).toHaveLength(1);
    expect(ec2.requests[0]?.body).toContain(`Action=StopInstances`);
    expect(new URLSearchParams(ec2.requests[0]?.body).get("InstanceId.1")).toBe(AWS_INSTANCE.instanceId);
    expect(ctx.outputs).toEqual({ cloud: "aws", instance: AWS_INSTANCE.instanceId });
  });

  it("fails saying nothing was stopped when no metadata service answers", async () => {
    const closed = await startEc2();
    await closed.close();
    const handler = createMngVmShutDownHandler(
      deps({ cloud: { aws: { imdsEndpoint: closed.url }, azure: { imdsBaseUrl: closed.url } } }),
    );
    await expect(handler.execute(jobContext(handler, null).ctx)).rejects.toThrow(
      /no instance metadata service answered .* nothing was stopped/,
    );
  });
});

describe("registry", () => {
  it("has a handler for every management job type", async () => {
    const registry = createHandlerRegistry();
    for (const type of [
      "mng-shut-down",
      "mng-runner-restart",
      "mng-runner-update-version",
      "mng-vm-shut-down",
    ]) {
      expect((await registry.find(type)?.())?.name).toBe(type);
    }
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
