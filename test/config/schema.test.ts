import { describe, expect, it } from "vitest";
import {
  CONFIG_FIELD_NAMES,
  CONFIG_FIELDS,
  type ConfigContext,
  createConfigSchema,
  defaultStateDir,
  normalizeLogLevel,
  parseBoolean,
  parseBytes,
  parseGroupConcurrency,
} from "../../src/config/schema.ts";

const ctx: ConfigContext = { env: {}, cwd: "/work/here", homeDir: "/home/ann", tmpDir: "/tmp" };

describe("parseBoolean", () => {
  it.each([
    ["true", true],
    ["TRUE", true],
    ["1", true],
    ["yes", true],
    ["Yes", true],
    ["false", false],
    ["0", false],
    ["no", false],
    [" no ", false],
    [true, true],
    [false, false],
    [1, true],
    [0, false],
  ] as const)("reads %j as %j", (input, value) => {
    expect(parseBoolean(input)).toBe(value);
  });

  it.each(["", "maybe", "2", "tru", 2, null, {}])("rejects %j", (input) => {
    expect(parseBoolean(input)).toBeUndefined();
  });
});

describe("normalizeLogLevel", () => {
  it.each([
    ["INFO", "info"],
    ["info", "info"],
    ["debug", "debug"],
    ["DEBUG", "debug"],
    ["WARN", "warn"],
    ["warning", "warn"],
    ["error", "error"],
    ["ERROR", "error"],
    ["trace", "trace"],
    ["fatal", "fatal"],
    ["silent", "silent"],
  ] as const)("maps %j to pino's %j", (input, level) => {
    expect(normalizeLogLevel(input)).toBe(level);
  });

  it.each(["verbose", "", "10", "inf"])("rejects %j", (input) => {
    expect(normalizeLogLevel(input)).toBeUndefined();
  });
});

describe("parseGroupConcurrency", () => {
  it.each([
    ["deploy=2,build=4", { deploy: 2, build: 4 }],
    [" deploy = 2 , build=4 ,", { deploy: 2, build: 4 }],
    ["", {}],
    [{ sync: 3 }, { sync: 3 }],
    [{ sync: "3" }, { sync: 3 }],
  ] as const)("reads %j", (input, value) => {
    expect(parseGroupConcurrency(input)).toEqual(value);
  });

  it.each(["deploy", "deploy=0", "deploy=-1", "deploy=x", "de ploy=2", "=2", ["deploy=2"], 3, { a: 0 }])(
    "rejects %j",
    (input) => {
      expect(parseGroupConcurrency(input)).toBeUndefined();
    },
  );
});

describe("parseBytes", () => {
  it.each([
    ["1024", 1024],
    [2048, 2048],
    ["100MiB", 100 * 1024 * 1024],
    ["10MB", 10_000_000],
    ["512 KiB", 512 * 1024],
    ["1gib", 1024 ** 3],
  ] as const)("reads %j as %i bytes", (input, bytes) => {
    expect(parseBytes(input)).toBe(bytes);
  });

  it.each(["", "10 parsecs", "1.5MiB", "-1", -1, 1.5])("rejects %j", (input) => {
    expect(parseBytes(input)).toBeUndefined();
  });
});

describe("defaultStateDir", () => {
  it("uses an absolute XDG_STATE_HOME", () => {
    expect(defaultStateDir({ ...ctx, env: { XDG_STATE_HOME: "/var/state" } })).toBe("/var/state/runner");
  });

  it("falls back to ~/.local/state when XDG_STATE_HOME is unset or relative", () => {
    expect(defaultStateDir(ctx)).toBe("/home/ann/.local/state/runner");
    expect(defaultStateDir({ ...ctx, env: { XDG_STATE_HOME: "rel/state" } })).toBe(
      "/home/ann/.local/state/runner",
    );
  });
});

describe("createConfigSchema", () => {
  it("fills every field's default from an empty input", () => {
    const config = createConfigSchema(ctx).parse({});
    expect(config).toEqual({
      apiUrl: "https://api.nuon.co",
      apiToken: undefined,
      runnerId: undefined,
      logLevel: "info",
      logFormat: "auto",
      stateDir: "/home/ann/.local/state/runner",
      workspaceDir: "/tmp/runner-workspaces",
      keepWorkspaces: false,
      adminHost: "127.0.0.1",
      adminPort: 5000,
      concurrency: 1,
      groupConcurrency: {},
      jobOrder: "oldest",
      longPoll: true,
      longPollWaitMs: 25_000,
      pollIntervalMs: 1_000,
      pollMaxIntervalMs: 5_000,
      requestTimeoutMs: 10_000,
      settingsRetryMs: 300_000,
      drainTimeoutMs: 600_000,
      killGraceMs: 10_000,
      heartbeatTimeoutMs: 5_000,
      tlsInsecure: false,
      logSpoolMaxBytes: 104_857_600,
      journalSync: "background",
      idleGcDelayMs: 2000,
      configFile: undefined,
    });
  });

  it("resolves relative and ~ paths and trims a trailing slash from the API URL", () => {
    const config = createConfigSchema(ctx).parse({
      stateDir: "state",
      workspaceDir: "~/ws",
      apiUrl: "http://127.0.0.1:8080/",
    });
    expect(config.stateDir).toBe("/work/here/state");
    expect(config.workspaceDir).toBe("/home/ann/ws");
    expect(config.apiUrl).toBe("http://127.0.0.1:8080");
  });

  it("rejects a poll ceiling below the poll base, naming pollMaxIntervalMs", () => {
    const result = createConfigSchema(ctx).safeParse({ pollIntervalMs: "10s", pollMaxIntervalMs: "2s" });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(["pollMaxIntervalMs"]);
  });
});

describe("CONFIG_FIELDS", () => {
  it("describes every schema field, with unique env names and flags", () => {
    const schemaKeys = Object.keys(createConfigSchema(ctx).shape);
    expect([...CONFIG_FIELD_NAMES].sort()).toEqual(schemaKeys.sort());
    const envs = CONFIG_FIELD_NAMES.map((f) => CONFIG_FIELDS[f].env);
    const flags = CONFIG_FIELD_NAMES.flatMap((f) => CONFIG_FIELDS[f].flag ?? []);
    expect(new Set(envs).size).toBe(envs.length);
    expect(new Set(flags).size).toBe(flags.length);
  });

  it("keeps the Nuon-compatible env names", () => {
    expect(CONFIG_FIELDS.apiUrl.env).toBe("RUNNER_API_URL");
    expect(CONFIG_FIELDS.apiToken.env).toBe("RUNNER_API_TOKEN");
    expect(CONFIG_FIELDS.runnerId.env).toBe("RUNNER_ID");
    expect(CONFIG_FIELDS.logLevel.env).toBe("LOG_LEVEL");
    expect(CONFIG_FIELDS.apiToken.secret).toBe(true);
  });
});
