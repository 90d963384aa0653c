import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getHeapSpaceStatistics } from "node:v8";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { createControlPlaneClient } from "../../src/control-plane/client.ts";
import { openJobLog } from "../../src/logs/job-log.ts";
import { runnerResource } from "../../src/logs/otlp-records.ts";
import { createRedactor } from "../../src/logs/redact.ts";
import { createShipper } from "../../src/logs/shipper.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A loopback log receiver that answers 201 "ok" and counts the bytes it was sent. */
async function startSink(): Promise<{ url: string; bytes: () => number; requests: () => number }> {
  let bytes = 0;
  let requests = 0;
  const server = createServer((req, res) => {
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on("end", () => {
      requests++;
      res.writeHead(201, { "content-type": "application/json" });
      res.end('"ok"');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bytes: () => bytes,
    requests: () => requests,
  };
}

/**
 * RSS less V8's young generation: V8 grows the young generation (up to its own --max-semi-space-size) while
 * allocation is fast and shrinks it when idle, whatever the data; what the pipeline keeps is the rest.
 */
function rssBeyondYoung(): number {
  const young = getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0;
  return process.memoryUsage().rss - young;
}

describe("job log memory", () => {
  it("stays bounded while 50 MB of job output goes through the spool and the shipper", async () => {
    const sink = await startSink();
    const stateDir = mkdtempSync(join(tmpdir(), "runner-logmem-"));
    cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const client = createControlPlaneClient({
      baseUrl: sink.url,
      token: "t0ken-for-tests",
      runnerId: "run1",
    });
    cleanups.push(() => client.close());
    const silent = pino({ level: "silent" });
    const shipper = createShipper({
      client,
      resource: runnerResource({ runnerId: "run1", version: "t" }),
      logger: silent,
    });
    cleanups.push(() => shipper.close());
    const log = openJobLog({
      stateDir,
      job: { id: "job1", type: "terraform-deploy", log_stream_id: "ls1" },
      execution: { id: "exec1" },
      stepName: () => "execute",
      redactor: createRedactor(),
      logger: silent,
      shipper,
      flushTimeoutMs: 60_000,
    });
    const base = "module.vpc.aws_subnet.private[0]: Still creating... [10s elapsed] id=subnet-0a1b2c3d4e5f ";
    let i = 0;
    let peak = 0;
    /** Writes `mb` MB of job output as a job would: in bursts, held back while 32 MB wait unshipped. */
    const write = async (mb: number) => {
      let written = 0;
      while (written < mb * 1e6) {
        for (let k = 0; k < 5_000; k++) {
          const line = `${base}${i++}`;
          log.line(line, "stdout");
          written += line.length + 1;
        }
        peak = Math.max(peak, rssBeyondYoung());
        while (log.spool.stats.onDiskBytes > 32e6) await new Promise((r) => setTimeout(r, 5));
        await new Promise((r) => setImmediate(r));
      }
    };
    // Warm up first (JIT, the connection, the spool's buffers), then measure 50 MB more.
    await write(10);
    await shipper.flush(log.spool, 30_000);
    const before = rssBeyondYoung();
    peak = before;
    await write(50);
    await log.close();
    peak = Math.max(peak, rssBeyondYoung());
    expect(log.spool.done).toBe(true);
    expect(shipper.stats().items).toBe(log.spool.lastSeq);
    expect(sink.bytes()).toBeGreaterThan(50e6);
    expect((peak - before) / 1e6).toBeLessThan(64);
  });
});
