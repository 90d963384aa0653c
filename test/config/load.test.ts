import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageError } from "../../src/cli/args.ts";
import {
  ConfigError,
  type ConfigFlags,
  configFlagsFromValues,
  type LoadConfigOptions,
  loadConfig,
  parseConfigFlags,
  requireConfig,
} from "../../src/config/load.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "runner-config-test-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const TOKEN = "tok_0123456789abcdefSECRET";

function load(opts: Partial<LoadConfigOptions> = {}) {
  return loadConfig({ env: {}, cwd: dir, homeDir: "/home/ann", tmpDir: "/tmp", ...opts });
}

async function file(name: string, text: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
}

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe("loadConfig precedence", () => {
  it("takes a flag over env over file over default, and records each source", async () => {
    const cfg = await file(
      "prec.yaml",
      "concurrency: 4\njobOrder: newest\nlogLevel: debug\nadminPort: 7001\n",
    );
    const { config, sources } = await load({
      flags: { concurrency: "9", configFile: cfg },
      env: { RUNNER_CONCURRENCY: "8", RUNNER_JOB_ORDER: "oldest", LOG_LEVEL: "WARN" },
    });
    expect(config.concurrency).toBe(9);
    expect(sources.concurrency).toBe("flag");
    expect(config.jobOrder).toBe("oldest");
    expect(sources.jobOrder).toBe("env");
    expect(config.logLevel).toBe("warn");
    expect(sources.logLevel).toBe("env");
    expect(config.adminPort).toBe(7001);
    expect(sources.adminPort).toBe("file");
    expect(config.apiUrl).toBe("https://api.nuon.co");
    expect(sources.apiUrl).toBe("default");
    expect(config.configFile).toBe(cfg);
    expect(sources.configFile).toBe("flag");
  });

  it("treats an empty env variable as unset", async () => {
    const { config, sources } = await load({ env: { RUNNER_API_URL: "", RUNNER_API_TOKEN: "" } });
    expect(config.apiUrl).toBe("https://api.nuon.co");
    expect(config.apiToken).toBeUndefined();
    expect(sources.apiToken).toBe("default");
  });

  it("reads every option from its env name", async () => {
    const { config } = await load({
      env: {
        RUNNER_API_URL: "http://127.0.0.1:9000/",
        RUNNER_API_TOKEN: TOKEN,
        RUNNER_ID: "run_1",
        LOG_LEVEL: "INFO",
        RUNNER_LOG_FORMAT: "json",
        RUNNER_STATE_DIR: "/var/lib/runner",
        RUNNER_WORKSPACE_DIR: "ws",
        RUNNER_KEEP_WORKSPACES: "yes",
        RUNNER_ADMIN_HOST: "0.0.0.0",
        RUNNER_ADMIN_PORT: "0",
        RUNNER_CONCURRENCY: "2",
        RUNNER_GROUP_CONCURRENCY: "deploy=2,build=4",
        RUNNER_JOB_ORDER: "newest",
        RUNNER_LONG_POLL: "0",
        RUNNER_LONG_POLL_WAIT: "20s",
        RUNNER_POLL_INTERVAL: "500ms",
        RUNNER_POLL_MAX_INTERVAL: "3s",
        RUNNER_REQUEST_TIMEOUT: "15000",
        RUNNER_SETTINGS_RETRY: "1m",
        RUNNER_DRAIN_TIMEOUT: "1h30m",
        RUNNER_KILL_GRACE: "0",
        RUNNER_HEARTBEAT_REQUEST_TIMEOUT: "2s",
        RUNNER_TLS_INSECURE: "true",
        RUNNER_LOG_SPOOL_MAX_BYTES: "10MiB",
        RUNNER_JOURNAL_SYNC: "always",
        RUNNER_IDLE_GC_DELAY: "5s",
      },
    });
    expect(config).toEqual({
      apiUrl: "http://127.0.0.1:9000",
      apiToken: TOKEN,
      runnerId: "run_1",
      logLevel: "info",
      logFormat: "json",
      stateDir: "/var/lib/runner",
      workspaceDir: path.join(dir, "ws"),
      keepWorkspaces: true,
      adminHost: "0.0.0.0",
      adminPort: 0,
      concurrency: 2,
      groupConcurrency: { deploy: 2, build: 4 },
      jobOrder: "newest",
      longPoll: false,
      longPollWaitMs: 20_000,
      pollIntervalMs: 500,
      pollMaxIntervalMs: 3_000,
      requestTimeoutMs: 15_000,
      settingsRetryMs: 60_000,
      drainTimeoutMs: 5_400_000,
      killGraceMs: 0,
      heartbeatTimeoutMs: 2_000,
      tlsInsecure: true,
      logSpoolMaxBytes: 10 * 1024 * 1024,
      journalSync: "always",
      idleGcDelayMs: 5000,
    });
  });
});

