/**
 * OTLP logs over protobuf: encode and decode `ExportLogsServiceRequest` (opentelemetry/proto/collector/logs/v1)
 * with protobufjs and a JSON descriptor. A faithful subset of the upstream .proto files: same messages, same field
 * numbers and wire types (ResourceLogs → ScopeLogs → LogRecord, KeyValue/AnyValue, Resource, InstrumentationScope).
 * Used by the log shipper (encode) and the embedded control plane (decode).
 */
import protobuf from "protobufjs";

/** An OTLP AnyValue: exactly one member is set. 64-bit integers are bigints; bytes are Uint8Array. */
export type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: bigint }
  | { doubleValue: number }
  | { arrayValue: { values: AnyValue[] } }
  | { kvlistValue: { values: KeyValue[] } }
  | { bytesValue: Uint8Array };

/** An OTLP attribute. */
export interface KeyValue {
  key: string;
  value?: AnyValue;
}

/** The entity that produced the logs (`service.name`, `runner.id`, …). */
export interface Resource {
  attributes: KeyValue[];
  droppedAttributesCount?: number;
}

/** The instrumentation scope (library) that emitted the records. */
export interface InstrumentationScope {
  name?: string;
  version?: string;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
}

/** One log record. Times are nanoseconds since the Unix epoch; trace/span ids are raw bytes (16/8). */
export interface LogRecord {
  timeUnixNano?: bigint;
  observedTimeUnixNano?: bigint;
  /** SeverityNumber: 1–4 TRACE, 5–8 DEBUG, 9–12 INFO, 13–16 WARN, 17–20 ERROR, 21–24 FATAL; 0 unspecified. */
  severityNumber?: number;
  severityText?: string;
  body?: AnyValue;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
  flags?: number;
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  eventName?: string;
}

/** Records from one scope. */
export interface ScopeLogs {
  scope?: InstrumentationScope;
  logRecords: LogRecord[];
  schemaUrl?: string;
}

/** Records from one resource. */
export interface ResourceLogs {
  resource?: Resource;
  scopeLogs: ScopeLogs[];
  schemaUrl?: string;
}

/** The body of `POST /v1/log-streams/{id}/logs`. */
export interface LogsRequest {
  resourceLogs: ResourceLogs[];
}

const field = (id: number, type: string, rule?: "repeated") => (rule ? { id, type, rule } : { id, type });

/** The descriptor: field numbers as in opentelemetry-proto v1 (logs.proto, common.proto, resource.proto). */
const DESCRIPTOR = {
  nested: {
    otlp: {
      nested: {
        AnyValue: {
          oneofs: {
            value: {
              oneof: [
                "stringValue",
                "boolValue",
                "intValue",
                "doubleValue",
                "arrayValue",
                "kvlistValue",
                "bytesValue",
              ],
            },
          },
          fields: {
            stringValue: field(1, "string"),
            boolValue: field(2, "bool"),
            intValue: field(3, "int64"),
            doubleValue: field(4, "double"),
            arrayValue: field(5, "ArrayValue"),
            kvlistValue: field(6, "KeyValueList"),
            bytesValue: field(7, "bytes"),
          },
        },
        ArrayValue: { fields: { values: field(1, "AnyValue", "repeated") } },
        KeyValueList: { fields: { values: field(1, "KeyValue", "repeated") } },
        KeyValue: { fields: { key: field(1, "string"), value: field(2, "AnyValue") } },
        InstrumentationScope: {
          fields: {
            name: field(1, "string"),
            version: field(2, "string"),
            attributes: field(3, "KeyValue", "repeated"),
            droppedAttributesCount: field(4, "uint32"),
          },
        },
        Resource: {
          fields: {
            attributes: field(1, "KeyValue", "repeated"),
            droppedAttributesCount: field(2, "uint32"),
          },
        },
        LogRecord: {
          fields: {
            timeUnixNano: field(1, "fixed64"),
            severityNumber: field(2, "int32"),
            severityText: field(3, "string"),
            body: field(5, "AnyValue"),
            attributes: field(6, "KeyValue", "repeated"),
            droppedAttributesCount: field(7, "uint32"),
            flags: field(8, "fixed32"),
            traceId: field(9, "bytes"),
            spanId: field(10, "bytes"),
            observedTimeUnixNano: field(11, "fixed64"),
            eventName: field(12, "string"),
          },
        },
        ScopeLogs: {
          fields: {
            scope: field(1, "InstrumentationScope"),
            logRecords: field(2, "LogRecord", "repeated"),
            schemaUrl: field(3, "string"),
          },
        },
        ResourceLogs: {
          fields: {
            resource: field(1, "Resource"),
            scopeLogs: field(2, "ScopeLogs", "repeated"),
            schemaUrl: field(3, "string"),
          },
        },
        ExportLogsServiceRequest: { fields: { resourceLogs: field(1, "ResourceLogs", "repeated") } },
      },
    },
  },
};

const REQUEST_TYPE = protobuf.Root.fromJSON(DESCRIPTOR).lookupType("otlp.ExportLogsServiceRequest");

// protobufjs plain objects: int64/fixed64 go in as decimal strings and come out as bigints.
type Plain = Record<string, unknown>;

function anyValueToPlain(value: AnyValue): Plain {
  if ("intValue" in value) return { intValue: value.intValue.toString() };
  if ("arrayValue" in value) return { arrayValue: { values: value.arrayValue.values.map(anyValueToPlain) } };
  if ("kvlistValue" in value)
    return { kvlistValue: { values: value.kvlistValue.values.map(keyValueToPlain) } };
  return { ...value };
}

function keyValueToPlain(kv: KeyValue): Plain {
  return kv.value === undefined ? { key: kv.key } : { key: kv.key, value: anyValueToPlain(kv.value) };
}

