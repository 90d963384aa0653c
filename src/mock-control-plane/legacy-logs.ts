/**
 * Snapshots written before log files (log-store.ts) held each stream's records decoded, in the JSON state file.
 * At load they are encoded back to one OTLP body and stored like any request, so nothing a user saw is lost.
 */
import {
  type AnyValue,
  type DecodedLogRecord,
  encodeLogsRequest,
  type KeyValue,
  type LogsRequest,
} from "../otlp/logs-proto.ts";

/** Decoded records (an old snapshot's) encoded back to one OTLP body, one ResourceLogs per record. */
export function legacyRecordsBody(records: DecodedLogRecord[]): Buffer {
  const request: LogsRequest = {
    resourceLogs: records.map((r) => ({
      resource: { attributes: toKeyValues(r.resource) },
      scopeLogs: [
        {
          ...(r.scope === undefined ? {} : { scope: r.scope }),
          logRecords: [
            {
              ...(r.timeUnixNano === undefined ? {} : { timeUnixNano: BigInt(r.timeUnixNano) }),
              ...(r.severityNumber === undefined ? {} : { severityNumber: r.severityNumber }),
              ...(r.severityText === undefined ? {} : { severityText: r.severityText }),
              ...(r.body === undefined ? {} : { body: toAnyValue(r.body) }),
              attributes: toKeyValues(r.attributes),
              ...(r.traceId === undefined ? {} : { traceId: Buffer.from(r.traceId, "hex") }),
              ...(r.spanId === undefined ? {} : { spanId: Buffer.from(r.spanId, "hex") }),
              ...(r.eventName === undefined ? {} : { eventName: r.eventName }),
            },
          ],
        },
      ],
    })),
  };
  return Buffer.from(encodeLogsRequest(request));
}

function toKeyValues(values: Record<string, unknown> | undefined): KeyValue[] {
  return Object.entries(values ?? {}).map(([key, value]) =>
    value === undefined ? { key } : { key, value: toAnyValue(value) },
  );
}

function toAnyValue(value: unknown): AnyValue {
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  if (typeof value === "number") {
    return Number.isSafeInteger(value) ? { intValue: BigInt(value) } : { doubleValue: value };
  }
  if (Array.isArray(value)) return { arrayValue: { values: value.map(toAnyValue) } };
  if (typeof value === "object" && value !== null) {
    return { kvlistValue: { values: toKeyValues(value as Record<string, unknown>) } };
  }
  return { stringValue: String(value) };
}
