/**
 * The one place a process starts. Every handler (terraform, helm, kubectl, action steps) runs its processes
 * through `runCommand`, which guarantees:
 *
 * - argv only (`file` + `args`), never a shell; an explicit environment (`extendEnv: false`, see env.ts);
 * - output streamed line by line to `onLine` as it arrives, with bounded memory;
 * - the command gets its own session and process group; cancellation (AbortSignal) and `timeoutMs` send
 *   `cancelSignal` (SIGTERM, or SIGINT for terraform) to all of it, then SIGKILL after `killGraceMs`;
 * - no orphans: whenever the command exits (success, failure, cancelled), whatever it left running — in its
 *   group or escaped from it (see kill-tree.ts) — gets SIGTERM, then SIGKILL after the grace, and the call
 *   resolves only once all of it is gone and its output has ended.
 *
 * Execa spawns the process and handles stdin and spawn errors; signalling is done here, not with execa's
 * `cancelSignal`/`timeout`/`forceKillAfterDelay`, because those reach only the process group and resolve
 * only when the output pipes close, which a process that left the group can hold open forever.
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { execa } from "execa";
import { CommandError } from "./command-error.ts";
import { CommandOutput, type LineListener, type OutputFailure } from "./command-output.ts";
import { PROCESS_COOKIE_ENV, ProcessTree } from "./kill-tree.ts";
import { DEFAULT_MAX_LINE_BYTES } from "./line-splitter.ts";
import { readFdLink } from "./proc-table.ts";
import { Terminator } from "./terminator.ts";

export type { LineListener, OutputStream } from "./command-output.ts";

/** Default grace between the polite signal and SIGKILL: 10 s. */
export const DEFAULT_KILL_GRACE_MS = 10_000;
/** Default cap on captured stdout: 64 MiB. */
export const DEFAULT_MAX_CAPTURE_BYTES = 64 * 1024 * 1024;
/** Default interval at which the process tree is sampled from /proc: 150 ms. */
export const DEFAULT_TREE_SAMPLE_INTERVAL_MS = 150;
/** After every known process is gone, how long output may take to reach end-of-file before we look for holders. */
const OUTPUT_DRAIN_MS = 250;

/** Options of runCommand. */
export interface RunCommandOptions {
  /** The executable: a name looked up on `env.PATH`, or a path. */
  file: string;
  /** Arguments, passed as argv (never through a shell). Do not put secrets here: they appear in messages. */
  args: readonly string[];
  /** Working directory; default the runner's. */
  cwd?: string;
  /**
   * The complete environment of the process (nothing is inherited): build it from `baseEnv()` + job env.
   * runCommand adds only RUNNER_PROCESS_COOKIE, a random per-command marker (see kill-tree.ts).
   */
  env: Readonly<Record<string, string>>;
  /** Cancels the command: `cancelSignal` to the whole tree, SIGKILL after `killGraceMs`. */
  signal?: AbortSignal;
  /** Signal sent on cancel or timeout; default SIGTERM (terraform wants SIGINT). */
  cancelSignal?: "SIGTERM" | "SIGINT";
  /** Grace between the first signal and SIGKILL, in ms; default 10 000. */
  killGraceMs?: number;
  /** Stops the command after this many ms, like a cancel, with `timedOut: true`; default none. */
  timeoutMs?: number;
  /** Receives every output line as it arrives; if it throws, the command is stopped and the error rethrown. */
  onLine?: LineListener;
  /** Longest line given to `onLine`, in bytes; longer lines arrive in pieces. Default 64 KiB. */
  maxLineBytes?: number;
  /** Also return stdout as `result.stdout` (e.g. `terraform output -json`); default false. */
  captureStdout?: boolean;
  /** Most stdout captured, in bytes; past it the command is stopped and OUTPUT_TOO_LARGE thrown. Default 64 MiB. */
  maxCaptureBytes?: number;
  /** Written to the process's stdin, which is then closed; default: stdin is /dev/null. */
  stdin?: string | Uint8Array;
  /** Throw a CommandError (EXIT, CANCELED, TIMEOUT) when the command failed; default false (check `failed`). */
  reject?: boolean;
  /** How often descendants are sampled from /proc, in ms; default 150. */
  treeSampleIntervalMs?: number;
}