function recordToPlain(record: LogRecord): Plain {
  return {
    ...record,
    timeUnixNano: record.timeUnixNano?.toString(),
    observedTimeUnixNano: record.observedTimeUnixNano?.toString(),
    body: record.body === undefined ? undefined : anyValueToPlain(record.body),
    attributes: record.attributes?.map(keyValueToPlain),
  };
}

function requestToPlain(req: LogsRequest): Plain {
  return {
    resourceLogs: req.resourceLogs.map((rl) => ({
      schemaUrl: rl.schemaUrl,
      resource: rl.resource && {
        attributes: rl.resource.attributes.map(keyValueToPlain),
        droppedAttributesCount: rl.resource.droppedAttributesCount,
      },
      scopeLogs: rl.scopeLogs.map((sl) => ({
        schemaUrl: sl.schemaUrl,
        scope: sl.scope && { ...sl.scope, attributes: sl.scope.attributes?.map(keyValueToPlain) },
        logRecords: sl.logRecords.map(recordToPlain),
      })),
    })),
  };
}

/** Encodes an ExportLogsServiceRequest to protobuf bytes. */
export function encodeLogsRequest(req: LogsRequest): Uint8Array {
  return REQUEST_TYPE.encode(REQUEST_TYPE.fromObject(requestToPlain(req))).finish();
}

const TO_OBJECT_OPTIONS: protobuf.IConversionOptions = {
  longs: BigInt as unknown as protobuf.IConversionOptions["longs"],
  enums: Number,
  defaults: false,
  arrays: true,
  oneofs: false,
};

/**
 * Decodes protobuf bytes into an ExportLogsServiceRequest; throws an Error naming the problem when the bytes
 * are not a valid message. Unknown fields are skipped, as protobuf requires.
 */
export function decodeLogsRequest(bytes: Uint8Array): LogsRequest {
  let message: protobuf.Message;
  try {
    message = REQUEST_TYPE.decode(bytes);
  } catch (err) {
    throw new Error(`invalid OTLP logs protobuf: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  // The plain object already has our shape: camelCase names, bigints for 64-bit fields, Uint8Array bytes.
  return REQUEST_TYPE.toObject(message, TO_OBJECT_OPTIONS) as LogsRequest;
}

/** A log record flattened for storage and assertions: JSON-safe, attributes as plain values. */
export interface DecodedLogRecord {
  /** RFC 3339 time of the record (millisecond precision), when set. */
  time?: string;
  /** Nanoseconds since the Unix epoch as a decimal string, when set. */
  timeUnixNano?: string;
  severityNumber?: number;
  severityText?: string;
  /** The body as a plain value (string, number, boolean, array, object). */
  body?: unknown;
  /** Record attributes, e.g. `runner_job.id`, `runner_job_execution.id`, `runner_job_execution_step.name`. */
  attributes: Record<string, unknown>;
  /** Resource attributes, e.g. `service.name`, `runner.id`. */
  resource: Record<string, unknown>;
  scope?: { name?: string; version?: string };
  /** Lower-case hex. */
  traceId?: string;
  spanId?: string;
  eventName?: string;
}

/** Converts an AnyValue to a JSON-safe value: int64 → number when safe else decimal string, bytes → base64. */
export function anyValueToJs(value: AnyValue | undefined): unknown {
  if (value === undefined) return undefined;
  if ("stringValue" in value) return value.stringValue;
  if ("boolValue" in value) return value.boolValue;
  if ("doubleValue" in value) return value.doubleValue;
  if ("intValue" in value) {
    const n = Number(value.intValue);
    return Number.isSafeInteger(n) ? n : value.intValue.toString();
  }
  if ("bytesValue" in value) return Buffer.from(value.bytesValue).toString("base64");
  if ("arrayValue" in value) return (value.arrayValue.values ?? []).map(anyValueToJs);
  if ("kvlistValue" in value) return keyValuesToJs(value.kvlistValue.values);
  return undefined;
}

/** Converts a KeyValue list to a plain object (later duplicates win). */
export function keyValuesToJs(values: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of values ?? []) out[kv.key] = anyValueToJs(kv.value);
  return out;
}

function hex(bytes: Uint8Array | undefined): string | undefined {
  return bytes && bytes.length > 0 ? Buffer.from(bytes).toString("hex") : undefined;
}

function nanosToIso(nanos: bigint | undefined): string | undefined {
  if (nanos === undefined || nanos === 0n) return undefined;
  return new Date(Number(nanos / 1_000_000n)).toISOString();
}

function dropUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) {
    if (value[key] === undefined) delete value[key];
  }
  return value;
}

/** Flattens a request into one DecodedLogRecord per log record, in order. */
export function flattenLogsRequest(req: LogsRequest): DecodedLogRecord[] {
  const out: DecodedLogRecord[] = [];
  for (const rl of req.resourceLogs ?? []) {
    const resource = keyValuesToJs(rl.resource?.attributes);
    for (const sl of rl.scopeLogs ?? []) {
      const scope = sl.scope && dropUndefined({ name: sl.scope.name, version: sl.scope.version });
      for (const record of sl.logRecords ?? []) {
        const decoded: DecodedLogRecord = {
          time: nanosToIso(record.timeUnixNano),
          timeUnixNano: record.timeUnixNano?.toString(),
          severityNumber: record.severityNumber,
          severityText: record.severityText,
          body: anyValueToJs(record.body),
          attributes: keyValuesToJs(record.attributes),
          resource,
          scope,
          traceId: hex(record.traceId),
          spanId: hex(record.spanId),
          eventName: record.eventName,
        };
        out.push(dropUndefined(decoded));
      }
    }
  }
  return out;
}
