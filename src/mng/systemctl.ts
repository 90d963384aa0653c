/**
 * systemctl, run through runCommand with a configurable binary (`RUNNER_SYSTEMCTL`, default `systemctl`) so
 * tests substitute a recorder script. Only the verbs the management process needs; each resolves once
 * systemctl returned (a `restart` returns after the old process drained and the new one started).
 */
import { baseEnv } from "../exec/env.ts";
import { runCommand } from "../exec/run-command.ts";

/** A unit's state as `systemctl is-active` prints it: active, inactive, failed, activating, deactivating… */
export type UnitState = string;

/** Where output lines go (a job log's `line`, or the process logger). */
export type LineSink = (line: string, stream: "stdout" | "stderr") => void;

/** Options of one systemctl call. */
export interface SystemctlCallOptions {
  signal?: AbortSignal;
  onLine?: LineSink;
}

/** The systemctl verbs the management process uses. */
export interface Systemctl {
  /** The binary run, for messages. */
  readonly binary: string;
  daemonReload(opts?: SystemctlCallOptions): Promise<void>;
  enable(unit: string, opts?: SystemctlCallOptions): Promise<void>;
  start(unit: string, opts?: SystemctlCallOptions): Promise<void>;
  stop(unit: string, opts?: SystemctlCallOptions): Promise<void>;
  restart(unit: string, opts?: SystemctlCallOptions): Promise<void>;
  /** `systemctl is-active <unit>`: the state word (its non-zero exit for inactive units is not an error). */
  isActive(unit: string, opts?: SystemctlCallOptions): Promise<UnitState>;
}

/** Options of createSystemctl. */
export interface SystemctlOptions {
  /** Executable name or path; default "systemctl". */
  binary?: string;
  /** The process environment the allowlist is taken from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** SIGTERM → SIGKILL grace when a call is aborted, in ms; default 10 000. */
  killGraceMs?: number;
}

/** Creates a systemctl runner. */
export function createSystemctl(options: SystemctlOptions = {}): Systemctl {
  const binary = options.binary ?? "systemctl";
  const env = baseEnv(options.env ?? process.env);

  async function call(args: string[], opts: SystemctlCallOptions = {}, check = true) {
    const result = await runCommand({
      file: binary,
      args,
      env,
      captureStdout: true,
      killGraceMs: options.killGraceMs ?? 10_000,
      ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
      ...(opts.onLine !== undefined ? { onLine: opts.onLine } : {}),
    });
    if (check && result.failed) {
      const why = result.isCanceled
        ? "was cancelled"
        : result.exitCode !== undefined
          ? `exited with code ${result.exitCode}`
          : `was killed by ${result.signal ?? "a signal"}`;
      const tail = result.stderrTail.length > 0 ? `: ${result.stderrTail.join(" | ")}` : "";
      throw new Error(`${result.command} ${why}${tail}`);
    }
    return result;
  }

  return {
    binary,
    async daemonReload(opts) {
      await call(["daemon-reload"], opts);
    },
    async enable(unit, opts) {
      await call(["enable", unit], opts);
    },
    async start(unit, opts) {
      await call(["start", unit], opts);
    },
    async stop(unit, opts) {
      await call(["stop", unit], opts);
    },
    async restart(unit, opts) {
      await call(["restart", unit], opts);
    },
    async isActive(unit, opts) {
      const result = await call(["is-active", unit], opts, false);
      if (result.isCanceled) throw new Error(`${result.command} was cancelled`);
      const word = (result.stdout ?? "").trim().split(/\s+/)[0] ?? "";
      return word === "" ? "unknown" : word;
    },
  };
}

/** States in which the service process exists or is about to (a restart, not a start, applies a change). */
export function isRunningState(state: UnitState): boolean {
  return state === "active" || state === "activating" || state === "reloading" || state === "deactivating";
}
