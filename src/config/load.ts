/**
 * Loads the effective configuration: flags > env > config file > default, parsed once by the schema,
 * with the source of every field. Problems become one `ConfigError` naming each field and where it came from.
 */
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ParseArgsOptionsConfig } from "node:util";
import { UsageError } from "../cli/args.ts";
import {
  CONFIG_FIELD_NAMES,
  CONFIG_FIELDS,
  type Config,
  type ConfigContext,
  type ConfigField,
  createConfigSchema,
} from "./schema.ts";

/** Where a field's value came from. */
export type ConfigSource = "default" | "file" | "env" | "flag";
/** The source of every field. */
export type ConfigSources = Record<ConfigField, ConfigSource>;
/** Flag values by field name, as given on the command line. */
export type ConfigFlags = Partial<Record<ConfigField, string>>;

/** One invalid field: its name (with a sub-path, e.g. `groupConcurrency.deploy`), origin and problem. */
export interface ConfigIssue {
  field: string;
  source: ConfigSource;
  /** Human origin: `env RUNNER_CONCURRENCY`, `flag --concurrency`, `file /etc/runner.yaml`, `default`. */
  origin: string;
  message: string;
}

/** Invalid configuration or an unreadable config file; commands exit 2 on it. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** Exit code for configuration errors (2). */
  readonly exitCode = 2;
  /** The individual problems (empty for file-level errors). */
  readonly issues: readonly ConfigIssue[];
  constructor(message: string, issues: readonly ConfigIssue[] = [], options?: ErrorOptions) {
    super(message, options);
    this.issues = issues;
  }
}

/** Inputs to `loadConfig`. */
export interface LoadConfigOptions {
  /** Config flags already parsed from argv (see `parseConfigFlags`). Default none. */
  flags?: ConfigFlags;
  /** The environment to read. */
  env: NodeJS.ProcessEnv;
  /** Directory that relative paths (config file, dirs) resolve against. */
  cwd: string;
  /** Home directory for `~` and the state default. Default `env.HOME`, else `os.homedir()`. */
  homeDir?: string;
  /** Temporary directory for the workspace default. Default `os.tmpdir()`. */
  tmpDir?: string;
}

/** The effective configuration and where each field came from. */
export interface LoadedConfig {
  config: Config;
  sources: ConfigSources;
}

/** parseArgs descriptors for every config flag, to spread into a command's own options. */
export const CONFIG_FLAG_OPTIONS: ParseArgsOptionsConfig = Object.fromEntries(
  CONFIG_FIELD_NAMES.flatMap((field) => {
    const flag = CONFIG_FIELDS[field].flag;
    return flag === undefined ? [] : [[flag, { type: "string" as const }]];
  }),
);

const FIELD_BY_FLAG = new Map(
  CONFIG_FIELD_NAMES.flatMap((field) => {
    const flag = CONFIG_FIELDS[field].flag;
    return flag === undefined ? [] : [[flag, field] as const];
  }),
);

/** Picks the config flags out of parseArgs `values` (keyed by flag name). */
export function configFlagsFromValues(values: Readonly<Record<string, unknown>>): ConfigFlags {
  const flags: ConfigFlags = {};
  for (const [flag, field] of FIELD_BY_FLAG) {
    const value = values[flag];
    if (typeof value === "string") flags[field] = value;
  }
  return flags;
}

/**
 * Splits argv into the config flags (`--api-url X`, `--api-url=X`) and the rest, in order, so a command
 * can parse the rest with its own flags. Everything after `--` is left in the rest. Throws `UsageError`
 * when a config flag has no value.
 */
export function parseConfigFlags(argv: readonly string[]): { flags: ConfigFlags; rest: string[] } {
  const flags: ConfigFlags = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    const eq = arg.indexOf("=");
    const field = arg.startsWith("--") ? FIELD_BY_FLAG.get(arg.slice(2, eq < 0 ? undefined : eq)) : undefined;
    if (field === undefined) {
      rest.push(arg);
      continue;
    }
    if (eq >= 0) {
      flags[field] = arg.slice(eq + 1);
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined || (value.startsWith("-") && value !== "-")) {
      throw new UsageError(`option --${CONFIG_FIELDS[field].flag} needs a value`);
    }
    flags[field] = value;
    i++;
  }
  return { flags, rest };
}

const FIELD_BY_KEY = new Map<string, ConfigField>(
  CONFIG_FIELD_NAMES.flatMap((field) => [
    [field, field],
    [CONFIG_FIELDS[field].env, field],
  ]),
);

