/**
 * The runner's configuration: ONE zod schema holding every option and its default (the only place
 * defaults live), plus `CONFIG_FIELDS`, the env name / flag / secrecy of each option. Values arrive as
 * strings (env, flags) or as YAML/JSON scalars (config file); the schema coerces both.
 */
import path from "node:path";
import * as z from "zod/mini";
import "../zod-locale.ts";
import { parseDurationMs } from "./duration.ts";

/** pino's level names, the normalised form of `logLevel`. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
/** A pino level name. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Log output formats: `auto` is pretty on a TTY and JSON otherwise. */
export const LOG_FORMATS = ["json", "pretty", "auto"] as const;
/** A log output format. */
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Which queued job a free worker claims first. */
export const JOB_ORDERS = ["oldest", "newest"] as const;

/** When a restart-journal change counts as done: written in place (fdatasync right after) or fdatasynced. */
export const JOURNAL_SYNCS = ["background", "always"] as const;

const LEVEL_ALIASES: Readonly<Record<string, LogLevel>> = { warning: "warn", err: "error", none: "silent" };

/** Normalises a Nuon/slog or pino level name ("INFO", "WARN", "warning", "debug") to pino's; undefined if unknown. */
export function normalizeLogLevel(input: string): LogLevel | undefined {
  const name = input.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(name)) return name as LogLevel;
  return LEVEL_ALIASES[name];
}

/** Reads true/false/1/0/yes/no (any case) or a boolean; undefined for anything else. */
export function parseBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value === 1 ? true : value === 0 ? false : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim().toLowerCase();
  if (text === "true" || text === "1" || text === "yes") return true;
  if (text === "false" || text === "0" || text === "no") return false;
  return undefined;
}

