/**
 * `runner version [-o text|json]`: prints `runner <VERSION> (commit <COMMIT>, node <version>)`.
 */
import { COMMIT, VERSION } from "../version.ts";
import { oneOfFlag, parseCommandArgs, reportUsageError } from "./args.ts";
import type { CommandIo } from "./commands.ts";

/** One line for `runner help`. */
export const summary = "Print the runner version, commit and Node.js version";

const USAGE = "usage: runner version [-o text|json]";

/** Runs `version`; resolves to the exit code. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  try {
    const { values } = parseCommandArgs(argv, { options: { output: { type: "string", short: "o" } } });
    const output = oneOfFlag(values.output, ["text", "json"], "--output", "text");
    const info = { version: VERSION, commit: COMMIT, node: process.version };
    io.stdout.write(
      output === "json"
        ? `${JSON.stringify(info)}\n`
        : `runner ${info.version} (commit ${info.commit}, node ${info.node})\n`,
    );
    return 0;
  } catch (err) {
    return reportUsageError(err, io.stderr, "version", USAGE);
  }
}
