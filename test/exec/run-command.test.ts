import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CommandError } from "../../src/exec/command-error.ts";
import { baseEnv } from "../../src/exec/env.ts";
import { formatCommand, type OutputStream, runCommand } from "../../src/exec/run-command.ts";
import { fixture, isGone, readPid, scratch } from "./helpers.ts";

type Line = { line: string; stream: OutputStream };

function collector(): { lines: Line[]; onLine: (line: string, stream: OutputStream) => void } {
  const lines: Line[] = [];
  return { lines, onLine: (line, stream) => lines.push({ line, stream }) };
}

const env = (): Record<string, string> => baseEnv(process.env);

let tmp: ReturnType<typeof scratch>;
beforeEach(() => {
  tmp = scratch();
});
afterEach(() => {
  tmp.cleanup();
});

describe("runCommand output", () => {
  it("delivers a line while the process is still running", async () => {
    const { lines, onLine } = collector();
    let resolved = false;
    let firstSeenWhileRunning: boolean | undefined;
    const started = performance.now();
    let firstAtMs = 0;
    const result = await runCommand({
      file: "sh",
      args: [fixture("print-then-sleep.sh"), "1"],
      env: env(),
      onLine: (line, stream) => {
        if (line === "first") {
          firstAtMs = performance.now() - started;
          firstSeenWhileRunning = !resolved && lines.length === 0;
        }
        onLine(line, stream);
      },
    }).finally(() => {
      resolved = true;
    });
    expect(firstSeenWhileRunning).toBe(true);
    expect(firstAtMs).toBeLessThan(900);
    expect(result.durationMs).toBeGreaterThanOrEqual(1000);
    expect(lines.map((l) => l.line)).toEqual(["first", "second"]);
  });

  it("tags stdout and stderr lines and delivers a last line without a newline", async () => {
    const { lines, onLine } = collector();
    const result = await runCommand({ file: "sh", args: [fixture("mixed-streams.sh")], env: env(), onLine });
    expect(lines).toContainEqual({ line: "out one", stream: "stdout" });
    expect(lines).toContainEqual({ line: "err one", stream: "stderr" });
    expect(lines).toContainEqual({ line: "partial tail", stream: "stdout" });
    expect(lines).toHaveLength(3);
    expect(result.stdout).toBeUndefined();
  });

  it("streams 10 MB of output line by line without capturing it", async () => {
    let count = 0;
    let bytes = 0;
    const result = await runCommand({
      file: "sh",
      args: [fixture("big-output.sh"), "100000"],
      env: env(),
      onLine: (line) => {
        count++;
        bytes += line.length + 1;
      },
    });
    expect(count).toBe(100_000);
    expect(bytes).toBe(10_000_000);
    expect(result.stdout).toBeUndefined();
    expect(result.exitCode).toBe(0);
  });

  it("splits a line longer than maxLineBytes into bounded pieces", async () => {
    const { lines, onLine } = collector();
    await runCommand({
      file: "sh",
      args: [fixture("long-line.sh"), "200000"],
      env: env(),
      onLine,
      maxLineBytes: 65_536,
    });
    expect(lines.map((l) => l.line.length)).toEqual([65_536, 65_536, 65_536, 3_392, 3]);
    expect(lines.at(-1)?.line).toBe("end");
  });

  it("decodes a UTF-8 character whose bytes arrive in two chunks", async () => {
    const { lines, onLine } = collector();
    await runCommand({ file: "bash", args: [fixture("split-utf8.sh")], env: env(), onLine });
    expect(lines.map((l) => l.line)).toEqual(["café"]);
  });

  it("captures stdout when asked and feeds stdin", async () => {
    const { lines, onLine } = collector();
    const result = await runCommand({
      file: "cat",
      args: [],
      env: env(),
      stdin: "hello\nworld",
      captureStdout: true,
      onLine,
    });
    expect(result.stdout).toBe("hello\nworld");
    expect(lines.map((l) => l.line)).toEqual(["hello", "world"]);
  });

  it("stops the command and throws OUTPUT_TOO_LARGE when captured stdout passes maxCaptureBytes", async () => {
    const run = runCommand({
      file: "sh",
      args: [fixture("big-output.sh"), "100000"],
      env: env(),
      captureStdout: true,
      maxCaptureBytes: 1000,
    });
    await expect(run).rejects.toMatchObject({ name: "CommandError", code: "OUTPUT_TOO_LARGE" });
  });

  it("stops the command and rethrows when onLine throws", async () => {
    const boom = new Error("listener failed");
    const started = performance.now();
    const run = runCommand({
      file: "sh",
      args: [fixture("print-then-sleep.sh"), "30"],
      env: env(),
      onLine: () => {
        throw boom;
      },
    });
    await expect(run).rejects.toBe(boom);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe("runCommand environment and exit", () => {
  const saved = { token: process.env.RUNNER_API_TOKEN, setting: process.env.RUNNER_SETTING };
  afterEach(() => {
    for (const [name, value] of [
      ["RUNNER_API_TOKEN", saved.token],
      ["RUNNER_SETTING", saved.setting],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("gives the process only the explicit environment: no runner token, the job's variables", async () => {
    process.env.RUNNER_API_TOKEN = "runner-secret-token";
    process.env.RUNNER_SETTING = "runner-only";
    const { lines, onLine } = collector();
    await runCommand({
      file: "sh",
      args: [fixture("print-env.sh")],
      env: { ...baseEnv(process.env), JOB_VAR: "job-value" },
      onLine,
    });
    expect(lines.map((l) => l.line)).toEqual([
      "RUNNER_API_TOKEN=<unset>",
      "RUNNER_SETTING=<unset>",
      "JOB_VAR=job-value",
      "HOME_SET=yes",
    ]);
  });

  it("records a non-zero exit code and the duration without throwing by default", async () => {
    const result = await runCommand({ file: "sh", args: [fixture("exit-with.sh"), "3"], env: env() });
    expect(result).toMatchObject({ exitCode: 3, failed: true, isCanceled: false, timedOut: false });
    expect(result.signal).toBeUndefined();
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(result.stderrTail).toEqual(["about to fail", "with code 3"]);
    expect(result.command).toBe(`sh ${fixture("exit-with.sh")} 3`);
  });

  it("reports success with exit code 0", async () => {
    const result = await runCommand({ file: "sh", args: ["-c", "exit 0"], env: env() });
    expect(result).toMatchObject({ exitCode: 0, failed: false });
  });

  it("throws EXIT naming the exit code and the last stderr lines when reject is true", async () => {
    const run = runCommand({ file: "sh", args: [fixture("exit-with.sh"), "3"], env: env(), reject: true });
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CommandError);
    expect(error).toMatchObject({ code: "EXIT", exitCode: 3 });
    expect((error as Error).message).toContain("exited with code 3");
    expect((error as Error).message).toContain("with code 3");
  });

  it("throws NOT_FOUND naming the binary when it is not on PATH", async () => {
    const run = runCommand({ file: "definitely-not-a-binary-4711", args: ["x"], env: env() });
    await expect(run).rejects.toMatchObject({
      name: "CommandError",
      code: "NOT_FOUND",
      message: "definitely-not-a-binary-4711 was not found on PATH",
    });
  });

  it("throws START_FAILED when the working directory does not exist", async () => {
    const run = runCommand({ file: "sh", args: ["-c", "true"], env: env(), cwd: tmp.file("missing") });
    await expect(run).rejects.toMatchObject({ code: "START_FAILED" });
  });

  it("runs in the given working directory", async () => {
    const result = await runCommand({ file: "pwd", args: [], env: env(), cwd: tmp.dir, captureStdout: true });
    expect(result.stdout?.trim()).toBe(tmp.dir);
  });
});

describe("runCommand cancellation and timeout", () => {
  /** Aborts `controller` once the process printed "ready" (its traps are in place by then). */
  const abortOnReady = (controller: AbortController, reason: unknown) => (line: string) => {
    if (line === "ready") controller.abort(reason);
  };

  it("sends SIGTERM to the process on abort and reports isCanceled with the reason", async () => {
    const controller = new AbortController();
    const reason = new Error("cancelled by the control plane");
    const marker = tmp.file("marker");
    const result = await runCommand({
      file: "bash",
      args: [fixture("trap-signal.sh"), marker],
      env: env(),
      signal: controller.signal,
      onLine: abortOnReady(controller, reason),
    });
    expect(readFileSync(marker, "utf8").trim()).toBe("TERM");
    expect(result).toMatchObject({ isCanceled: true, timedOut: false, failed: true, exitCode: 143 });
    expect(result.cancelReason).toBe(reason);
  });

  it("sends SIGINT instead when cancelSignal is SIGINT", async () => {
    const controller = new AbortController();
    const marker = tmp.file("marker");
    const result = await runCommand({
      file: "bash",
      args: [fixture("trap-signal.sh"), marker],
      env: env(),
      signal: controller.signal,
      cancelSignal: "SIGINT",
      onLine: abortOnReady(controller, "stop"),
    });
    expect(readFileSync(marker, "utf8").trim()).toBe("INT");
    expect(result).toMatchObject({ isCanceled: true, exitCode: 130 });
  });

  it("SIGKILLs a process that ignores SIGTERM after killGraceMs", async () => {
    const controller = new AbortController();
    let abortedAt = 0;
    const result = await runCommand({
      file: "bash",
      args: [fixture("ignore-term.sh")],
      env: env(),
      signal: controller.signal,
      killGraceMs: 300,
      onLine: (line) => {
        if (line !== "ready") return;
        abortedAt = performance.now();
        controller.abort("stop");
      },
    });
    const afterAbortMs = performance.now() - abortedAt;
    expect(result).toMatchObject({ isCanceled: true, signal: "SIGKILL", exitCode: undefined });
    expect(afterAbortMs).toBeGreaterThanOrEqual(290);
    expect(afterAbortMs).toBeLessThan(5000);
  });

  it("does not start the process when the signal is already aborted", async () => {
    const marker = tmp.file("marker");
    const result = await runCommand({
      file: "sh",
      args: ["-c", 'echo started > "$0"', marker],
      env: env(),
      signal: AbortSignal.abort("too late"),
    });
    expect(result).toMatchObject({ isCanceled: true, cancelReason: "too late", failed: true });
    expect(() => readFileSync(marker)).toThrow();
  });

  it("stops a command that runs past timeoutMs and reports timedOut", async () => {
    const result = await runCommand({ file: "sleep", args: ["30"], env: env(), timeoutMs: 200 });
    expect(result).toMatchObject({ timedOut: true, isCanceled: false, failed: true, signal: "SIGTERM" });
    expect(result.durationMs).toBeGreaterThanOrEqual(190);
    expect(result.durationMs).toBeLessThan(5000);
  });

  it("throws TIMEOUT and CANCELED errors when reject is true", async () => {
    await expect(
      runCommand({ file: "sleep", args: ["30"], env: env(), timeoutMs: 100, reject: true }),
    ).rejects.toMatchObject({ code: "TIMEOUT" });
    const reason = new Error("user cancelled");
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 100);
    await expect(
      runCommand({ file: "sleep", args: ["30"], env: env(), signal: controller.signal, reject: true }),
    ).rejects.toMatchObject({ code: "CANCELED", cause: reason });
  });
});

describe("runCommand leaves no orphans", () => {
  it("kills a background child still running after the script exits normally", async () => {
    const pidFile = tmp.file("child.pid");
    const result = await runCommand({
      file: "sh",
      args: [fixture("background-child.sh"), pidFile],
      env: env(),
    });
    const child = readPid(pidFile);
    expect(isGone(child)).toBe(true);
    expect(result).toMatchObject({ exitCode: 0, failed: false });
    expect(result.durationMs).toBeLessThan(5000);
  });

  it("SIGKILLs a leftover group member that ignores SIGTERM after killGraceMs", async () => {
    const pidFile = tmp.file("child.pid");
    const result = await runCommand({
      file: "bash",
      args: ["-c", `trap '' TERM; sleep 300 & echo $! > "$0"`, pidFile],
      env: env(),
      killGraceMs: 300,
    });
    expect(isGone(readPid(pidFile))).toBe(true);
    expect(result.exitCode).toBe(0);
    expect(result.durationMs).toBeGreaterThanOrEqual(290);
  });

  it.each([
    ["keep", "a double-forked setsid grandchild that keeps the output pipes and environment"],
    ["quiet", "a double-forked setsid grandchild that closed its output (found by the environment cookie)"],
    ["scrubbed", "a double-forked setsid grandchild with a scrubbed environment (found by the output pipe)"],
    ["hidden", "a setsid child with no pipes and no cookie (found by sampling the process tree)"],
  ])("kills %s: %s", async (mode) => {
    const pidFile = tmp.file("grandchild.pid");
    const { lines, onLine } = collector();
    const result = await runCommand({
      file: "bash",
      args: [fixture("setsid-grandchild.sh"), pidFile, mode, mode === "hidden" ? "0.5" : "0"],
      env: env(),
      onLine,
    });
    expect(lines.map((l) => l.line)).toContain("escapee started");
    const grandchild = readPid(pidFile);
    expect(isGone(grandchild)).toBe(true);
    expect(result.exitCode).toBe(0);
  });

  it("kills a setsid grandchild when the command is cancelled mid-run", async () => {
    const pidFile = tmp.file("grandchild.pid");
    const controller = new AbortController();
    const result = await runCommand({
      file: "bash",
      args: [fixture("setsid-grandchild.sh"), pidFile, "quiet", "0", "stay"],
      env: env(),
      signal: controller.signal,
      onLine: (line) => {
        if (line === "escapee started") controller.abort("stop");
      },
    });
    expect(result.isCanceled).toBe(true);
    expect(isGone(readPid(pidFile))).toBe(true);
  });
});

describe("formatCommand", () => {
  it.each<[string, string[], string]>([
    ["terraform", ["plan", "-out=plan.tfplan"], "terraform plan -out=plan.tfplan"],
    ["sh", ["-c", "echo hi"], 'sh -c "echo hi"'],
    ["helm", ["upgrade", ""], 'helm upgrade ""'],
  ])("formats %s %j for messages", (file, args, expected) => {
    expect(formatCommand(file, args)).toBe(expected);
  });
});