/** Reads and parses a YAML/JSON config file into raw values by field; throws ConfigError naming the file. */
async function readConfigFile(file: string): Promise<Partial<Record<ConfigField, unknown>>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(`cannot read config file ${file} (${reason}); fix the path or unset it`, [], {
      cause: err,
    });
  }
  // Loaded here, not at startup: most runners are configured by env and flags, and yaml is 160 kB of code.
  const YAML = (await import("yaml")).default;
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    // Only the first line, and no `cause`: yaml's message goes on to quote the file, which may hold the token.
    const reason = ((err as Error).message ?? "").split(":\n")[0];
    throw new ConfigError(`config file ${file} is not valid YAML or JSON: ${reason}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new ConfigError(`config file ${file} must hold a mapping of option names to values`);
  }
  const raw: Partial<Record<ConfigField, unknown>> = {};
  const seen = new Map<ConfigField, string>();
  const problems: string[] = [];
  for (const [key, value] of Object.entries(doc)) {
    const field = FIELD_BY_KEY.get(key);
    if (field === undefined) problems.push(`unknown key "${key}"`);
    else if (CONFIG_FIELDS[field].inFile === false)
      problems.push(`key "${key}" cannot be set in a config file`);
    else if (seen.has(field)) problems.push(`keys "${seen.get(field)}" and "${key}" both set ${field}`);
    else {
      seen.set(field, key);
      if (value !== null) raw[field] = value;
    }
  }
  if (problems.length > 0) {
    const issues = problems.map((message) => ({
      field: "",
      source: "file" as const,
      origin: `file ${file}`,
      message,
    }));
    throw new ConfigError(
      `invalid config file ${file}:\n${problems.map((p) => `  ✖ ${p}`).join("\n")}\n  (keys are option names such as apiUrl, or env names such as RUNNER_API_URL)`,
      issues,
    );
  }
  return raw;
}

/** Quotes a rejected value for an error message, shortened. */
function describeValue(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

/** Loads the configuration with precedence flags > env > config file > default; throws ConfigError. */
export async function loadConfig(opts: LoadConfigOptions): Promise<LoadedConfig> {
  const flags = opts.flags ?? {};
  const ctx: ConfigContext = {
    env: opts.env,
    cwd: opts.cwd,
    homeDir: opts.homeDir ?? opts.env.HOME ?? os.homedir(),
    tmpDir: opts.tmpDir ?? os.tmpdir(),
  };
  const envValue = (field: ConfigField) => {
    const value = opts.env[CONFIG_FIELDS[field].env];
    return value === undefined || value === "" ? undefined : value;
  };

  const fileArg = flags.configFile ?? envValue("configFile");
  const file =
    fileArg === undefined ? undefined : path.resolve(ctx.cwd, fileArg.replace(/^~(?=$|\/)/, ctx.homeDir));
  const fromFile = file === undefined ? {} : await readConfigFile(file);

  const raw: Partial<Record<ConfigField, unknown>> = {};
  const sources = {} as ConfigSources;
  const origins = {} as Record<ConfigField, string>;
  const set = (field: ConfigField, source: ConfigSource, origin: string, value: unknown) => {
    sources[field] = source;
    origins[field] = origin;
    if (value !== undefined) raw[field] = value;
  };
  for (const field of CONFIG_FIELD_NAMES) {
    const meta = CONFIG_FIELDS[field];
    const fromEnv = envValue(field);
    if (flags[field] !== undefined) set(field, "flag", `flag --${meta.flag}`, flags[field]);
    else if (fromEnv !== undefined) set(field, "env", `env ${meta.env}`, fromEnv);
    else if (fromFile[field] !== undefined) set(field, "file", `file ${file}`, fromFile[field]);
    else set(field, "default", "default", undefined);
  }

  const result = createConfigSchema(ctx).safeParse(raw);
  if (result.success) return { config: result.data, sources };

  const issues: ConfigIssue[] = result.error.issues.map((issue) => {
    const field = String(issue.path[0] ?? "") as ConfigField;
    const meta = CONFIG_FIELDS[field];
    const got = meta?.secret === true || raw[field] === undefined ? "" : `, got ${describeValue(raw[field])}`;
    return {
      field: issue.path.map(String).join("."),
      source: sources[field] ?? "default",
      origin: origins[field] ?? "default",
      message: `${issue.message}${got}`,
    };
  });
  const order = (issue: ConfigIssue) => CONFIG_FIELD_NAMES.indexOf(issue.field.split(".")[0] as ConfigField);
  issues.sort((a, b) => order(a) - order(b));
  const lines = issues.map((i) => `  ✖ ${i.field} (from ${i.origin}): ${i.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`, issues, { cause: result.error });
}

/** Throws ConfigError unless every named field is set (e.g. apiToken and runnerId for commands that call the API). */
export function requireConfig(config: Config, fields: readonly ConfigField[]): void {
  const missing = fields.filter((field) => config[field] === undefined);
  if (missing.length === 0) return;
  const issues = missing.map((field) => {
    const meta = CONFIG_FIELDS[field];
    const how = meta.flag === undefined ? `env ${meta.env}` : `env ${meta.env} or flag --${meta.flag}`;
    return { field, source: "default" as const, origin: "default", message: `required: set ${how}` };
  });
  const lines = issues.map((i) => `  ✖ ${i.field}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`, issues);
}
