import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import protobuf from "protobufjs";
import { afterEach, describe, expect, it } from "vitest";
import { type ControlPlaneClient, createControlPlaneClient } from "../../src/control-plane/client.ts";
import type { Execution, Job } from "../../src/control-plane/schemas.ts";
import { type DurableJobLog, openJobLog } from "../../src/logs/job-log.ts";
import { runnerResource } from "../../src/logs/otlp-records.ts";
import { createRedactor } from "../../src/logs/redact.ts";
import {
  createShipper,
  resumePending,
  SHIPPER_DEFAULTS,
  type Shipper,
  type ShipperOptions,
} from "../../src/logs/shipper.ts";
import { spoolRoot } from "../../src/logs/spool.ts";
import { type EmbeddedControlPlane, startControlPlane } from "../../src/mock-control-plane/server.ts";
import { type RecordingProxy, startRecordingProxy } from "../support/recording-proxy.ts";

const silent = pino({ level: "silent" });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface Setup {
  cp: EmbeddedControlPlane;
  runner: { id: string; token: string };
  client: ControlPlaneClient;
  job: Job;
  execution: Execution;
  stateDir: string;
}

async function setup(opts: { cpStateDir?: string; settings?: Record<string, unknown> } = {}): Promise<Setup> {
  const cp = await startControlPlane({ stateDir: opts.cpStateDir });
  cleanups.push(() => cp.close());
  const runner = cp.admin.createRunner({
    settings: { metadata: { "org.id": "org1", "install.id": "inst1" } },
  });
  const client = newClient(cp.url, runner);
  const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
  const execution = await client.createExecution(job.id);
  const stateDir = mkdtempSync(join(tmpdir(), "runner-ship-"));
  cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
  return { cp, runner, client, job, execution, stateDir };
}

function newClient(baseUrl: string, runner: { id: string; token: string }): ControlPlaneClient {
  const client = createControlPlaneClient({
    baseUrl,
    token: runner.token,
    runnerId: runner.id,
    requestTimeoutMs: 2_000,
    retry: { maxAttempts: 2, baseDelayMs: 20, maxDelayMs: 100 },
  });
  cleanups.push(() => client.close());
  return client;
}

function newShipper(
  client: ControlPlaneClient,
  runnerId: string,
  extra: Partial<ShipperOptions> = {},
): Shipper {
  const shipper = createShipper({
    client,
    resource: runnerResource({ metadata: { "org.id": "org1" }, runnerId, version: "9.9.9" }),
    logger: silent,
    retryBaseMs: 50,
    retryMaxMs: 300,
    ...extra,
  });
  cleanups.push(() => shipper.close());
  return shipper;
}

function jobLog(
  s: Setup,
  shipper: Shipper | undefined,
  extra: { enableLogging?: boolean } = {},
): DurableJobLog {
  return openJobLog({
    stateDir: s.stateDir,
    job: s.job,
    execution: s.execution,
    stepName: () => "execute",
    redactor: createRedactor(),
    logger: silent,
    shipper,
    flushTimeoutMs: 20_000,
    ...extra,
  });
}

const seqOf = (r: { attributes: Record<string, unknown> }) => r.attributes["runner.log.seq"] as number;
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Upstream opentelemetry-proto (collector/logs/v1 and its imports, trimmed), parsed here independently. */
const UPSTREAM = protobuf
  .parse(
    `syntax = "proto3";
package opentelemetry.proto;
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
  double double_value = 4; ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; } }
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; }
message Resource { repeated KeyValue attributes = 1; }
message LogRecord { fixed64 time_unix_nano = 1; fixed64 observed_time_unix_nano = 11; int32 severity_number = 2;
  string severity_text = 3; AnyValue body = 5; repeated KeyValue attributes = 6; fixed32 flags = 8;
  bytes trace_id = 9; bytes span_id = 10; }
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; string schema_url = 3; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; string schema_url = 3; }
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }`,
    { keepCase: true },
  )
  .root.lookupType("opentelemetry.proto.ExportLogsServiceRequest");

interface UpstreamKv {
  key: string;
  value: { string_value?: string; int_value?: string };
}
interface UpstreamRequest {
  resource_logs: Array<{
    resource: { attributes: UpstreamKv[] };
    scope_logs: Array<{
      scope: { name: string; version: string };
      log_records: Array<{
        time_unix_nano: string;
        severity_number: number;
        severity_text: string;
        body: { string_value: string };
        attributes: UpstreamKv[];
      }>;
    }>;
  }>;
}

function decodeUpstream(bytes: Uint8Array): UpstreamRequest {
  return UPSTREAM.toObject(UPSTREAM.decode(bytes), { longs: String, defaults: false }) as UpstreamRequest;
}

const attr = (kvs: UpstreamKv[], key: string) => {
  const v = kvs.find((kv) => kv.key === key)?.value;
  return v?.string_value ?? v?.int_value;
};