describe("loadConfig config files", () => {
  it("reads a YAML file with camelCase keys, env-name keys and native scalars", async () => {
    const cfg = await file(
      "ok.yaml",
      [
        "# comment",
        "apiUrl: http://127.0.0.1:8080",
        `RUNNER_API_TOKEN: ${TOKEN}`,
        "keepWorkspaces: yes",
        "longPoll: false",
        "drainTimeoutMs: 2m",
        "requestTimeoutMs: 1500",
        "groupConcurrency:",
        "  deploy: 2",
        "runnerId:",
      ].join("\n"),
    );
    const { config, sources } = await load({ env: { RUNNER_CONFIG: cfg } });
    expect(config).toMatchObject({
      apiUrl: "http://127.0.0.1:8080",
      apiToken: TOKEN,
      keepWorkspaces: true,
      longPoll: false,
      drainTimeoutMs: 120_000,
      requestTimeoutMs: 1_500,
      groupConcurrency: { deploy: 2 },
    });
    expect(config.runnerId).toBeUndefined();
    expect(sources.apiToken).toBe("file");
    expect(sources.runnerId).toBe("default");
    expect(sources.configFile).toBe("env");
  });

  it("reads a JSON file relative to cwd", async () => {
    await file("ok.json", JSON.stringify({ concurrency: 3, RUNNER_JOB_ORDER: "newest", tlsInsecure: "1" }));
    const { config, sources } = await load({ flags: { configFile: "ok.json" } });
    expect(config.concurrency).toBe(3);
    expect(config.jobOrder).toBe("newest");
    expect(config.tlsInsecure).toBe(true);
    expect(sources.concurrency).toBe("file");
    expect(config.configFile).toBe(path.join(dir, "ok.json"));
  });

  it("names the file when it does not exist", async () => {
    const missing = path.join(dir, "nope.yaml");
    const err = await configError(load({ flags: { configFile: missing } }));
    expect(err.message).toContain(missing);
    expect(err.message).toContain("ENOENT");
    expect(err.exitCode).toBe(2);
  });

  it("names the file when it cannot be read (a directory)", async () => {
    const err = await configError(load({ flags: { configFile: dir } }));
    expect(err.message).toContain(`cannot read config file ${dir}`);
  });

  it("names the file and position when it does not parse, without echoing its contents", async () => {
    const bad = await file("bad.yaml", `apiUrl: http://x\napiToken: "${TOKEN}\n`);
    const err = await configError(load({ flags: { configFile: bad } }));
    expect(err.message).toContain(bad);
    expect(err.message).toMatch(/line \d+, column \d+/);
    expect(err.message).not.toContain(TOKEN);
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain(TOKEN);
    expect(err.cause).toBeUndefined();
  });

  it.each([
    ["a list", "- a\n- b\n", "must hold a mapping"],
    ["an unknown key", "concurency: 2\n", 'unknown key "concurency"'],
    ["the config key itself", "configFile: other.yaml\n", 'key "configFile" cannot be set'],
    ["a field set twice", "concurrency: 2\nRUNNER_CONCURRENCY: 3\n", "both set concurrency"],
  ])("rejects a file holding %s", async (_name, text, message) => {
    const cfg = await file("reject.yaml", text);
    const err = await configError(load({ flags: { configFile: cfg } }));
    expect(err.message).toContain(message);
    expect(err.message).toContain(cfg);
  });

  it("accepts an empty file", async () => {
    const cfg = await file("empty.yaml", "");
    const { config } = await load({ flags: { configFile: cfg } });
    expect(config.concurrency).toBe(1);
  });
});

