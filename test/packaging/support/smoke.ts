/**
 * The packaged runner (the bundle or the single executable) as a real child process against the embedded
 * control plane: it must fetch settings, heartbeat from its worker thread, run a job, serve /healthz and
 * drain on SIGTERM. Used by bundle.test.ts and sea.test.ts with different commands.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startControlPlane } from "../../../src/mock-control-plane/server.ts";

/** What one smoke run observed. */
export interface SmokeResult {
  exitCode: number | null;
  heartbeats: number;
  jobStatus: string | undefined;
  healthzStatus: number;
  /** Log messages (`msg`) of the run, in order. */
  messages: string[];
  stderr: string;
}

/** Runs `command run` (argv[0] is the program) from `cwd` until a job finished, then SIGTERMs it. */
export async function smokeRun(command: string[], cwd: string): Promise<SmokeResult> {
  const cp = await startControlPlane();
  const stateDir = await mkdtemp(path.join(tmpdir(), "runner-pkg-state-"));
  const runner = cp.admin.createRunner({ settings: { heart_beat_timeout: 200e6 } });
  const [program, ...args] = command;
  const child = spawn(program ?? "", [...args, "run"], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: stateDir,
      RUNNER_API_URL: cp.url,
      RUNNER_API_TOKEN: runner.token,
      RUNNER_ID: runner.id,
      RUNNER_STATE_DIR: stateDir,
      RUNNER_WORKSPACE_DIR: path.join(stateDir, "workspaces"),
      RUNNER_ADMIN_PORT: "0",
      RUNNER_LOG_FORMAT: "json",
      LOG_LEVEL: "debug",
      RUNNER_POLL_INTERVAL: "50ms",
      RUNNER_POLL_MAX_INTERVAL: "200ms",
      RUNNER_LONG_POLL_WAIT: "2s",
      RUNNER_DRAIN_TIMEOUT: "10s",
    },
  });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = "";
  let partial = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    partial += chunk;
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    for (const text of parts) {
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        lines.push({ msg: text });
      }
    }
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const until = async (what: string, check: () => boolean, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `the packaged runner did not reach "${what}"; stderr: ${stderr}\nlast lines: ${JSON.stringify(lines.slice(-10))}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  try {
    await until("runner started", () => lines.some((l) => l.msg === "runner started"));
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const done = await cp.waitForJob(job.id, (j) => j.status === "finished" || j.status === "failed", 15_000);
    await until("two heartbeats", () => cp.admin.runnerHealth(runner.id).heartbeats.length >= 2);
    const admin = String(lines.find((l) => l.msg === "admin server listening")?.url);
    const healthz = await fetch(`${admin}/healthz`);
    child.kill("SIGTERM");
    const exitCode = await exited;
    return {
      exitCode,
      heartbeats: cp.admin.runnerHealth(runner.id).heartbeats.length,
      jobStatus: done.status,
      healthzStatus: healthz.status,
      messages: lines.map((l) => String(l.msg)),
      stderr,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    await cp.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}
