import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createControlPlaneClient } from "../../src/control-plane/client.ts";
import { LineSplitter } from "../../src/exec/line-splitter.ts";
import { createJobLog, openJobLog, parseLogLevel } from "../../src/logs/job-log.ts";
import { isGap, runnerResource, type SpoolRecord } from "../../src/logs/otlp-records.ts";
import { createRedactor } from "../../src/logs/redact.ts";
import { createShipper } from "../../src/logs/shipper.ts";
import { Spool, spoolDir } from "../../src/logs/spool.ts";
import { startControlPlane } from "../../src/mock-control-plane/server.ts";
import { startRecordingProxy } from "../support/recording-proxy.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "runner-joblog-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A pino logger whose lines are collected as parsed JSON. */
function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

const JOB = { id: "job1", type: "terraform-deploy", log_stream_id: "ls1" };
const EXECUTION = { id: "exec1" };

function readAll(spool: Spool): SpoolRecord[] {
  spool.flushWrites();
  const out: SpoolRecord[] = [];
  for (;;) {
    const batch = spool.read(1000, 10_000_000);
    if (batch.items.length === 0) return out;
    for (const item of batch.items) if (!isGap(item)) out.push(item);
  }
}

describe("durable job log", () => {
  it("turns messages and output lines into records with the step, stream, level and fields", () => {
    const spool = Spool.create(spoolDir(tempDir(), EXECUTION.id), {
      ...JOB,
      jobId: JOB.id,
      jobType: JOB.type,
      logStreamId: JOB.log_stream_id,
      executionId: EXECUTION.id,
      ship: false,
    });
    let step = "initialize";
    const log = createJobLog({
      job: JOB,
      execution: EXECUTION,
      stepName: () => step,
      spool,
      redactor: createRedactor(),
      logger: pino({ level: "silent" }),
      maxMessageChars: 100,
      nowMs: () => 1_767_225_600_000,
    });
    log.info("terraform init", { attempt: 1, dir: "/work", skipped: undefined, nothing: null });
    step = "execute";
    log.line("Plan: 1 to add", "stdout");
    log.line("Warning: deprecated", "stderr");
    log.debug("below the level: not kept");
    log.warn("slow", { nested: { a: [1, 2] }, err: new Error("boom") });
    log.error("x".repeat(150));

    const records = readAll(spool);
    expect(records.map((r) => [r.seq, r.level, r.step, r.stream ?? "-"])).toEqual([
      [1, "info", "initialize", "-"],
      [2, "info", "execute", "stdout"],
      [3, "info", "execute", "stderr"],
      [4, "warn", "execute", "-"],
      [5, "error", "execute", "-"],
    ]);
    expect(records[0]).toMatchObject({
      time: 1_767_225_600_000,
      msg: "terraform init",
      fields: { attempt: 1, dir: "/work" },
    });
    expect(Object.keys(records[0]!.fields!)).toEqual(["attempt", "dir"]);
    expect(records[3]!.fields!.nested).toBe('{"a":[1,2]}');
    expect(JSON.parse(records[3]!.fields!.err as string)).toMatchObject({ name: "Error", message: "boom" });
    expect(records[4]!.msg).toBe(`${"x".repeat(100)}… (50 characters cut)`);
  });

  it("keeps debug records when the level is debug", () => {
    const spool = Spool.create(spoolDir(tempDir(), EXECUTION.id), {
      jobId: "j",
      jobType: "t",
      logStreamId: "l",
      executionId: "e",
      ship: false,
    });
    const log = createJobLog({
      job: JOB,
      execution: EXECUTION,
      stepName: () => "s",
      spool,
      redactor: createRedactor(),
      logger: pino({ level: "silent" }),
      level: "debug",
    });
    log.debug("kept");
    expect(readAll(spool).map((r) => r.msg)).toEqual(["kept"]);
  });

  it("never lets a secret reach the control plane or the disk, even split across two writes of a process", async () => {
    const token = "ghp_S3cr3tT0kenValue1234567890abcdef";
    const pem =
      "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END KEY-----";
    const redactor = createRedactor();
    redactor.add(token);
    redactor.add(pem);

    const cp = await startControlPlane();
    cleanups.push(() => cp.close());
    const proxy = await startRecordingProxy(cp.url);
    cleanups.push(() => proxy.close());
    const runner = cp.admin.createRunner();
    const client = createControlPlaneClient({ baseUrl: proxy.url, token: runner.token, runnerId: runner.id });
    cleanups.push(() => client.close());
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const execution = await client.createExecution(job.id);
    const silent = pino({ level: "silent" });
    const shipper = createShipper({
      client,
      resource: runnerResource({ runnerId: runner.id, version: "t" }),
      logger: silent,
    });
    cleanups.push(() => shipper.close());
    const stateDir = tempDir();
    const { logger: echo, lines: echoed } = captureLogger();
    const log = openJobLog({
      stateDir,
      job,
      execution,
      stepName: () => "execute",
      redactor,
      logger: silent,
      shipper,
      echo,
    });

    // A process prints the token in two writes; the line splitter joins them into one line.
    const splitter = new LineSplitter((line) => log.line(line, "stdout"));
    splitter.push(`export TOKEN=${token.slice(0, 11)}`);
    splitter.push(`${token.slice(11)} done\n`);
    splitter.push(`${pem}\n`);
    splitter.end();
    log.info(`calling the API with ${token}`, {
      header: `Bearer ${token}`,
      b64: Buffer.from(`x:${token}`).toString("base64"),
    });
    log.error("failed", { err: new Error(`bad token ${token}`) });
    log.spool.flushWrites();
    const diskCopy = readFileSync(join(spoolDir(stateDir, execution.id), "000000000001.seg"));
    await log.close();

    const logs = cp.admin.getJob(job.id)!.logs;
    expect(logs.map((r) => r.body)).toEqual([
      "export TOKEN=[REDACTED] done",
      // Every line of a multi-line secret is one of its forms.
      "[REDACTED]",
      "[REDACTED]",
      "[REDACTED]",
      "[REDACTED]",
      "calling the API with [REDACTED]",
      "failed",
    ]);
    const sent = Buffer.concat(proxy.exchanges.map((e) => e.requestBytes));
    expect(sent.length).toBeGreaterThan(0);
    const forms = [
      token,
      token.slice(0, 20),
      Buffer.from(`x:${token}`).toString("base64"),
      "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    ];
    for (const bytes of [sent, diskCopy, Buffer.from(JSON.stringify(echoed))]) {
      for (const form of forms) expect(bytes.includes(form)).toBe(false);
      expect(bytes.includes("[REDACTED]")).toBe(true);
    }
  });

  it("waits on close until the control plane has every record, then ignores and reports later writes", async () => {
    const cp = await startControlPlane();
    cleanups.push(() => cp.close());
    const runner = cp.admin.createRunner();
    const client = createControlPlaneClient({ baseUrl: cp.url, token: runner.token, runnerId: runner.id });
    cleanups.push(() => client.close());
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const execution = await client.createExecution(job.id);
    const { logger, lines } = captureLogger();
    const shipper = createShipper({
      client,
      resource: runnerResource({ runnerId: runner.id, version: "t" }),
      logger,
      batchDelayMs: 5_000,
    });
    cleanups.push(() => shipper.close());
    const stateDir = tempDir();
    const log = openJobLog({
      stateDir,
      job,
      execution,
      stepName: () => "execute",
      redactor: createRedactor(),
      logger,
      shipper,
    });
    for (let i = 1; i <= 100; i++) log.line(`line ${i}`, "stdout");
    const started = performance.now();
    await log.close();
    // The 5 s batch delay is skipped at the end of the job.
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(cp.admin.getJob(job.id)!.logs).toHaveLength(100);
    log.line("after close", "stdout");
    log.info("again");
    expect(
      lines.filter(
        (l) => l.msg === "a job wrote to its log after the log was closed; the line is not shipped",
      ),
    ).toHaveLength(1);
    // A delivered spool is deleted in the background, off the job path.
    await expect.poll(() => readdirSync(join(stateDir, "spool"))).toEqual([]);
  });

  it.each([
    ["DEBUG", "debug"],
    ["INFO", "info"],
    ["warning", "warn"],
    ["Warn", "warn"],
    ["ERROR", "error"],
    [undefined, "info"],
    ["verbose", "info"],
  ] as const)("reads the settings logging_level %s as %s", (text, level) => {
    expect(parseLogLevel(text)).toBe(level);
  });
});
