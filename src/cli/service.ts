/**
 * `runner service render [--file service.yml] [--format unit|install-env]`: prints the systemd unit rendered
 * from a service definition (defaults when no file is given), or, with `--format install-env`, the resolved
 * names and paths install.sh needs. Exit 0, or 2 naming the bad field or the unreadable file.
 */
import { readFile } from "node:fs/promises";
import YAML from "yaml";
import { parseServiceConfig, ServiceConfigError } from "../service/schema.ts";
import { renderInstallEnv, renderUnit } from "../service/unit.ts";
import { oneOfFlag, parseCommandArgs, reportUsageError, UsageError } from "./args.ts";
import type { CommandIo } from "./commands.ts";

/** One line for `runner help`. */
export const summary = "Render the systemd unit of a VM runner from service.yml";

const USAGE = `usage: runner service render [--file service.yml] [--format unit|install-env]
  --file FILE     the service definition (YAML); built-in defaults when omitted (see service.yml)
  --format F      unit (default): the systemd unit; install-env: key=value lines for install.sh`;

async function readDefinition(file: string | undefined): Promise<unknown> {
  if (file === undefined) return {};
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ServiceConfigError(`cannot read ${file} (${reason}); fix the path`, { cause: err });
  }
  try {
    return YAML.parse(text);
  } catch (err) {
    throw new ServiceConfigError(
      `${file} is not valid YAML: ${((err as Error).message ?? "").split(":\n")[0]}`,
    );
  }
}

/** Runs `service`; resolves to the exit code. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  try {
    const { values, positionals } = parseCommandArgs(argv, {
      options: {
        file: { type: "string", short: "f" },
        format: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    });
    if (values.help === true) {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (positionals.length !== 1 || positionals[0] !== "render") {
      throw new UsageError(
        positionals.length === 0
          ? "missing subcommand render"
          : `unknown subcommand "${positionals.join(" ")}"`,
      );
    }
    const format = oneOfFlag(values.format, ["unit", "install-env"], "--format", "unit");
    const config = parseServiceConfig(await readDefinition(values.file), values.file ?? "service definition");
    io.stdout.write(format === "unit" ? renderUnit(config) : renderInstallEnv(config));
    return 0;
  } catch (err) {
    return reportUsageError(err, io.stderr, "service", USAGE);
  }
}
