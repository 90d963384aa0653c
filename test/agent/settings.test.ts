import { describe, expect, it } from "vitest";
import {
  AgentStartupError,
  fetchSettings,
  groupSlots,
  heartbeatIntervalMs,
} from "../../src/agent/settings.ts";
import { cpError, createFakeClient } from "./support/fake-client.ts";
import { silentLog } from "./support/silent-log.ts";

describe("settings", () => {
  it("retries transient failures until the settings arrive", async () => {
    const fake = createFakeClient();
    let failures = 3;
    fake.on("getSettings", () => {
      if (failures-- > 0) throw cpError("TIMEOUT", "getSettings");
      return { heart_beat_timeout: 2e9 };
    });
    const settings = await fetchSettings(fake.client, {
      retryForMs: 5_000,
      log: silentLog(),
      signal: new AbortController().signal,
      initialDelayMs: 5,
      maxDelayMs: 10,
    });
    expect(settings.heart_beat_timeout).toBe(2e9);
    expect(fake.calls).toHaveLength(4);
  });

  it("gives up at once with exit code 2 when the token is refused", async () => {
    const fake = createFakeClient();
    fake.on("getSettings", () => {
      throw cpError("UNAUTHORIZED", "getSettings", 401);
    });
    const err = await fetchSettings(fake.client, {
      retryForMs: 60_000,
      log: silentLog(),
      signal: new AbortController().signal,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentStartupError);
    expect(err).toMatchObject({ code: "UNAUTHORIZED", exitCode: 2 });
    expect((err as Error).message).toContain("RUNNER_API_TOKEN");
    expect(fake.calls).toHaveLength(1);
  });

  it("gives up with exit code 1 once settingsRetryMs has passed", async () => {
    const fake = createFakeClient();
    fake.on("getSettings", () => {
      throw cpError("NETWORK", "getSettings");
    });
    const err = await fetchSettings(fake.client, {
      retryForMs: 60,
      log: silentLog(),
      signal: new AbortController().signal,
      initialDelayMs: 10,
      maxDelayMs: 20,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "SETTINGS_UNAVAILABLE", exitCode: 1 });
  });

  it.each([
    [{}, 5_000],
    [{ heart_beat_timeout: 10e9 }, 10_000],
    [{ heart_beat_timeout: 1e6 }, 100],
  ])("reads the heartbeat interval from %j as %d ms", (settings, ms) => {
    expect(heartbeatIntervalMs(settings)).toBe(ms);
  });

  it.each<{ own: Record<string, number>; settings: Record<string, unknown>; expected: number }>([
    { own: { deploy: 3 }, settings: { job_group_parallelism: { deploy: "2" } }, expected: 3 },
    { own: {}, settings: { job_group_parallelism: { deploy: "2" } }, expected: 2 },
    { own: {}, settings: { job_group_parallelism: { deploy: 4 } }, expected: 4 },
    { own: {}, settings: { job_group_parallelism: { deploy: "many" } }, expected: 1 },
    { own: {}, settings: {}, expected: 1 },
  ])("gives deploy $expected slots from own=$own settings=$settings", ({ own, settings, expected }) => {
    expect(groupSlots("deploy", own, settings, 1)).toBe(expected);
  });
});
