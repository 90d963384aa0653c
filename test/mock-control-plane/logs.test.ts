import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import type { EmbeddedControlPlane } from "../../src/mock-control-plane/server.ts";
import { encodeLogsRequest, type LogsRequest } from "../../src/otlp/logs-proto.ts";
import { call, withRunner } from "./helpers.ts";

let cp: EmbeddedControlPlane | undefined;
afterEach(async () => {
  await cp?.close();
  cp = undefined;
});

function batch(jobId: string, lines: string[]): LogsRequest {
  return {
    resourceLogs: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: "runner" } }] },
        scopeLogs: [
          {
            scope: { name: "oteljob" },
            logRecords: lines.map((line, i) => ({
              timeUnixNano: BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n + BigInt(i),
              severityNumber: 9,
              severityText: "INFO",
              body: { stringValue: line },
              attributes: [
                { key: "runner_job.id", value: { stringValue: jobId } },
                { key: "runner_job_execution_step.name", value: { stringValue: "execute" } },
              ],
            })),
          },
        ],
      },
    ],
  };
}

const PROTOBUF = { "content-type": "application/x-protobuf" };

describe("job log streams", () => {
  it("decodes an OTLP protobuf body and stores the records with their attributes on the job", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    const res = await ctx.as(`/v1/log-streams/${job.log_stream_id}/logs`, {
      body: encodeLogsRequest(batch(job.id, ["one", "two"])),
      headers: PROTOBUF,
    });
    expect(res.status).toBe(201);
    expect(res.json).toBe("ok");
    const gz = await ctx.as(`/v1/log-streams/${job.log_stream_id}/logs`, {
      body: gzipSync(encodeLogsRequest(batch(job.id, ["three"]))),
      headers: { ...PROTOBUF, "content-encoding": "gzip" },
    });
    expect(gz.status).toBe(201);
    const logs = ctx.cp.admin.getJob(job.id)?.logs ?? [];
    expect(logs.map((r) => r.body)).toEqual(["one", "two", "three"]);
    expect(logs[0]).toMatchObject({
      time: "2026-01-01T00:00:00.000Z",
      severityText: "INFO",
      attributes: { "runner_job.id": job.id, "runner_job_execution_step.name": "execute" },
      resource: { "service.name": "runner" },
      scope: { name: "oteljob" },
    });
  });

  it("rejects a malformed body with 400 and stores nothing", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    const truncated = encodeLogsRequest(batch(job.id, ["a line long enough to cut"])).slice(0, 20);
    const res = await ctx.as(`/v1/log-streams/${job.log_stream_id}/logs`, {
      body: truncated,
      headers: PROTOBUF,
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      error: "invalid request",
      description: expect.stringMatching(/^body: invalid OTLP/),
    });
    const json = await ctx.as(`/v1/log-streams/${job.log_stream_id}/logs`, { body: { resourceLogs: [] } });
    expect(json.status).toBe(400);
    expect(ctx.cp.admin.getJob(job.id)?.logs).toEqual([]);
  });

  it("refuses another runner's log stream and an unknown one", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const other = ctx.cp.admin.createRunner();
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    const body = encodeLogsRequest(batch(job.id, ["x"]));
    const forbidden = await call(`${ctx.cp.url}/v1/log-streams/${job.log_stream_id}/logs`, {
      token: other.token,
      body,
      headers: PROTOBUF,
    });
    expect(forbidden.status).toBe(403);
    const unknown = await ctx.as("/v1/log-streams/lstnope/logs", { body, headers: PROTOBUF });
    expect(unknown.status).toBe(404);
  });

  it("wakes waitForJob when logs arrive", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const job = ctx.cp.admin.enqueueJob(ctx.runner.id, { type: "noop" });
    const waiting = ctx.cp.waitForJob(job.id, (j) => j.logs.some((r) => r.body === "done"), 2_000);
    await ctx.as(`/v1/log-streams/${job.log_stream_id}/logs`, {
      body: encodeLogsRequest(batch(job.id, ["done"])),
      headers: PROTOBUF,
    });
    expect((await waiting).logs).toHaveLength(1);
  });
});
