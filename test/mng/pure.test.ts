/** The pure parts of the management process: update sources, URLs, checksums, version output, settings. */
import { describe, expect, it } from "vitest";
import type { RunnerSettings } from "../../src/control-plane/schemas.ts";
import { needsSettings, resolveUpdateSource, UpdateVersionPlan } from "../../src/jobs/management/plan.ts";
import { assertDownloadUrl, parseSha256 } from "../../src/mng/binary-download.ts";
import { parseVersionOutput } from "../../src/mng/binary-version.ts";
import { mngOptionsFromEnv } from "../../src/mng/options.ts";

const SHA = "ab".repeat(32);

describe("resolveUpdateSource", () => {
  const cases: Array<
    [string, unknown, Record<string, string> | undefined, RunnerSettings | undefined, unknown]
  > = [
    [
      "the plan wins, whole",
      { runner_binary_url: "https://a/r", runner_binary_sha256: SHA.toUpperCase(), runner_version: "2.0.0" },
      { runner_binary_url: "https://b/r", runner_version: "9" },
      { runner_binary_url: "https://c/r" },
      { url: "https://a/r", sha256: SHA, version: "2.0.0", from: "plan" },
    ],
    [
      "then the job metadata",
      null,
      { runner_binary_url: "https://b/r", runner_binary_sha256: SHA, runner_version: "3.1.0" },
      { runner_binary_url: "https://c/r" },
      { url: "https://b/r", sha256: SHA, version: "3.1.0", from: "metadata" },
    ],
    [
      "then the settings, the image tag as version without its v",
      {},
      { shutdown_type: "force" },
      { runner_binary_url: "https://c/r", container_image_tag: "v1.4.0" },
      { url: "https://c/r", version: "1.4.0", from: "settings" },
    ],
    [
      "a latest tag names no version",
      {},
      undefined,
      { runner_binary_url: "https://c/r", container_image_tag: "latest" },
      { url: "https://c/r", from: "settings" },
    ],
    ["nothing names a URL", {}, {}, { container_image_tag: "1.0.0" }, undefined],
  ];
  it.each(cases)("%s", (_name, plan, metadata, settings, expected) => {
    expect(resolveUpdateSource(UpdateVersionPlan.parse(plan), metadata, settings)).toEqual(expected);
  });

  it("asks for the settings only when neither the plan nor the metadata name a URL", () => {
    expect(needsSettings(UpdateVersionPlan.parse(null), {})).toBe(true);
    expect(needsSettings(UpdateVersionPlan.parse({ runner_binary_url: "https://a" }), {})).toBe(false);
    expect(needsSettings(UpdateVersionPlan.parse({}), { runner_binary_url: "https://a" })).toBe(false);
  });

  it("names the bad plan field", () => {
    expect(() => UpdateVersionPlan.parse({ runner_binary_sha256: "nope" })).toThrow(/runner_binary_sha256/);
    expect(() =>
      resolveUpdateSource({}, { runner_binary_url: "https://a", runner_binary_sha256: "x" }, undefined),
    ).toThrow(/64 hexadecimal digits/);
  });
});

describe("assertDownloadUrl", () => {
  it.each([
    ["https://artifacts.example.com/runner", true],
    ["http://127.0.0.1:8080/runner", true],
    ["http://localhost/runner", true],
    ["http://[::1]:9/runner", true],
    ["http://artifacts.example.com/runner", false],
    ["file:///usr/local/bin/runner", false],
    ["not a url", false],
  ])("%s → allowed %s", (url, allowed) => {
    if (allowed) expect(assertDownloadUrl(url).href).toBeTruthy();
    else expect(() => assertDownloadUrl(url)).toThrow(/binary URL/);
  });

  it("normalizes checksums and refuses anything but 64 hex digits", () => {
    expect(parseSha256(` ${SHA.toUpperCase()}\n`)).toBe(SHA);
    expect(() => parseSha256("abc")).toThrow(/64 hexadecimal digits/);
  });
});

describe("parseVersionOutput", () => {
  it.each([
    ['{"version":"1.2.3","commit":"abc"}\n', "1.2.3"],
    ["runner 0.4.0 (commit abc, node v24.21.0)\n", "0.4.0"],
    ["something else\n", undefined],
    ['{"commit":"abc"}', undefined],
  ])("%j → %s", (stdout, version) => {
    expect(parseVersionOutput(stdout)).toBe(version);
  });
});

describe("mngOptionsFromEnv", () => {
  it("has the documented defaults", () => {
    expect(mngOptionsFromEnv({})).toEqual({
      systemctl: "systemctl",
      serviceFile: "/etc/runner/service.yml",
      reconcileIntervalMs: 15_000,
      updateHealthTimeoutMs: 120_000,
      updateSettleMs: 10_000,
      readyUrl: "http://127.0.0.1:5000/readyz",
      adminPort: 5001,
      cloud: {},
    });
  });

  it("reads every variable, and the runner's admin port for the ready URL", () => {
    expect(
      mngOptionsFromEnv({
        RUNNER_SYSTEMCTL: "/opt/bin/systemctl",
        RUNNER_SERVICE_FILE: "/srv/service.yml",
        RUNNER_UNIT_PATH: "/run/systemd/system/runner.service",
        RUNNER_RECONCILE_INTERVAL: "30s",
        RUNNER_UPDATE_HEALTH_TIMEOUT: "5m",
        RUNNER_UPDATE_SETTLE: "20s",
        RUNNER_ADMIN_PORT: "6000",
        RUNNER_MNG_ADMIN_PORT: "0",
        RUNNER_CLOUD: "azure",
      }),
    ).toEqual({
      systemctl: "/opt/bin/systemctl",
      serviceFile: "/srv/service.yml",
      unitPath: "/run/systemd/system/runner.service",
      reconcileIntervalMs: 30_000,
      updateHealthTimeoutMs: 300_000,
      updateSettleMs: 20_000,
      readyUrl: "http://127.0.0.1:6000/readyz",
      adminPort: 0,
      cloud: { cloud: "azure" },
    });
    expect(mngOptionsFromEnv({ RUNNER_UPDATE_READY_URL: "off" }).readyUrl).toBeUndefined();
  });

  it.each([
    [{ RUNNER_UPDATE_HEALTH_TIMEOUT: "soon" }, /RUNNER_UPDATE_HEALTH_TIMEOUT must be a duration/],
    [{ RUNNER_UNIT_PATH: "runner.service" }, /RUNNER_UNIT_PATH must be an absolute path/],
    [{ RUNNER_MNG_ADMIN_PORT: "70000" }, /RUNNER_MNG_ADMIN_PORT must be a port/],
    [{ RUNNER_CLOUD: "gcp" }, /RUNNER_CLOUD must be aws or azure/],
    [{ RUNNER_UPDATE_READY_URL: "127.0.0.1:5000" }, /RUNNER_UPDATE_READY_URL must be an http/],
  ])("refuses %j naming the variable (exit 2)", (env, message) => {
    expect(() => mngOptionsFromEnv(env)).toThrow(message);
    try {
      mngOptionsFromEnv(env);
    } catch (err) {
      expect((err as { exitCode?: number }).exitCode).toBe(2);
    }
  });
});
