/**
 * Command-line parsing shared by the commands: node:util parseArgs in strict mode, with its failures
 * (unknown flag, missing value, stray argument) turned into a `UsageError` that commands report with exit 2.
 */
import type { Writable } from "node:stream";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";

/** Exit code for bad command-line input or bad configuration. */
export const EXIT_USAGE = 2;

/** A bad command line; the message says what was wrong in words a user can act on. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  /** Always `EXIT_USAGE` (2). */
  readonly exitCode = EXIT_USAGE;
}

/** What `parseCommandArgs` accepts besides argv. */
export interface CommandArgsSpec<O extends ParseArgsOptionsConfig> {
  /** parseArgs option descriptors. */
  options: O;
  /** Whether positional arguments are accepted. Default false. */
  allowPositionals?: boolean;
}

type Parsed<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true }>
>;

/** Parses argv strictly; throws `UsageError` naming the offending flag or argument. */
export function parseCommandArgs<O extends ParseArgsOptionsConfig>(
  argv: readonly string[],
  spec: CommandArgsSpec<O>,
): Parsed<O> {
  try {
    return parseArgs({
      args: [...argv],
      options: spec.options,
      allowPositionals: spec.allowPositionals ?? false,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(describeParseError(err), { cause: err });
  }
}

/** Turns a parseArgs error into a short sentence; other errors keep their message. */
function describeParseError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
  const flag =
    quoted
      .replace(/ <value>$/, "")
      .split(", ")
      .at(-1) ?? quoted;
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${flag}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument "${quoted}"`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return message.includes("does not take an argument")
        ? `option ${flag} does not take a value`
        : `option ${flag} needs a value`;
    default:
      return message;
  }
}

/** Checks that a flag's value is one of `choices`; throws `UsageError` otherwise. */
export function oneOfFlag<const T extends readonly string[]>(
  value: string | undefined,
  choices: T,
  flag: string,
  fallback: T[number],
): T[number] {
  if (value === undefined) return fallback;
  if ((choices as readonly string[]).includes(value)) return value as T[number];
  throw new UsageError(`option ${flag} must be one of ${choices.join(", ")}, got "${value}"`);
}

/**
 * Reports a `UsageError` (or any error with `exitCode` 2, such as a config error) as
 * `runner <command>: <message>` plus the usage text, and returns the exit code; other errors are rethrown.
 */
export function reportUsageError(err: unknown, stderr: Writable, command: string, usage?: string): number {
  if (!(err instanceof Error) || (err as { exitCode?: unknown }).exitCode !== EXIT_USAGE) throw err;
  const hint = err instanceof UsageError && usage !== undefined ? `\n${usage}` : "";
  stderr.write(`runner ${command}: ${err.message}${hint}\n`);
  return EXIT_USAGE;
}
