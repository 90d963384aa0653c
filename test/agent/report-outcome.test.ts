import { describe, expect, it } from "vitest";
import { deliverOutcome } from "../../src/agent/report-outcome.ts";
import { cpError, createFakeClient } from "./support/fake-client.ts";
import { silentLog } from "./support/silent-log.ts";

const outcome = { status: "finished" as const, result: { success: true } };

describe("outcome delivery", () => {
  it("posts the result, then the terminal status", async () => {
    const fake = createFakeClient();
    const result = await deliverOutcome("job", "exec", outcome, {
      client: fake.client,
      log: silentLog(),
      signal: new AbortController().signal,
    });
    expect(result).toBe("delivered");
    expect(fake.ops()).toEqual(["createResult", "updateExecutionStatus"]);
    expect(fake.statuses()).toEqual(["finished"]);
  });

  it("keeps retrying while the control plane is unreachable and delivers once it is back", async () => {
    const fake = createFakeClient();
    let down = 4;
    fake.on("updateExecutionStatus", () => {
      if (down-- > 0) throw cpError("NETWORK", "updateExecutionStatus");
    });
    const result = await deliverOutcome("job", "exec", outcome, {
      client: fake.client,
      log: silentLog(),
      signal: new AbortController().signal,
      initialDelayMs: 5,
      maxDelayMs: 10,
    });
    expect(result).toBe("delivered");
    expect(fake.statuses()).toEqual(["finished", "finished", "finished", "finished", "finished"]);
  });

  it("does not retry what the control plane refused for good", async () => {
    const fake = createFakeClient();
    fake.on("createResult", () => {
      throw cpError("BAD_REQUEST", "createResult", 400);
    });
    const result = await deliverOutcome("job", "exec", outcome, {
      client: fake.client,
      log: silentLog(),
      signal: new AbortController().signal,
    });
    expect(result).toBe("delivered");
    expect(fake.ops()).toEqual(["createResult", "updateExecutionStatus"]);
  });

  it("abandons when the runner stops, leaving the outcome to the journal", async () => {
    const fake = createFakeClient();
    fake.on("createResult", () => {
      throw cpError("SERVER_ERROR", "createResult", 503);
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const result = await deliverOutcome("job", "exec", outcome, {
      client: fake.client,
      log: silentLog(),
      signal: controller.signal,
      initialDelayMs: 5,
      maxDelayMs: 10,
    });
    expect(result).toBe("abandoned");
    expect(fake.statuses()).toEqual([]);
  });
});