/** Reads a non-negative safe integer from a number or a string of digits; undefined otherwise. */
export function parseInteger(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== "string" || !/^\s*\d+\s*$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** Reads a byte size: an integer, or "100MiB", "10MB", "512KiB", "1GiB"; undefined otherwise. */
export function parseBytes(value: unknown): number | undefined {
  if (typeof value === "number") return parseInteger(value);
  if (typeof value !== "string") return undefined;
  const match = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(value);
  const unit = BYTE_UNITS[(match?.[2] ?? "").toLowerCase()];
  if (match === null || unit === undefined) return undefined;
  const n = Number(match[1]) * unit;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Reads per-group worker counts: "deploy=2,build=4" or an object `{ deploy: 2 }`; undefined if malformed. */
export function parseGroupConcurrency(value: unknown): Record<string, number> | undefined {
  let entries: [string, unknown][];
  if (typeof value === "string") {
    const parts = value.split(",").filter((part) => part.trim() !== "");
    entries = [];
    for (const part of parts) {
      const eq = part.indexOf("=");
      if (eq < 0) return undefined;
      entries.push([part.slice(0, eq).trim(), part.slice(eq + 1)]);
    }
  } else if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    entries = Object.entries(value);
  } else {
    return undefined;
  }
  const out: Record<string, number> = {};
  for (const [group, count] of entries) {
    const n = parseInteger(count);
    if (!/^[A-Za-z0-9_-]+$/.test(group) || n === undefined || n < 1) return undefined;
    out[group] = n;
  }
  return out;
}

/** A schema that turns a raw value into T with `parse`, or reports `expected <what>`. */
function coerced<T>(expected: string, parse: (value: unknown) => T | undefined) {
  return z.pipe(
    z.unknown(),
    z.transform((value, ctx): T => {
      const out = parse(value);
      if (out === undefined) {
        ctx.issues.push({ code: "custom", message: `expected ${expected}`, input: value });
        return z.NEVER;
      }
      return out;
    }),
  );
}

const text = (value: unknown) =>
  typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;

const httpUrl = coerced("an http(s) URL such as https://api.nuon.co", (value) => {
  const raw = text(value);
  if (raw === undefined || !URL.canParse(raw)) return undefined;
  const url = new URL(raw);
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  return raw.replace(/\/+$/, "");
});

const oneOf = <const T extends readonly string[]>(choices: T) =>
  coerced(`one of ${choices.join(", ")}`, (value) =>
    typeof value === "string" && choices.includes(value.trim().toLowerCase())
      ? (value.trim().toLowerCase() as T[number])
      : undefined,
  );

const bool = coerced("a boolean (true/false, 1/0, yes/no)", parseBoolean);

const durationMs = (minMs: number) =>
  coerced(
    minMs > 0
      ? 'a positive duration such as "30s", "5m", "1h30m", "250ms" or milliseconds'
      : 'a duration such as "30s", "5m", "1h30m", "250ms" or milliseconds',
    (value) => {
      if (typeof value !== "string" && typeof value !== "number") return undefined;
      const ms = parseDurationMs(value);
      return ms !== undefined && ms >= minMs ? ms : undefined;
    },
  );

/** Inputs the path defaults and relative paths depend on. */
export interface ConfigContext {
  /** Environment the defaults read (`XDG_STATE_HOME`). */
  env: NodeJS.ProcessEnv;
  /** Directory relative paths resolve against. */
  cwd: string;
  /** The user's home directory (`~` and the state default). */
  homeDir: string;
  /** The system temporary directory (workspace default). */
  tmpDir: string;
}

/** `${XDG_STATE_HOME or ~/.local/state}/runner`; a relative XDG_STATE_HOME is ignored as the spec says. */
export function defaultStateDir(ctx: ConfigContext): string {
  const xdg = ctx.env.XDG_STATE_HOME;
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(ctx.homeDir, ".local", "state");
  return path.join(base, "runner");
}

/** Builds the configuration schema; defaults that depend on the machine come from `ctx`. */
export function createConfigSchema(ctx: ConfigContext) {
  const dir = coerced("a directory path", (value) => {
    const raw = text(value);
    if (raw === undefined) return undefined;
    const expanded = raw === "~" || raw.startsWith("~/") ? path.join(ctx.homeDir, raw.slice(1)) : raw;
    return path.resolve(ctx.cwd, expanded);
  });
  return z
    .strictObject({
      /** Base URL of the Nuon Runner API. Default https://api.nuon.co (Nuon's default); trailing `/` removed. */
      apiUrl: z._default(httpUrl, "https://api.nuon.co"),
      /** Runner API token (secret; never printed). No default; required by commands that talk to the API. */
      apiToken: z.optional(coerced("a non-empty token", text)),
      /** This runner's id in the control plane. No default; required by commands that talk to the API. */
      runnerId: z.optional(coerced("a non-empty runner id", text)),
      /** Log level, Nuon names accepted (INFO, WARN…), normalised to pino's. Default "info". */
      logLevel: z._default(
        coerced(`a log level (${LOG_LEVELS.join(", ")})`, (v) =>
          typeof v === "string" ? normalizeLogLevel(v) : undefined,
        ),
        "info",
      ),
      /** Log output: json, pretty, or auto (pretty on a TTY). Default "auto". */
      logFormat: z._default(oneOf(LOG_FORMATS), "auto"),
      /** Directory for the journal, log spool and run records. Default `${XDG_STATE_HOME or ~/.local/state}/runner`. */
      stateDir: z._default(dir, defaultStateDir(ctx)),
      /** Parent directory of per-job workspaces. Default `${os.tmpdir()}/runner-workspaces`. */
      workspaceDir: z._default(dir, path.join(ctx.tmpDir, "runner-workspaces")),
      /** Keep job workspaces after the job ends (debugging). Default false. */
      keepWorkspaces: z._default(bool, false),
      /** Address the admin server (/healthz, /readyz, /metrics) listens on. Default "127.0.0.1" (loopback). */
      adminHost: z._default(coerced("a host name or IP address", text), "127.0.0.1"),
      /** Admin server port; 0 picks a free port. Default 5000. */
      adminPort: z._default(
        coerced("a port number from 0 to 65535", (v) => {
          const n = parseInteger(v);
          return n !== undefined && n <= 65_535 ? n : undefined;
        }),
        5000,
      ),
      /** Workers per job group (as Nuon). Default 1. */
      concurrency: z._default(
        coerced("a positive integer", (v) => {
          const n = parseInteger(v);
          return n !== undefined && n >= 1 ? n : undefined;
        }),
        1,
      ),
      /** Per-group worker counts overriding `concurrency`, e.g. "deploy=2,build=4". Default none. */
      groupConcurrency: z._default(
        coerced('group=count pairs such as "deploy=2,build=4" with positive counts', parseGroupConcurrency),
        {},
      ),
      /** Which queued job is claimed first: oldest or newest. Default "oldest". */
      jobOrder: z._default(oneOf(JOB_ORDERS), "oldest"),
      /** Try the long-poll (tail) endpoint first, falling back to polling on 404. Default true. */
      longPoll: z._default(bool, true),
      /** How long one long-poll request waits for a job, in ms. Default 25 s. */
      longPollWaitMs: z._default(durationMs(1), 25_000),
      /** Idle poll interval base, in ms. Default 1 s. */
      pollIntervalMs: z._default(durationMs(1), 1_000),
      /** Longest idle poll interval after backoff, in ms. Default 5 s. */
      pollMaxIntervalMs: z._default(durationMs(1), 5_000),
      /** Per-request deadline for control-plane calls, in ms. Default 10 s. */
      requestTimeoutMs: z._default(durationMs(1), 10_000),
      /** Total time to keep retrying the settings fetch at startup, in ms. Default 5 min. */
      settingsRetryMs: z._default(durationMs(1), 300_000),
      /** On shutdown, how long running jobs may finish before they are cancelled, in ms. Default 10 min. */
      drainTimeoutMs: z._default(durationMs(0), 600_000),
      /** Between SIGTERM and SIGKILL of a job's processes, in ms. Default 10 s. */
      killGraceMs: z._default(durationMs(0), 10_000),
      /** Per-request deadline for heartbeats, in ms. Default 5 s. */
      heartbeatTimeoutMs: z._default(durationMs(1), 5_000),
      /** Skip TLS certificate verification (DANGEROUS: anyone on the path can read the token). Default false. */
      tlsInsecure: z._default(bool, false),
      /** When a restart-journal change counts as done: `background` (written in place, which survives kill -9;
       * fdatasynced right after, off the job's path) or `always` (fdatasynced first, ~1–2 ms per write).
       * Default "background". */
      journalSync: z._default(oneOf(JOURNAL_SYNCS), "background"),
      /** After this long without a job, one full garbage collection returns the memory startup or the last jobs
       * left behind, in ms; 0 turns it off. Default 2 s. */
      idleGcDelayMs: z._default(durationMs(0), 2_000),
      /** Largest size of one job's on-disk log spool, in bytes. Default 100 MiB. */
      logSpoolMaxBytes: z._default(
        coerced('a positive byte size such as 104857600 or "100MiB"', (v) => {
          const n = parseBytes(v);
          return n !== undefined && n >= 1 ? n : undefined;
        }),
        100 * 1024 ** 2,
      ),
      /** The YAML or JSON config file that was read (flag or env only). Default none. */
      configFile: z.optional(dir),
    })
    .check((payload) => {
      const { pollIntervalMs, pollMaxIntervalMs } = payload.value;
      if (pollMaxIntervalMs < pollIntervalMs) {
        payload.issues.push({
          code: "custom",
          path: ["pollMaxIntervalMs"],
          message: `must be at least pollIntervalMs (${pollIntervalMs} ms)`,
          input: pollMaxIntervalMs,
        });
      }
    });
}

/** The effective configuration, every field parsed and defaulted. */
export type Config = z.output<ReturnType<typeof createConfigSchema>>;
/** A configuration option's name. */
export type ConfigField = keyof Config;

/** How an option is set outside the file, and whether its value is secret. */
export interface ConfigFieldMeta {
  /** Environment variable name. */
  env: string;
  /** Command-line flag (without the leading `--`), if there is one. */
  flag?: string;
  /** Secret: masked by check-config, never logged, never echoed in errors. */
  secret?: boolean;
  /** False when the option cannot be set in the config file. Default true. */
  inFile?: boolean;
}

/** Env name, flag and secrecy of every option, in display order. */
export const CONFIG_FIELDS: Readonly<Record<ConfigField, Readonly<ConfigFieldMeta>>> = {
  apiUrl: { env: "RUNNER_API_URL", flag: "api-url" },
  apiToken: { env: "RUNNER_API_TOKEN", flag: "api-token", secret: true },
  runnerId: { env: "RUNNER_ID", flag: "runner-id" },
  logLevel: { env: "LOG_LEVEL", flag: "log-level" },
  logFormat: { env: "RUNNER_LOG_FORMAT", flag: "log-format" },
  stateDir: { env: "RUNNER_STATE_DIR", flag: "state-dir" },
  workspaceDir: { env: "RUNNER_WORKSPACE_DIR" },
  keepWorkspaces: { env: "RUNNER_KEEP_WORKSPACES" },
  adminHost: { env: "RUNNER_ADMIN_HOST" },
  adminPort: { env: "RUNNER_ADMIN_PORT", flag: "admin-port" },
  concurrency: { env: "RUNNER_CONCURRENCY", flag: "concurrency" },
  groupConcurrency: { env: "RUNNER_GROUP_CONCURRENCY" },
  jobOrder: { env: "RUNNER_JOB_ORDER" },
  longPoll: { env: "RUNNER_LONG_POLL" },
  longPollWaitMs: { env: "RUNNER_LONG_POLL_WAIT" },
  pollIntervalMs: { env: "RUNNER_POLL_INTERVAL" },
  pollMaxIntervalMs: { env: "RUNNER_POLL_MAX_INTERVAL" },
  requestTimeoutMs: { env: "RUNNER_REQUEST_TIMEOUT" },
  settingsRetryMs: { env: "RUNNER_SETTINGS_RETRY" },
  drainTimeoutMs: { env: "RUNNER_DRAIN_TIMEOUT" },
  killGraceMs: { env: "RUNNER_KILL_GRACE" },
  heartbeatTimeoutMs: { env: "RUNNER_HEARTBEAT_REQUEST_TIMEOUT" },
  tlsInsecure: { env: "RUNNER_TLS_INSECURE" },
  journalSync: { env: "RUNNER_JOURNAL_SYNC" },
  idleGcDelayMs: { env: "RUNNER_IDLE_GC_DELAY" },
  logSpoolMaxBytes: { env: "RUNNER_LOG_SPOOL_MAX_BYTES" },
  configFile: { env: "RUNNER_CONFIG", flag: "config", inFile: false },
};

/** Every option name, in display order. */
export const CONFIG_FIELD_NAMES = Object.keys(CONFIG_FIELDS) as ConfigField[];