/** What happened to one command. */
export interface CommandResult {
  /** File and arguments, for messages. */
  command: string;
  /** Exit code, or undefined when a signal ended the process (or it never started because already aborted). */
  exitCode: number | undefined;
  /** The signal that ended the process, e.g. "SIGTERM". */
  signal?: string;
  /** From start until the command and everything it started were gone, in ms. */
  durationMs: number;
  /** The AbortSignal fired while the command ran (or before it started). */
  isCanceled: boolean;
  /** The AbortSignal's reason, when canceled. */
  cancelReason?: unknown;
  /** `timeoutMs` passed. */
  timedOut: boolean;
  /** Non-zero exit, killed by a signal, canceled or timed out. */
  failed: boolean;
  /** Captured stdout, with `captureStdout` only. */
  stdout?: string;
  /** The last stderr lines (at most 10), for error messages. */
  stderrTail: string[];
}

/** Runs one command to completion (see the module comment); throws CommandError NOT_FOUND/START_FAILED. */
export async function runCommand(options: RunCommandOptions): Promise<CommandResult> {
  const cancelSignal = options.cancelSignal ?? "SIGTERM";
  const command = formatCommand(options.file, options.args);
  const startedAt = performance.now();
  const elapsed = (): number => Math.round(performance.now() - startedAt);

  if (options.signal?.aborted) {
    return settle(options, {
      command,
      exitCode: undefined,
      durationMs: 0,
      isCanceled: true,
      cancelReason: options.signal.reason,
      timedOut: false,
      failed: true,
      stderrTail: [],
    });
  }

  const cookieEntry = `${PROCESS_COOKIE_ENV}=${randomUUID()}`;
  const subprocess = execa(options.file, [...options.args], {
    cwd: options.cwd,
    env: { ...options.env, [PROCESS_COOKIE_ENV]: cookieEntry.slice(PROCESS_COOKIE_ENV.length + 1) },
    extendEnv: false,
    // Own session and process group; execa's `cleanup` does not apply to detached processes, see onRunnerExit.
    detached: true,
    cleanup: false,
    reject: false,
    buffer: false,
    forceKillAfterDelay: false,
    ...(options.stdin === undefined ? { stdin: "ignore" as const } : { input: options.stdin }),
  });
  const child = subprocess.nodeChildProcess;
  const rootPid = child.pid;
  if (rootPid === undefined) {
    const failed = await subprocess;
    throw startError(options, command, failed.cause ?? failed);
  }

  // From here on, every path out of this function leaves the tree gone (see the finally block).
  const tree = new ProcessTree({ rootPid, cookieEntry });
  const terminator = new Terminator(tree, options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  // The kernel's names of the output channels (libuv uses socket pairs: "socket:[inode]"), to find holders later.
  const channels = new Set([readFdLink(rootPid, 1), readFdLink(rootPid, 2)].filter(isOutputChannel));
  let isCanceled = false;
  let cancelReason: unknown;
  let timedOut = false;
  let reaped = false;

  const output = new CommandOutput({
    onLine: options.onLine,
    maxLineBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
    captureStdout: options.captureStdout ?? false,
    maxCaptureBytes: options.maxCaptureBytes ?? DEFAULT_MAX_CAPTURE_BYTES,
    onFatal: () => terminator.terminate("SIGTERM"),
  });
  const outputEnded = Promise.all([
    output.attach(child.stdout, "stdout"),
    output.attach(child.stderr, "stderr"),
  ]);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });

  const onAbort = (): void => {
    isCanceled = true;
    cancelReason = options.signal?.reason;
    terminator.terminate(cancelSignal);
  };
  // If the runner itself exits while the command runs, take the command down with it (synchronously).
  const onRunnerExit = (): void => terminator.killNow();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  process.on("exit", onRunnerExit);
  const timeoutTimer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          terminator.terminate(cancelSignal);
        }, options.timeoutMs);
  const sampler = setInterval(() => {
    // Best effort by design (the exit-time scans back it up): a failed sample must not crash the runner.
    try {
      tree.sample();
    } catch {}
  }, options.treeSampleIntervalMs ?? DEFAULT_TREE_SAMPLE_INTERVAL_MS);
  const stopWatching = (): void => {
    clearInterval(sampler);
    if (timeoutTimer !== undefined) clearTimeout(timeoutTimer);
    options.signal?.removeEventListener("abort", onAbort);
  };

  let exit: { code: number | null; signal: NodeJS.Signals | null };
  try {
    exit = await exited;
    // The command is over: a late abort or timeout must not relabel how it ended.
    stopWatching();
    tree.markRootExited();
    // Leftovers first, then end of output; whoever still holds the output channels after that is ours too.
    for (;;) {
      await terminator.reap();
      if (await settlesWithin(outputEnded, OUTPUT_DRAIN_MS)) break;
      if (tree.adoptFdHolders(channels) === 0) {
        // Nobody we can see holds them (or they would not die): stop reading rather than wait forever.
        child.stdout?.destroy();
        child.stderr?.destroy();
        break;
      }
    }
    reaped = true;
    await outputEnded;
    await subprocess;
  } finally {
    stopWatching();
    if (!reaped) terminator.killNow();
    terminator.dispose();
    process.off("exit", onRunnerExit);
  }

  const failure: OutputFailure | undefined = output.failure;
  if (failure?.kind === "listener-threw") throw failure.error;
  if (failure?.kind === "capture-overflow") {
    throw new CommandError({
      code: "OUTPUT_TOO_LARGE",
      command,
      message: `${command} wrote more than ${options.maxCaptureBytes ?? DEFAULT_MAX_CAPTURE_BYTES} bytes to stdout; it was stopped and its output discarded`,
    });
  }
  const exitCode = exit.code ?? undefined;
  const signal = exit.signal ?? undefined;
  const captured = output.capturedStdout();
  return settle(options, {
    command,
    exitCode,
    ...(signal === undefined ? {} : { signal }),
    durationMs: elapsed(),
    isCanceled,
    ...(isCanceled ? { cancelReason } : {}),
    timedOut,
    failed: exitCode !== 0 || signal !== undefined || isCanceled || timedOut,
    ...(captured === undefined ? {} : { stdout: captured }),
    stderrTail: output.stderrTail,
  });
}

