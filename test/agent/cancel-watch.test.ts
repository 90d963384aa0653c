import { describe, expect, it } from "vitest";
import { createCancelWatch, endReasonOf } from "../../src/agent/cancel-watch.ts";
import type { Job } from "../../src/control-plane/schemas.ts";
import type { AbortReason } from "../../src/jobs/handler.ts";
import { cpError, createFakeClient } from "./support/fake-client.ts";
import { silentLog } from "./support/silent-log.ts";

describe("cancel watch", () => {
  it.each([
    [{ id: "j", status: "in-progress" }, undefined],
    [{ id: "j", status: "cancelled" }, "cancelled"],
    [{ id: "j", status: "timed-out" }, "timed-out"],
    [{ id: "j", status: "failed" }, "cancelled"],
    [{ id: "j", status: "in-progress", executions: [{ id: "e", status: "cancelled" }] }, "cancelled"],
    [{ id: "j", status: "in-progress", executions: [{ id: "other", status: "cancelled" }] }, undefined],
    [{ id: "j", status: "in-progress", executions: [{ id: "e", status: "in-progress" }] }, undefined],
  ] as Array<[Job, string | undefined]>)("reads %j as %s", (job, kind) => {
    expect(endReasonOf(job, "e")?.kind).toBe(kind);
  });

  it("aborts a job within one interval of the control plane cancelling it, then stops asking", async () => {
    const fake = createFakeClient();
    let status = "in-progress";
    fake.on("getJob", (id: never) => ({ id, status }));
    const watch = createCancelWatch({ client: fake.client, log: silentLog(), intervalMs: 50 });
    const ended: AbortReason[] = [];
    watch.watch("job-1", "exec-1", (reason) => ended.push(reason));
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(ended).toEqual([]);
    const cancelledAt = performance.now();
    status = "cancelled";
    while (ended.length === 0 && performance.now() - cancelledAt < 1_000) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(performance.now() - cancelledAt).toBeLessThan(200);
    expect(ended[0]?.kind).toBe("cancelled");
    expect(watch.size).toBe(0);
    const asked = fake.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(fake.calls.length).toBe(asked);
    watch.stop();
  });

  it("keeps watching through errors and stops asking once unwatched", async () => {
    const fake = createFakeClient();
    fake.on("getJob", () => {
      throw cpError("NETWORK", "getJob");
    });
    const watch = createCancelWatch({ client: fake.client, log: silentLog(), intervalMs: 20 });
    const unwatch = watch.watch("job-1", "exec-1", () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 90));
    expect(fake.calls.length).toBeGreaterThanOrEqual(2);
    unwatch();
    const asked = fake.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(fake.calls.length).toBe(asked);
    watch.stop();
  });
});
