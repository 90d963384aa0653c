/**
 * The one error type of src/exec. Callers branch on `code`, never on the message.
 */

/** Stable codes of CommandError. */
export type CommandErrorCode =
  /** The executable does not exist on PATH (or at the given path). */
  | "NOT_FOUND"
  /** The process could not be started for another reason: missing working directory, not executable, … */
  | "START_FAILED"
  /** With `reject: true`: the process exited non-zero or was killed by a signal. */
  | "EXIT"
  /** With `reject: true`: the caller's AbortSignal fired; `cause` is its reason. */
  | "CANCELED"
  /** With `reject: true`: `timeoutMs` passed. */
  | "TIMEOUT"
  /** Captured stdout grew past `maxCaptureBytes`; the process was stopped. */
  | "OUTPUT_TOO_LARGE";

/** An error from running one command; `exitCode`/`signal` are set when the process ran. */
export class CommandError extends Error {
  override readonly name = "CommandError";
  /** Stable code, see CommandErrorCode. */
  readonly code: CommandErrorCode;
  /** The command line, for messages (file and arguments). */
  readonly command: string;
  /** Exit code when the process exited on its own. */
  readonly exitCode: number | undefined;
  /** The signal that ended the process, when one did. */
  readonly signal: string | undefined;

  constructor(args: {
    code: CommandErrorCode;
    command: string;
    message: string;
    exitCode?: number;
    signal?: string;
    cause?: unknown;
  }) {
    super(args.message, { cause: args.cause });
    this.code = args.code;
    this.command = args.command;
    this.exitCode = args.exitCode;
    this.signal = args.signal;
  }
}
