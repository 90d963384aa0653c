/**
 * `runner check-config [flags] [-o table|json]`: prints the effective configuration with the source of
 * every field, secrets masked. Exit 0 when valid, 2 (message naming the field on stderr) when not.
 */
import { formatDurationMs } from "../config/duration.ts";
import {
  CONFIG_FLAG_OPTIONS,
  type ConfigSources,
  configFlagsFromValues,
  loadConfig,
} from "../config/load.ts";
import { CONFIG_FIELD_NAMES, CONFIG_FIELDS, type Config, type ConfigField } from "../config/schema.ts";
import { oneOfFlag, parseCommandArgs, reportUsageError } from "./args.ts";
import type { CommandIo } from "./commands.ts";

/** One line for `runner help`. */
export const summary = "Print the effective configuration and where each value came from";

const USAGE = `usage: runner check-config [--config FILE] [--<option> VALUE ...] [-o table|json]
Options: ${Object.keys(CONFIG_FLAG_OPTIONS)
  .map((flag) => `--${flag}`)
  .join(", ")}. Every option also has an env name; see docs/configuration.md.`;

/** Masks a secret: its first 4 characters then `****`, only `****` when shorter than 12, `(unset)` when unset. */
export function maskSecret(value: string | undefined): string {
  if (value === undefined) return "(unset)";
  return value.length >= 12 ? `${value.slice(0, 4)}****` : "****";
}

/** The configuration with secrets masked and unset fields null, as printed by `-o json`. */
export function maskedConfig(config: Config): Record<ConfigField, unknown> {
  const out = {} as Record<ConfigField, unknown>;
  for (const field of CONFIG_FIELD_NAMES) {
    const value = config[field];
    if (value === undefined) out[field] = null;
    else out[field] = CONFIG_FIELDS[field].secret === true ? maskSecret(String(value)) : value;
  }
  return out;
}

/** Human form of one value for the table: durations as "25s", groups as "a=1,b=2". */
function display(field: ConfigField, value: unknown): string {
  if (value === null || value === undefined) return "(unset)";
  if (field.endsWith("Ms") && typeof value === "number") return formatDurationMs(value);
  if (field.endsWith("Bytes") && typeof value === "number" && value % 1024 ** 2 === 0) {
    return `${value} (${value / 1024 ** 2} MiB)`;
  }
  if (typeof value === "object") {
    const pairs = Object.entries(value).map(([k, v]) => `${k}=${String(v)}`);
    return pairs.length === 0 ? "(none)" : pairs.join(",");
  }
  return String(value);
}

/** Where a value came from, with the env or flag name. */
function origin(field: ConfigField, sources: ConfigSources): string {
  const meta = CONFIG_FIELDS[field];
  const source = sources[field];
  if (source === "env") return `env ${meta.env}`;
  if (source === "flag") return `flag --${meta.flag}`;
  return source;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, col) => cell.padEnd(widths[col]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** Runs `check-config`; resolves to the exit code. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  try {
    const { values } = parseCommandArgs(argv, {
      options: {
        ...CONFIG_FLAG_OPTIONS,
        output: { type: "string", short: "o" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help === true) {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const output = oneOfFlag(values.output as string | undefined, ["table", "json"], "--output", "table");
    const { config, sources } = await loadConfig({
      flags: configFlagsFromValues(values),
      env: io.env,
      cwd: process.cwd(),
    });
    const masked = maskedConfig(config);
    if (output === "json") {
      io.stdout.write(`${JSON.stringify({ config: masked, sources }, null, 2)}\n`);
      return 0;
    }
    const rows = [["FIELD", "VALUE", "SOURCE"]];
    for (const field of CONFIG_FIELD_NAMES)
      rows.push([field, display(field, masked[field]), origin(field, sources)]);
    io.stdout.write(`${table(rows)}\n`);
    return 0;
  } catch (err) {
    return reportUsageError(err, io.stderr, "check-config", USAGE);
  }
}
