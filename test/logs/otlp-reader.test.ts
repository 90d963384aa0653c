import { describe, expect, it } from "vitest";
import { encodeLogsBatch } from "../../src/logs/logs-encoder.ts";
import type { SpoolItem, StreamContext } from "../../src/logs/otlp-records.ts";
import {
  decodeLogsRequest,
  encodeLogsRequest,
  flattenLogsRequest,
  type LogsRequest,
} from "../../src/otlp/logs-proto.ts";
import { decodeLogRecords } from "../../src/otlp/logs-reader.ts";
import { scanLogsRequest } from "../../src/otlp/logs-scan.ts";

const CTX: StreamContext = { jobId: "rjb1", jobType: "noop", logStreamId: "lst1", executionId: "rje1" };
const RESOURCE = { attributes: { "service.name": "runner", "runner.id": "run1" }, scopeVersion: "1.2.3" };
const ITEMS: SpoolItem[] = [
  { seq: 1, time: 1_700_000_000_000, level: "info", step: "execute", stream: "stdout", msg: "hello ✓" },
  {
    seq: 2,
    time: 1_700_000_000_001,
    level: "error",
    step: "execute",
    msg: "boom",
    fields: { n: 3, ok: true },
  },
  { fromSeq: 3, toSeq: 9, records: 7, bytes: 700, time: 1_700_000_000_002 },
  { seq: 10, time: 1_700_000_000_003, level: "warn", step: "cleanup", msg: "" },
];

/** Every kind of value, trace ids, two resources and two scopes. */
const RICH: LogsRequest = {
  resourceLogs: [
    {
      resource: { attributes: [{ key: "runner.id", value: { stringValue: "run123" } }] },
      schemaUrl: "http://127.0.0.1:1",
      scopeLogs: [
        {
          scope: { name: "oteljob", version: "1" },
          logRecords: [
            {
              timeUnixNano: 1_800_000_000_123_456_789n,
              severityNumber: 17,
              severityText: "ERROR",
              body: { stringValue: "terraform apply failed" },
              attributes: [
                { key: "attempt", value: { intValue: 9_007_199_254_740_993n } },
                { key: "neg", value: { intValue: -5n } },
                { key: "ratio", value: { doubleValue: 0.5 } },
                { key: "ok", value: { boolValue: false } },
                { key: "tags", value: { arrayValue: { values: [{ stringValue: "a" }, { intValue: 2n }] } } },
                {
                  key: "map",
                  value: { kvlistValue: { values: [{ key: "k", value: { stringValue: "v" } }] } },
                },
                { key: "raw", value: { bytesValue: new Uint8Array([1, 2, 3]) } },
                { key: "empty" },
              ],
              traceId: new Uint8Array(16).fill(0xab),
              spanId: new Uint8Array(8).fill(0xcd),
              flags: 1,
              eventName: "apply",
            },
            { body: { kvlistValue: { values: [] } } },
          ],
        },
        { logRecords: [{ severityText: "WARN" }] },
      ],
    },
    { scopeLogs: [{ scope: {}, logRecords: [{ timeUnixNano: 0n, body: { intValue: 1n } }] }] },
  ],
};

describe("the OTLP logs reader", () => {
  it("decodes the same records as protobufjs and flattenLogsRequest", () => {
    for (const bytes of [encodeLogsBatch(RESOURCE, CTX, ITEMS), encodeLogsRequest(RICH)]) {
      const want = flattenLogsRequest(decodeLogsRequest(bytes));
      expect(decodeLogRecords(bytes)).toEqual(want);
      expect(JSON.stringify(decodeLogRecords(bytes))).toBe(JSON.stringify(want));
    }
    expect(decodeLogRecords(encodeLogsRequest(RICH), (i) => i === 2)).toEqual([
      { severityText: "WARN", attributes: {}, resource: { "runner.id": "run123" } },
    ]);
  });

  it("finds each record's execution, sequence number and drop range without decoding it", () => {
    expect(scanLogsRequest(encodeLogsBatch(RESOURCE, CTX, ITEMS))).toEqual([
      { executionId: "rje1", seq: 1, droppedFromSeq: -1, droppedToSeq: -1 },
      { executionId: "rje1", seq: 2, droppedFromSeq: -1, droppedToSeq: -1 },
      { executionId: "rje1", seq: -1, droppedFromSeq: 3, droppedToSeq: 9 },
      { executionId: "rje1", seq: 10, droppedFromSeq: -1, droppedToSeq: -1 },
    ]);
    expect(scanLogsRequest(encodeLogsRequest(RICH))).toHaveLength(4);
    expect(scanLogsRequest(new Uint8Array(0))).toEqual([]);
  });

  it("rejects truncated and malformed bytes with a named error, anywhere in the message", () => {
    const bytes = encodeLogsBatch(RESOURCE, CTX, ITEMS);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const prefix = bytes.subarray(0, cut);
      let scanned: unknown;
      try {
        scanned = scanLogsRequest(prefix);
      } catch (err) {
        expect((err as Error).message).toMatch(/^invalid OTLP logs protobuf: /);
        continue;
      }
      // A cut that falls exactly between two top-level fields is a valid, shorter message.
      expect(() => decodeLogsRequest(prefix)).not.toThrow();
      expect(scanned).toEqual(scanLogsRequest(prefix));
    }
    expect(() => scanLogsRequest(new Uint8Array([0x0a, 0x10, 0x01]))).toThrow(/invalid OTLP logs protobuf/);
    expect(() => scanLogsRequest(new Uint8Array([0x0b]))).toThrow(/wire type 3/);
    expect(() => decodeLogRecords(new Uint8Array([0x0a, 0x02, 0x12, 0x05]))).toThrow(/runs past the end/);
  });
});
