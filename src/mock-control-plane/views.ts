/** Shapes records into what goes on the wire: zero-valued fields omitted, as Go's `omitzero` does. */
import { TERMINAL_EXECUTION_STATUSES } from "../control-plane/schemas.ts";
import type { LogStore } from "./log-store.ts";
import type {
  ExecutionDetail,
  ExecutionFields,
  ExecutionRecord,
  JobDetail,
  JobFields,
  JobRecord,
} from "./model.ts";

/**
 * A shallow copy without undefined, null, "" and 0 fields (Go's `omitzero`). `false` is kept: an explicit
 * `enable_logging: false` must reach a runner that would otherwise assume a default.
 */
export function omitZero<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const field: unknown = value[key];
    if (field === undefined || field === null || field === "" || field === 0) continue;
    out[key] = field;
  }
  return out as T;
}

/** An execution on the wire (GET executions, the claim's 201). */
export function executionToWire(record: ExecutionRecord): ExecutionFields {
  return omitZero(record.execution);
}

/** A job on the wire; `executions` are included newest first when given (GET job sends the newest one). */
export function jobToWire(
  record: JobRecord,
  executions?: ExecutionRecord[],
): JobFields & { executions?: ExecutionFields[] } {
  const wire: JobFields & { executions?: ExecutionFields[] } = omitZero(record.job);
  if (executions !== undefined && executions.length > 0) wire.executions = executions.map(executionToWire);
  return wire;
}

/**
 * The admin view of a job: every execution (oldest first) with its result, outputs and steps; log counters; plan;
 * and `logs`, decoded from the stored batches only when the property is first read (a `job:updated` listener
 * that never looks at the logs costs nothing per record): the records held at that moment, then kept on the object.
 */
export function jobToDetail(
  record: JobRecord,
  executions: ExecutionRecord[],
  logs: Pick<LogStore, "records" | "stats">,
  logStreamId: string,
): JobDetail {
  const detailed: ExecutionDetail[] = executions.map((exec) => {
    const out: ExecutionDetail = executionToWire(exec);
    if (exec.result !== undefined) out.result = exec.result;
    if (exec.outputs !== undefined) out.outputs = exec.outputs;
    if (exec.steps.length > 0) out.steps = [...exec.steps];
    return out;
  });
  const detail = omitZero(record.job) as Omit<JobDetail, "logs">;
  detail.executions = detailed;
  detail.logStats = logs.stats(logStreamId);
  detail.plan = record.plan;
  Object.defineProperty(detail, LOGS_SOURCE, { value: { logs, logStreamId } });
  Object.defineProperty(detail, "logs", LAZY_LOGS);
  return detail as JobDetail;
}

/** Where a detail's lazy `logs` come from: a non-enumerable key, so copies, JSON and equality never see it. */
const LOGS_SOURCE = Symbol("logsSource");

/**
 * The one accessor all details share for `logs`: the first read decodes the records and replaces it with a
 * plain property. (A getter closed over each detail made building one several times slower.)
 */
const LAZY_LOGS: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: { [LOGS_SOURCE]?: { logs: Pick<LogStore, "records">; logStreamId: string } }): unknown {
    const source = this[LOGS_SOURCE];
    const value = source === undefined ? [] : source.logs.records(source.logStreamId);
    Object.defineProperty(this, "logs", { value, enumerable: true, writable: true, configurable: true });
    return value;
  },
};

/** True while an execution may still change (pending, initializing, in-progress, cleaning-up, unknown). */
export function isExecutionRunning(record: ExecutionRecord): boolean {
  const status = record.execution.status;
  return status === undefined || !TERMINAL_EXECUTION_STATUSES.has(status);
}

/** The composite-plan key for a job, derived from its type and group as Nuon does when none is stored. */
export function compositePlanKey(type: string, group: string): string | undefined {
  if (type === "sandbox-sync-secrets") return "sync_secrets_plan";
  if (type === "oci-sync" || type === "noop-sync") return "sync_oci_plan";
  if (type === "fetch-image-metadata") return "fetch_image_metadata_plan";
  const byGroup: Record<string, string> = {
    build: "build_plan",
    deploy: "deploy_plan",
    actions: "action_workflow_run_plan",
    sync: "sync_oci_plan",
    sandbox: "sandbox_run_plan",
  };
  return byGroup[group];
}

const COMPOSITE_KEYS = [
  "build_plan",
  "deploy_plan",
  "action_workflow_run_plan",
  "sync_secrets_plan",
  "sync_oci_plan",
  "sandbox_run_plan",
  "fetch_image_metadata_plan",
];

/** The composite plan of a job: the stored plan when it already is one, else the plan under its derived key. */
export function compositePlanOf(record: JobRecord): Record<string, unknown> {
  const plan = typeof record.plan === "string" ? safeJson(record.plan) : record.plan;
  if (plan === null || typeof plan !== "object" || Array.isArray(plan)) return {};
  if (COMPOSITE_KEYS.some((key) => key in plan)) return plan as Record<string, unknown>;
  const key = compositePlanKey(record.job.type ?? "", record.job.group ?? "");
  return key === undefined ? {} : { [key]: plan };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The plan as GET plan serves it: raw text (a string plan as is, anything else as JSON; `{}` when none). */
export function planText(record: JobRecord): string {
  if (typeof record.plan === "string") return record.plan;
  return record.plan === undefined ? "{}" : JSON.stringify(record.plan);
}
