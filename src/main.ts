/**
 * Entry point: parse argv, run one command, set process.exitCode (never process.exit mid-flight).
 */
import { COMMANDS, type CommandIo } from "./cli/commands.ts";

const USAGE = "usage: runner <command> [options]\n       runner help";

async function help(io: CommandIo): Promise<number> {
  const lines = [USAGE, "", "commands:"];
  for (const [name, load] of Object.entries(COMMANDS)) {
    const mod = await load();
    lines.push(`  ${name.padEnd(16)} ${mod.summary}`);
  }
  io.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

/** Runs the command named by argv[0]; resolves to the exit code. */
export async function main(argv: string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") return help(io);
  const load = COMMANDS[name];
  if (load === undefined) {
    io.stderr.write(`runner: unknown command "${name}"\n${USAGE}\n`);
    return 2;
  }
  const mod = await load();
  return mod.run(rest, io);
}
