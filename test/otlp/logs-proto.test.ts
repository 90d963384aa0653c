import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import {
  decodeLogsRequest,
  encodeLogsRequest,
  flattenLogsRequest,
  type LogsRequest,
} from "../../src/otlp/logs-proto.ts";

/** The upstream .proto text (opentelemetry-proto v1, trimmed to the log messages), parsed independently. */
const UPSTREAM_PROTO = `
syntax = "proto3";
package opentelemetry.proto.collector.logs.v1;
message AnyValue {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope {
  string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4;
}
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
enum SeverityNumber { SEVERITY_NUMBER_UNSPECIFIED = 0; SEVERITY_NUMBER_INFO = 9; SEVERITY_NUMBER_ERROR = 17; }
message LogRecord {
  reserved 4;
  fixed64 time_unix_nano = 1; fixed64 observed_time_unix_nano = 11; SeverityNumber severity_number = 2;
  string severity_text = 3; AnyValue body = 5; repeated KeyValue attributes = 6;
  uint32 dropped_attributes_count = 7; fixed32 flags = 8; bytes trace_id = 9; bytes span_id = 10;
  string event_name = 12;
}
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; string schema_url = 3; }
message ResourceLogs { reserved 1000; Resource resource = 1; repeated ScopeLogs scope_logs = 2; string schema_url = 3; }
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
`;
const upstream = protobuf
  .parse(UPSTREAM_PROTO, { keepCase: true })
  .root.lookupType("opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest");

const SAMPLE: LogsRequest = {
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
                { key: "runner_job.id", value: { stringValue: "rjb1" } },
                { key: "attempt", value: { intValue: 9_007_199_254_740_993n } },
                { key: "ratio", value: { doubleValue: 0.5 } },
                { key: "ok", value: { boolValue: false } },
                { key: "tags", value: { arrayValue: { values: [{ stringValue: "a" }, { intValue: 2n }] } } },
                {
                  key: "map",
                  value: { kvlistValue: { values: [{ key: "k", value: { stringValue: "v" } }] } },
                },
                { key: "raw", value: { bytesValue: new Uint8Array([1, 2, 3]) } },
              ],
              traceId: new Uint8Array(16).fill(0xab),
              spanId: new Uint8Array(8).fill(0xcd),
              flags: 1,
            },
          ],
        },
      ],
    },
  ],
};

describe("OTLP logs protobuf", () => {
  it("decodes what it encodes, 64-bit values exact", () => {
    const decoded = decodeLogsRequest(encodeLogsRequest(SAMPLE));
    const record = decoded.resourceLogs[0]?.scopeLogs[0]?.logRecords[0];
    expect(record?.timeUnixNano).toBe(1_800_000_000_123_456_789n);
    expect(record?.attributes?.[1]).toEqual({ key: "attempt", value: { intValue: 9_007_199_254_740_993n } });
    expect(Buffer.from(record?.traceId ?? []).toString("hex")).toBe("ab".repeat(16));
    expect(decoded.resourceLogs[0]?.schemaUrl).toBe("http://127.0.0.1:1");
  });

  it("writes bytes that the upstream schema reads with the same field numbers", () => {
    const message = upstream.decode(encodeLogsRequest(SAMPLE));
    const plain = upstream.toObject(message, { longs: String, enums: String, bytes: String }) as {
      resource_logs: {
        resource: { attributes: { key: string }[] };
        scope_logs: { scope: { name: string }; log_records: Record<string, unknown>[] }[];
      }[];
    };
    const record = plain.resource_logs[0]?.scope_logs[0]?.log_records[0];
    expect(plain.resource_logs[0]?.resource.attributes[0]?.key).toBe("runner.id");
    expect(plain.resource_logs[0]?.scope_logs[0]?.scope.name).toBe("oteljob");
    expect(record).toMatchObject({
      time_unix_nano: "1800000000123456789",
      severity_number: "SEVERITY_NUMBER_ERROR",
      severity_text: "ERROR",
      body: { string_value: "terraform apply failed" },
      flags: 1,
    });
  });

  it("reads bytes written from the upstream schema", () => {
    const bytes = upstream
      .encode(
        upstream.fromObject({
          resource_logs: [
            {
              resource: { attributes: [{ key: "service.name", value: { string_value: "runner" } }] },
              scope_logs: [
                {
                  scope: { name: "oteljob" },
                  log_records: [
                    {
                      time_unix_nano: "1700000000000000000",
                      severity_number: "SEVERITY_NUMBER_INFO",
                      body: { string_value: "hello" },
                      attributes: [
                        { key: "runner_job_execution_step.name", value: { string_value: "execute" } },
                        { key: "n", value: { int_value: "-5" } },
                      ],
                      span_id: Buffer.from("0102030405060708", "hex"),
                    },
                  ],
                },
              ],
            },
          ],
        }),
      )
      .finish();
    expect(flattenLogsRequest(decodeLogsRequest(bytes))).toEqual([
      {
        time: "2023-11-14T22:13:20.000Z",
        timeUnixNano: "1700000000000000000",
        severityNumber: 9,
        body: "hello",
        attributes: { "runner_job_execution_step.name": "execute", n: -5 },
        resource: { "service.name": "runner" },
        scope: { name: "oteljob" },
        spanId: "0102030405060708",
      },
    ]);
  });

  it("reads hand-written wire bytes", () => {
    // ExportLogsServiceRequest{resource_logs[1]{scope_logs[2]{log_records[2]{severity_text[3]="WARN"}}}}
    const record = [0x1a, 0x04, ...Buffer.from("WARN")];
    const scopeLogs = [0x12, record.length, ...record];
    const resourceLogs = [0x12, scopeLogs.length, ...scopeLogs];
    const request = new Uint8Array([0x0a, resourceLogs.length, ...resourceLogs]);
    expect(flattenLogsRequest(decodeLogsRequest(request))).toEqual([
      { severityText: "WARN", attributes: {}, resource: {} },
    ]);
  });

  it("flattens attributes to JSON-safe values", () => {
    const [record] = flattenLogsRequest(decodeLogsRequest(encodeLogsRequest(SAMPLE)));
    expect(record?.attributes).toEqual({
      "runner_job.id": "rjb1",
      attempt: "9007199254740993",
      ratio: 0.5,
      ok: false,
      tags: ["a", 2],
      map: { k: "v" },
      raw: "AQID",
    });
    expect(record).toMatchObject({
      severityNumber: 17,
      traceId: "ab".repeat(16),
      resource: { "runner.id": "run123" },
    });
    expect(JSON.parse(JSON.stringify(record))).toEqual(record);
  });

  it("throws a named error on truncated bytes", () => {
    expect(() => decodeLogsRequest(new Uint8Array([0x0a, 0x10, 0x01]))).toThrow(/invalid OTLP logs protobuf/);
  });
});
