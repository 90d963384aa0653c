import { describe, expect, it } from "vitest";
import { encodeLogsBatch } from "../../src/logs/logs-encoder.ts";
import { buildLogsRequest, gapMessage, runnerResource, type SpoolItem } from "../../src/logs/otlp-records.ts";
import { decodeLogsRequest, encodeLogsRequest, flattenLogsRequest } from "../../src/otlp/logs-proto.ts";

const CTX = { jobId: "rjb1", jobType: "terraform-deploy", logStreamId: "lsm1", executionId: "rje1" };
const RESOURCE = runnerResource({
  metadata: { "org.id": "org1", "runner.id": "overridden" },
  runnerId: "run1",
  version: "1.2.3",
  schemaUrl: "http://127.0.0.1:1",
});

const ITEMS: SpoolItem[] = [
  {
    seq: 1,
    time: 1_767_225_600_123,
    level: "info",
    step: "execute",
    stream: "stdout",
    msg: "Plan: 3 to add",
  },
  { seq: 2, time: 1_767_225_600_124, level: "error", step: "execute", stream: "stderr", msg: "ünïcödé ✓ 🚀" },
  {
    seq: 3,
    time: 1_767_225_600_125,
    level: "warn",
    step: "cleanup",
    msg: "x".repeat(70_000),
    fields: { attempt: 3, ratio: 0.5, ok: true, negative: -7, note: "n", stream: "not allowed" },
  },
  { fromSeq: 4, toSeq: 1_003, records: 1_000, bytes: 56_000_000, time: 1_767_225_600_126 },
  { seq: 1_004, time: 1_767_225_600_127, level: "debug", step: "", msg: "" },
];

describe("OTLP encoding of spool records", () => {
  it("is byte for byte what the generic protobuf encoder writes for the same request", () => {
    const fast = encodeLogsBatch(RESOURCE, CTX, ITEMS);
    const reference = encodeLogsRequest(buildLogsRequest(RESOURCE, CTX, ITEMS));
    expect(Buffer.from(fast).equals(Buffer.from(reference))).toBe(true);
    const big = Array.from({ length: 600 }, (_, i) => ({ ...(ITEMS[0] as object), seq: i + 1 }) as SpoolItem);
    expect(Buffer.from(encodeLogsBatch(RESOURCE, CTX, big))).toEqual(
      Buffer.from(encodeLogsRequest(buildLogsRequest(RESOURCE, CTX, big))),
    );
  });

  it("maps records to the attributes, severities and resource the control plane reads", () => {
    const records = flattenLogsRequest(decodeLogsRequest(encodeLogsBatch(RESOURCE, CTX, ITEMS)));
    expect(records).toHaveLength(5);
    expect(records[0]).toEqual({
      time: "2026-01-01T00:00:00.123Z",
      timeUnixNano: "1767225600123000000",
      severityNumber: 9,
      severityText: "INFO",
      body: "Plan: 3 to add",
      attributes: {
        "runner_job.id": "rjb1",
        "runner_job.type": "terraform-deploy",
        "log_stream.id": "lsm1",
        "runner_job_execution.id": "rje1",
        "runner_job_execution_step.name": "execute",
        stream: "stdout",
        "runner.log.seq": 1,
      },
      resource: {
        "org.id": "org1",
        "service.name": "runner",
        "runner.id": "run1",
        "runner.version": "1.2.3",
      },
      scope: { name: "runner.job", version: "1.2.3" },
    });
    expect(records[1]).toMatchObject({ severityText: "ERROR", severityNumber: 17, body: "ünïcödé ✓ 🚀" });
    expect(records[2]!.attributes).toMatchObject({
      attempt: 3,
      ratio: 0.5,
      ok: true,
      negative: -7,
      note: "n",
    });
    expect(records[2]!.attributes).not.toHaveProperty("stream");
    expect(records[3]).toMatchObject({
      severityText: "WARN",
      body: "… 1000 records (56 MB) dropped …",
      attributes: {
        "runner.log.dropped_from_seq": 4,
        "runner.log.dropped_to_seq": 1_003,
        "runner.log.dropped_records": 1_000,
        "runner.log.dropped_bytes": 56_000_000,
      },
    });
    expect(records[3]!.attributes).not.toHaveProperty("runner.log.seq");
    expect(records[4]).toMatchObject({ severityText: "DEBUG", severityNumber: 5, body: "" });
  });

  it.each([
    [12, "… 3 records (12 bytes) dropped …"],
    [250_000, "… 3 records (0.3 MB) dropped …"],
    [56_400_000, "… 3 records (56 MB) dropped …"],
  ])("describes a gap of %i bytes as %s", (bytes, text) => {
    expect(gapMessage({ fromSeq: 1, toSeq: 3, records: 3, bytes, time: 0 })).toBe(text);
  });
});