describe("log shipper", () => {
  it("makes a job's first line visible at the control plane within a second", async () => {
    const s = await setup();
    const log = jobLog(s, newShipper(s.client, s.runner.id));
    const started = performance.now();
    log.line("Initializing the backend...", "stdout");
    await s.cp.waitForJob(s.job.id, (j) => j.logs.length >= 1, 1_000);
    expect(performance.now() - started).toBeLessThan(1_000);
    const [record] = s.cp.admin.getJob(s.job.id)!.logs;
    expect(record).toMatchObject({
      body: "Initializing the backend...",
      severityText: "INFO",
      severityNumber: 9,
      scope: { name: "runner.job", version: "9.9.9" },
      resource: {
        "service.name": "runner",
        "runner.id": s.runner.id,
        "runner.version": "9.9.9",
        "org.id": "org1",
      },
      attributes: {
        "runner_job.id": s.job.id,
        "runner_job.type": "noop",
        "log_stream.id": s.job.log_stream_id,
        "runner_job_execution.id": s.execution.id,
        "runner_job_execution_step.name": "execute",
        stream: "stdout",
        "runner.log.seq": 1,
      },
    });
    await log.close();
  });

  it("delivers 30 000 lines in order with contiguous sequence numbers, as standard OTLP protobuf", async () => {
    const s = await setup();
    const proxy: RecordingProxy = await startRecordingProxy(s.cp.url);
    cleanups.push(() => proxy.close());
    const log = jobLog(s, newShipper(newClient(proxy.url, s.runner), s.runner.id));
    for (let i = 1; i <= 30_000; i++) {
      log.line(`line ${i}`, i % 7 === 0 ? "stderr" : "stdout");
      if (i % 1000 === 0) await sleep(1);
    }
    await log.close();

    const requests = proxy.exchanges.filter(
      (e) => e.url.pathname === `/v1/log-streams/${s.job.log_stream_id}/logs`,
    );
    expect(requests.every((e) => e.status === 201 && e.requestContentType === "application/x-protobuf")).toBe(
      true,
    );
    const records = requests.flatMap((e) => {
      const req = decodeUpstream(e.requestBytes);
      expect(attr(req.resource_logs[0]!.resource.attributes, "service.name")).toBe("runner");
      return req.resource_logs[0]!.scope_logs[0]!.log_records;
    });
    expect(records.map((r) => Number(attr(r.attributes, "runner.log.seq")))).toEqual(range(1, 30_000));
    expect(records.map((r) => r.body.string_value)).toEqual(range(1, 30_000).map((i) => `line ${i}`));
    expect(attr(records[6]!.attributes, "stream")).toBe("stderr");
    expect(BigInt(records[0]!.time_unix_nano)).toBeGreaterThan(BigInt(Date.now() - 60_000) * 1_000_000n);
    expect(
      Math.max(
        ...requests.map(
          (e) => decodeUpstream(e.requestBytes).resource_logs[0]!.scope_logs[0]!.log_records.length,
        ),
      ),
    ).toBeLessThanOrEqual(SHIPPER_DEFAULTS.maxBatchRecords);
    // Everything delivered: the spool directory is deleted (in the background, off the job path).
    await expect.poll(() => readdirSync(spoolRoot(s.stateDir))).toEqual([]);
  });

  it("loses and duplicates nothing while the control plane is down for two seconds", async () => {
    const cpStateDir = mkdtempSync(join(tmpdir(), "runner-cp-"));
    cleanups.push(() => rmSync(cpStateDir, { recursive: true, force: true }));
    const s = await setup({ cpStateDir });
    const port = s.cp.port;
    const log = jobLog(s, newShipper(s.client, s.runner.id));
    let n = 0;
    const writeFor = async (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until) {
        for (let k = 0; k < 50; k++) log.line(`line ${++n}`, "stdout");
        await sleep(20);
      }
    };
    await writeFor(600);
    await s.cp.close();
    const writtenBeforeOutage = n;
    await writeFor(2_000);
    const restarted = await startControlPlane({ port, stateDir: cpStateDir });
    cleanups.push(() => restarted.close());
    await writeFor(600);
    await log.close();
    expect(log.spool.done).toBe(true);

    const seqs = restarted.admin.getJob(s.job.id)!.logs.map(seqOf);
    expect(n).toBeGreaterThan(writtenBeforeOutage + 1_000);
    expect(seqs).toEqual(range(1, n));
  });

  it("ships the rest exactly once when a new process resumes a spool the old one left mid-stream", async () => {
    const s = await setup();
    const first = newShipper(s.client, s.runner.id, { maxBatchRecords: 100 });
    const log = jobLog(s, first);
    cleanups.push(() => log.spool.remove());
    for (let i = 1; i <= 5_000; i++) log.line(`line ${i}`, "stdout");
    log.spool.flushWrites(); // the lines reached the disk; the process now "dies" without flushing
    await s.cp.waitForJob(s.job.id, (j) => j.logs.length >= 300, 5_000);
    await first.close();
    const shippedByFirst = s.cp.admin.getJob(s.job.id)!.logs.length;
    expect(shippedByFirst).toBeLessThan(5_000);

    const second = newShipper(s.client, s.runner.id);
    const resumed = resumePending({ stateDir: s.stateDir, shipper: second, logger: silent });
    expect(resumed.resumed).toHaveLength(1);
    expect(await second.flush(resumed.resumed[0]!, 10_000)).toBe(true);
    expect(s.cp.admin.getJob(s.job.id)!.logs.map(seqOf)).toEqual(range(1, 5_000));
    // Shipped and acknowledged: removed (now, or by the next resume).
    await sleep(50);
    expect(resumePending({ stateDir: s.stateDir, shipper: second, logger: silent }).resumed).toEqual([]);
    expect(readdirSync(spoolRoot(s.stateDir))).toEqual([]);
  });

  it("delivers head, one marker and tail when the spool overflows while the control plane is away", async () => {
    const s = await setup();
    const log = openJobLog({
      stateDir: s.stateDir,
      job: s.job,
      execution: s.execution,
      stepName: () => "execute",
      redactor: createRedactor(),
      logger: silent,
      spoolOptions: { maxBytes: 64 * 1024 },
    });
    // No shipper yet: everything waits in the spool, which drops its middle.
    for (let i = 1; i <= 4_000; i++) log.line(`line ${i} ${"x".repeat(60)}`, "stdout");
    log.spool.seal();
    const shipper = newShipper(s.client, s.runner.id);
    const { resumed } = resumePending({ stateDir: s.stateDir, shipper, logger: silent });
    expect(await shipper.flush(resumed[0]!, 10_000)).toBe(true);

    const logs = s.cp.admin.getJob(s.job.id)!.logs;
    const markers = logs.filter((r) => r.attributes["runner.log.dropped_from_seq"] !== undefined);
    expect(markers).toHaveLength(1);
    const marker = markers[0]!;
    const from = marker.attributes["runner.log.dropped_from_seq"] as number;
    const to = marker.attributes["runner.log.dropped_to_seq"] as number;
    expect(marker.attributes["runner.log.dropped_records"]).toBe(to - from + 1);
    expect(marker).toMatchObject({
      severityText: "WARN",
      body: expect.stringMatching(/^… \d+ records \(.+\) dropped …$/),
    });
    const index = logs.indexOf(marker);
    expect(logs.slice(0, index).map(seqOf)).toEqual(range(1, from - 1));
    expect(logs.slice(index + 1).map(seqOf)).toEqual(range(to + 1, 4_000));
    // Lost = gaps not explained by a marker = 0.
    expect(logs.length - 1 + (to - from + 1)).toBe(4_000);
  });

  it("stops waiting in flush at its deadline while the control plane is away, and ships the rest later", async () => {
    const cpStateDir = mkdtempSync(join(tmpdir(), "runner-cp-"));
    cleanups.push(() => rmSync(cpStateDir, { recursive: true, force: true }));
    const s = await setup({ cpStateDir });
    const port = s.cp.port;
    const shipper = newShipper(s.client, s.runner.id);
    const log = jobLog(s, shipper);
    await s.cp.close();
    for (let k = 1; k <= 10; k++) log.line(`while away ${k}`, "stdout");
    const started = performance.now();
    expect(await shipper.flush(log.spool, 300)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2_000);
    const restarted = await startControlPlane({ port, stateDir: cpStateDir });
    cleanups.push(() => restarted.close());
    expect(await shipper.flush(log.spool, 10_000)).toBe(true);
    expect(restarted.admin.getJob(s.job.id)!.logs.map(seqOf)).toEqual(range(1, 10));
  });

  it("keeps the records on local disk only when enable_logging is off", async () => {
    const s = await setup();
    const shipper = newShipper(s.client, s.runner.id);
    const log = jobLog(s, shipper, { enableLogging: false });
    log.info("only local");
    await log.close();
    await sleep(300);
    expect(s.cp.admin.getJob(s.job.id)!.logs).toEqual([]);
    expect(shipper.stats().requests).toBe(0);
    expect(readdirSync(spoolRoot(s.stateDir))).toHaveLength(1);
    // The next start removes it without shipping it, and a spool created by a runner killed before its meta.
    mkdirSync(join(spoolRoot(s.stateDir), "exec-killed-early"));
    expect(resumePending({ stateDir: s.stateDir, shipper, logger: silent })).toMatchObject({
      resumed: [],
      removed: 2,
    });
    expect(readdirSync(spoolRoot(s.stateDir))).toEqual([]);
  });
});