describe("loadConfig invalid values", () => {
  it.each<[string, Partial<LoadConfigOptions>, string]>([
    [
      "concurrency from env",
      { env: { RUNNER_CONCURRENCY: "abc" } },
      'concurrency (from env RUNNER_CONCURRENCY): expected a positive integer, got "abc"',
    ],
    [
      "concurrency of zero from a flag",
      { flags: { concurrency: "0" } },
      'concurrency (from flag --concurrency): expected a positive integer, got "0"',
    ],
    [
      "an ftp API URL",
      { env: { RUNNER_API_URL: "ftp://example.invalid" } },
      "apiUrl (from env RUNNER_API_URL): expected an http(s) URL",
    ],
    [
      "a log level",
      { flags: { logLevel: "loud" } },
      "logLevel (from flag --log-level): expected a log level",
    ],
    [
      "a log format",
      { env: { RUNNER_LOG_FORMAT: "xml" } },
      'logFormat (from env RUNNER_LOG_FORMAT): expected one of json, pretty, auto, got "xml"',
    ],
    [
      "a boolean",
      { env: { RUNNER_LONG_POLL: "maybe" } },
      'longPoll (from env RUNNER_LONG_POLL): expected a boolean (true/false, 1/0, yes/no), got "maybe"',
    ],
    [
      "a duration",
      { env: { RUNNER_REQUEST_TIMEOUT: "10 seconds" } },
      "requestTimeoutMs (from env RUNNER_REQUEST_TIMEOUT): expected a positive duration",
    ],
    [
      "a zero poll interval",
      { env: { RUNNER_POLL_INTERVAL: "0s" } },
      "pollIntervalMs (from env RUNNER_POLL_INTERVAL)",
    ],
    [
      "a port",
      { flags: { adminPort: "70000" } },
      "adminPort (from flag --admin-port): expected a port number",
    ],
    [
      "group counts",
      { env: { RUNNER_GROUP_CONCURRENCY: "deploy=two" } },
      "groupConcurrency (from env RUNNER_GROUP_CONCURRENCY): expected group=count pairs",
    ],
    [
      "a job order",
      { env: { RUNNER_JOB_ORDER: "random" } },
      "jobOrder (from env RUNNER_JOB_ORDER): expected one of oldest, newest",
    ],
    [
      "a byte size",
      { env: { RUNNER_LOG_SPOOL_MAX_BYTES: "lots" } },
      "logSpoolMaxBytes (from env RUNNER_LOG_SPOOL_MAX_BYTES): expected a positive byte size",
    ],
    [
      "a poll ceiling below the base",
      { env: { RUNNER_POLL_INTERVAL: "10s", RUNNER_POLL_MAX_INTERVAL: "1s" } },
      "pollMaxIntervalMs (from env RUNNER_POLL_MAX_INTERVAL): must be at least pollIntervalMs",
    ],
  ])("names the field and source of %s", async (_name, opts, line) => {
    const err = await configError(load(opts));
    expect(err.message).toContain(line);
    expect(err.exitCode).toBe(2);
  });

  it("names the file as the source of a bad file value", async () => {
    const cfg = await file("badvalue.yaml", "concurrency: -3\nkeepWorkspaces: sometimes\n");
    const err = await configError(load({ flags: { configFile: cfg } }));
    expect(err.message).toContain(`concurrency (from file ${cfg}): expected a positive integer, got -3`);
    expect(err.message).toContain(`keepWorkspaces (from file ${cfg})`);
    // Issues come in display order (CONFIG_FIELDS), not file order.
    expect(err.issues.map((i) => [i.field, i.source])).toEqual([
      ["keepWorkspaces", "file"],
      ["concurrency", "file"],
    ]);
  });

  it("never echoes a rejected token", async () => {
    const cfg = await file("badtoken.yaml", `apiToken: ["${TOKEN}"]\n`);
    const err = await configError(load({ flags: { configFile: cfg } }));
    expect(err.message).toContain("apiToken (from file");
    expect(err.message).not.toContain(TOKEN);
  });
});

describe("parseConfigFlags", () => {
  it.each<[string[], ConfigFlags, string[]]>([
    [["--api-url", "http://a", "--name", "x"], { apiUrl: "http://a" }, ["--name", "x"]],
    [
      ["--concurrency=3", "job.yaml", "--config", "c.yaml"],
      { concurrency: "3", configFile: "c.yaml" },
      ["job.yaml"],
    ],
    [["--log-level", "debug", "--log-level", "error"], { logLevel: "error" }, []],
    [["--verbose", "--", "--api-url", "x"], {}, ["--verbose", "--", "--api-url", "x"]],
    [["--api-token=", "-o", "json"], { apiToken: "" }, ["-o", "json"]],
  ])("splits %j", (argv, flags, rest) => {
    expect(parseConfigFlags(argv)).toEqual({ flags, rest });
  });

  it("throws a UsageError when a config flag has no value", () => {
    expect(() => parseConfigFlags(["--api-url"])).toThrow(UsageError);
    expect(() => parseConfigFlags(["--runner-id", "--concurrency", "2"])).toThrow(
      "option --runner-id needs a value",
    );
  });

  it("feeds loadConfig so flags win", async () => {
    const { flags } = parseConfigFlags(["--runner-id", "r1"]);
    const { config, sources } = await load({ flags, env: { RUNNER_ID: "r0" } });
    expect(config.runnerId).toBe("r1");
    expect(sources.runnerId).toBe("flag");
  });
});

describe("configFlagsFromValues", () => {
  it("maps parseArgs values keyed by flag to fields and ignores other flags", () => {
    expect(
      configFlagsFromValues({ "api-url": "http://a", output: "json", "state-dir": "/s", help: true }),
    ).toEqual({
      apiUrl: "http://a",
      stateDir: "/s",
    });
  });
});

describe("requireConfig", () => {
  it("names each missing field and how to set it", async () => {
    const { config } = await load();
    expect(() => requireConfig(config, ["apiToken", "runnerId"])).toThrow(
      /apiToken: required: set env RUNNER_API_TOKEN or flag --api-token\n.*runnerId: required/,
    );
  });

  it("passes when the fields are set", async () => {
    const { config } = await load({ env: { RUNNER_API_TOKEN: TOKEN, RUNNER_ID: "r" } });
    expect(() => requireConfig(config, ["apiToken", "runnerId"])).not.toThrow();
  });
});