/** The command line for messages: file and args, args with spaces or quotes JSON-quoted. */
export function formatCommand(file: string, args: readonly string[]): string {
  return [file, ...args]
    .map((part) => (/^[\w@%+=:,./-]+$/.test(part) ? part : JSON.stringify(part)))
    .join(" ");
}

/** Applies `reject`: returns the result, or throws the CommandError describing its failure. */
function settle(options: RunCommandOptions, result: CommandResult): CommandResult {
  if (!options.reject || !result.failed) return result;
  const base = { command: result.command, exitCode: result.exitCode, signal: result.signal };
  if (result.isCanceled) {
    throw new CommandError({
      ...base,
      code: "CANCELED",
      message: `${result.command} was canceled`,
      cause: result.cancelReason,
    });
  }
  if (result.timedOut) {
    throw new CommandError({
      ...base,
      code: "TIMEOUT",
      message: `${result.command} timed out after ${options.timeoutMs} ms and was stopped`,
    });
  }
  const how =
    result.signal === undefined ? `exited with code ${result.exitCode}` : `was killed by ${result.signal}`;
  const tail = result.stderrTail.length === 0 ? "" : `; last stderr lines:\n${result.stderrTail.join("\n")}`;
  throw new CommandError({ ...base, code: "EXIT", message: `${result.command} ${how}${tail}` });
}

function startError(options: RunCommandOptions, command: string, cause: unknown): CommandError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (options.cwd !== undefined && !existsSync(options.cwd)) {
    return new CommandError({
      code: "START_FAILED",
      command,
      message: `${options.file} could not start: its working directory ${options.cwd} does not exist`,
      cause,
    });
  }
  if (code === "ENOENT") {
    const where = options.file.includes("/") ? "" : " on PATH";
    return new CommandError({
      code: "NOT_FOUND",
      command,
      message: `${options.file} was not found${where}`,
      cause,
    });
  }
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new CommandError({
    code: "START_FAILED",
    command,
    message: `${options.file} could not start: ${reason}`,
    cause,
  });
}

function isOutputChannel(link: string | undefined): link is string {
  return link !== undefined && (link.startsWith("socket:[") || link.startsWith("pipe:["));
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}
