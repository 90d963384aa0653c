/**
 * Starts the runner as a real child process (`node bin/runner.js <command>`) for integration tests: JSON
 * logs parsed line by line, helpers to wait for a log line, read the admin URL, send signals, and kill.
 * Every process started here is tracked so `stopAllRunners()` (call it in afterEach) ends only those.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const LOCAL_NODE = `${ROOT}node_modules/.bin/node`;
/** Node 24: the project's own binary when present, else the one running the tests. */
const NODE = existsSync(LOCAL_NODE) ? LOCAL_NODE : process.execPath;

/** One parsed log line. */
export type LogLine = Record<string, unknown> & { msg?: string };

/** Options of `startRunner`. */
export interface StartRunnerOptions {
  /** Default "run". */
  command?: "run" | "org" | "build" | "install" | "mng";
  apiUrl: string;
  token?: string;
  runnerId?: string;
  stateDir: string;
  /** Extra environment (e.g. RUNNER_POLL_INTERVAL); merged over fast test defaults. */
  env?: Record<string, string>;
  args?: string[];
}

/** A runner child process. */
export interface RunnerChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every JSON log line so far. */
  readonly lines: LogLine[];
  /** stderr text so far. */
  stderr(): string;
  /** Resolves with the first line (already seen or future) matching `predicate`. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** The admin server URL, from the "admin server listening" line. */
  adminUrl(timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (null when killed by a signal) and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal(sig: NodeJS.Signals): void;
}

const running = new Set<RunnerChild>();

/** Fast defaults for tests: short polls and long-polls, short drain and grace. */
export const FAST_ENV: Readonly<Record<string, string>> = {
  RUNNER_LOG_FORMAT: "json",
  LOG_LEVEL: "debug",
  RUNNER_ADMIN_PORT: "0",
  RUNNER_POLL_INTERVAL: "50ms",
  RUNNER_POLL_MAX_INTERVAL: "200ms",
  RUNNER_LONG_POLL_WAIT: "2s",
  RUNNER_REQUEST_TIMEOUT: "2s",
  RUNNER_SETTINGS_RETRY: "10s",
  RUNNER_DRAIN_TIMEOUT: "20s",
  RUNNER_KILL_GRACE: "500ms",
  RUNNER_HEARTBEAT_REQUEST_TIMEOUT: "1s",
};

/** Starts a runner child process. */
export function startRunner(options: StartRunnerOptions): RunnerChild {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/tmp",
    ...FAST_ENV,
    RUNNER_API_URL: options.apiUrl,
    RUNNER_STATE_DIR: options.stateDir,
    RUNNER_WORKSPACE_DIR: `${options.stateDir}/workspaces`,
    ...(options.token !== undefined ? { RUNNER_API_TOKEN: options.token } : {}),
    ...(options.runnerId !== undefined ? { RUNNER_ID: options.runnerId } : {}),
    ...options.env,
  };
  const child = spawn(NODE, [`${ROOT}bin/runner.js`, options.command ?? "run", ...(options.args ?? [])], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: LogLine[] = [];
  const waiters: Array<{ predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];
  let stderr = "";
  let partial = "";
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    partial += chunk;
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    for (const text of parts) {
      if (text.trim() === "") continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text, unparsed: true };
      }
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const handle: RunnerChild = {
    child,
    pid: child.pid ?? -1,
    lines,
    stderr: () => stderr,
    waitForLog(predicate, timeoutMs = 10_000) {
      const seen = lines.find(predicate);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<LogLine>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          const tail = lines
            .slice(-15)
            .map((l) => JSON.stringify(l))
            .join("\n");
          reject(
            new Error(
              `no matching runner log line within ${timeoutMs} ms; last lines:\n${tail}\nstderr: ${stderr}`,
            ),
          );
        }, timeoutMs);
        const waiter = {
          predicate,
          resolve: (line: LogLine) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        waiters.push(waiter);
        void exited.then(() => {
          if (!waiters.includes(waiter)) return;
          waiters.splice(waiters.indexOf(waiter), 1);
          clearTimeout(timer);
          reject(new Error(`the runner exited before the expected log line; stderr: ${stderr}`));
        });
      });
    },
    async adminUrl(timeoutMs) {
      const line = await handle.waitForLog((l) => l.msg === "admin server listening", timeoutMs);
      return String(line.url);
    },
    exited,
    signal(sig) {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
  };
  running.add(handle);
  void exited.then(() => running.delete(handle));
  return handle;
}

/** Kills (SIGKILL) every runner this helper started that is still alive, and waits for them. */
export async function stopAllRunners(): Promise<void> {
  const all = [...running];
  for (const runner of all) runner.signal("SIGKILL");
  await Promise.all(all.map((r) => r.exited));
}
