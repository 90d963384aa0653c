/**
 * A runner child process for the benchmark (`node <entry> run` against the embedded control plane, where the
 * entry is the bundle the image ships or bin/runner.js), with the default configuration except for a free
 * admin port, a short drain, and JSON logs (read from its stdout at once, as a log collector would). Each has
 * its own temporary state directory, removed by `stop()`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunnerSettings } from "../src/control-plane/schemas.ts";
import type { EmbeddedControlPlane } from "../src/mock-control-plane/server.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LOCAL_NODE = join(ROOT, "node_modules/.bin/node");
/** Node 24: the project's own binary when present, else the one running the benchmark. */
export const NODE: string = existsSync(LOCAL_NODE) ? LOCAL_NODE : process.execPath;
/** The runner from its sources. */
export const SOURCE_ENTRY: string = join(ROOT, "bin/runner.js");

/** The configuration defaults, spelled out (the admin port, drain and kill grace are the exceptions). */
const PRODUCTION_ENV: Readonly<Record<string, string>> = {
  RUNNER_LOG_FORMAT: "json",
  LOG_LEVEL: "info",
  RUNNER_ADMIN_HOST: "127.0.0.1",
  RUNNER_ADMIN_PORT: "0",
  RUNNER_DRAIN_TIMEOUT: "5s",
  RUNNER_KILL_GRACE: "1s",
};

/** Every runner process spawned here and still alive, with its state directory. */
const alive = new Map<ChildProcess, string>();

/** SIGKILLs every runner this module spawned that is still alive and removes its state (an aborted benchmark). */
export function killAllBenchRunners(): void {
  for (const [child, stateDir] of alive) {
    child.kill("SIGKILL");
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** One parsed log line. */
export type LogLine = Record<string, unknown> & { msg?: string };

/** A benchmark runner. */
export interface BenchRunner {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly runnerId: string;
  readonly token: string;
  /** Epoch ms (fractional) just before the process was spawned. */
  readonly spawnedAtMs: number;
  /** Resolves with the first log line matching `predicate` (seen or future); rejects after `timeoutMs`. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM (drain), SIGKILL after `graceMs` (default 10 000); removes the state directory. */
  stop(graceMs?: number): Promise<void>;
}

/** Options of `spawnBenchRunner`. */
export interface BenchRunnerOptions {
  /** The script node runs; default bin/runner.js. */
  entry?: string;
  settings?: Partial<RunnerSettings>;
  /** Environment over the production values. */
  env?: Record<string, string>;
  /** Options for node itself, before the entry (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
}

/** Registers a runner on `cp` and spawns it. */
export async function spawnBenchRunner(
  cp: EmbeddedControlPlane,
  options: BenchRunnerOptions = {},
): Promise<BenchRunner> {
  const registered = cp.admin.createRunner(options.settings ? { settings: options.settings } : {});
  const stateDir = await mkdtemp(join(tmpdir(), "runner-bench-"));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/tmp",
    ...PRODUCTION_ENV,
    RUNNER_API_URL: cp.url,
    RUNNER_API_TOKEN: registered.token,
    RUNNER_ID: registered.id,
    RUNNER_STATE_DIR: stateDir,
    RUNNER_WORKSPACE_DIR: join(stateDir, "workspaces"),
    ...options.env,
  };
  const spawnedAtMs = performance.timeOrigin + performance.now();
  const child = spawn(NODE, [...(options.nodeArgs ?? []), options.entry ?? SOURCE_ENTRY, "run"], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  alive.set(child, stateDir);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => alive.delete(child));
  const recent: LogLine[] = [];
  const waiters = new Set<{ predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  let partial = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop() ?? "";
    for (const text of parts) {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        continue; // not a log line (the runner's own logs are JSON)
      }
      recent.push(line);
      if (recent.length > 1000) recent.splice(0, 500);
      for (const w of [...waiters]) {
        if (!w.predicate(line)) continue;
        waiters.delete(w);
        w.resolve(line);
      }
    }
  });
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  let stopped: Promise<void> | undefined;
  return {
    child,
    pid: child.pid ?? -1,
    runnerId: registered.id,
    token: registered.token,
    spawnedAtMs,
    waitForLog(predicate, timeoutMs = 15_000) {
      const seen = recent.find(predicate);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const fail = (why: string) => {
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`${why}; runner stderr: ${stderr || "(empty)"}`));
        };
        const timer = setTimeout(() => fail(`no matching runner log line within ${timeoutMs} ms`), timeoutMs);
        const waiter = {
          predicate,
          resolve: (line: LogLine) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        waiters.add(waiter);
        void exited.then(() => waiters.has(waiter) && fail("the runner exited"));
      });
    },
    stop(graceMs = 10_000) {
      stopped ??= (async () => {
        if (running()) child.kill("SIGTERM");
        const timer = setTimeout(() => running() && child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
        await rm(stateDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/** Resolves once the runner logged "runner started". */
export async function runnerStarted(runner: BenchRunner, timeoutMs = 15_000): Promise<void> {
  await runner.waitForLog((line) => line.msg === "runner started", timeoutMs);
}

/** The resident set size of process `pid` in MB (10^6 bytes), from /proc/<pid>/status VmRSS. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`/proc/${pid}/status has no VmRSS line`);
  return (Number(kb) * 1024) / 1e6;
}

/** The anonymous part of process `pid`'s RSS (heap, stacks: not pages of files) in MB, from /proc/<pid>/status. */
export function anonRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /^RssAnon:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`/proc/${pid}/status has no RssAnon line`);
  return (Number(kb) * 1024) / 1e6;
}

/** CPU time (user + system) process `pid` used so far, in ms, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // fields after the ")" that ends the command name: state is field 3, utime 14, stime 15
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
