/**
 * The control-plane client: `ControlPlaneApi` over HTTP (PROTOCOL.md §2), one method per wire operation.
 * Each call is attempted through http.ts (headers, deadline, error mapping), retried through retry.ts
 * (which operations are safe to resend), and its answer parsed with the zod models of schemas.ts.
 */
import type * as z from "zod/mini";
import type { CallOptions, ControlPlaneApi, ListJobsQuery, TailResult } from "./api.ts";
import { type ClientOptions, checkPositive, resolveOptions } from "./client-options.ts";
import { buildResultBody } from "./compress.ts";
import { ControlPlaneError } from "./errors.ts";
import { type HttpContext, type HttpRequest, parseBody, sendOnce } from "./http.ts";
import { abortedError, type OperationName, RETRY_POLICY, withRetry } from "./retry.ts";
import {
  CompositePlan,
  Execution,
  ExecutionOutputs,
  HealthCheck,
  HeartBeat,
  Job,
  JobList,
  Runner,
  RunnerProcess,
  RunnerSettings,
} from "./schemas.ts";
import { createHttpTransport } from "./transport.ts";

export type { ClientOptions } from "./client-options.ts";

/** The control-plane API plus `close()`, which ends calls in flight (ABORTED) and releases connections. */
export type ControlPlaneClient = ControlPlaneApi & { close(): Promise<void> };

/** Extra time a long-poll attempt gets beyond the wait it asks the server for, in milliseconds (5 s). */
export const TAIL_DEADLINE_SLACK_MS = 5_000;

/** Idle keep-alive connections are closed after this many milliseconds (4 s). */
const KEEP_ALIVE_TIMEOUT_MS = 4_000;

/** Creates a client for one runner; throws a TypeError naming the option when `opts` is invalid. */
export function createControlPlaneClient(opts: ClientOptions): ControlPlaneClient {
  const o = resolveOptions(opts);
  const closer = new AbortController();
  const transport = createHttpTransport({
    baseUrl: o.baseUrl,
    tlsInsecure: o.tlsInsecure,
    freeSocketTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
    ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
  });
  const ctx: HttpContext = {
    transport,
    token: opts.token,
    headers: {
      authorization: `Bearer ${opts.token}`,
      "x-nuon-client-version": `runner:${o.version}`,
      "user-agent": `runner/${o.version}`,
      accept: "application/json",
    },
    closeSignal: closer.signal,
  };
  const runner = `/v1/runners/${seg(opts.runnerId)}`;
  const execution = (jobId: string, executionId: string) =>
    `/v1/runner-jobs/${seg(jobId)}/executions/${seg(executionId)}`;
  const workspace = (ws: string, action: string, jobId?: string) =>
    `/v1/terraform-workspaces/${seg(ws)}/${action}${query({ job_id: jobId })}`;

  type Spec = Omit<HttpRequest, "operation" | "timeoutMs" | "signal" | "body"> & {
    json?: unknown;
    body?: HttpRequest["body"];
    timeoutMs?: number;
  };

  /** Sends one operation with retries; resolves with the 2xx body text. */
  async function call(
    operation: OperationName,
    spec: Spec,
    callOpts: CallOptions | undefined,
  ): Promise<string> {
    if (closer.signal.aborted) throw closedError(operation);
    const signal = callOpts?.signal;
    if (signal?.aborted) throw abortedError(operation, signal.reason);
    const timeoutMs = callOpts?.timeoutMs ?? spec.timeoutMs ?? o.requestTimeoutMs;
    checkPositive(`${operation}: timeoutMs`, timeoutMs);
    const body =
      spec.json !== undefined
        ? { contentType: "application/json", data: JSON.stringify(spec.json) }
        : spec.body;
    const req: HttpRequest = {
      operation,
      method: spec.method,
      path: spec.path,
      timeoutMs,
      signal,
      body,
      // a reset of a reused connection is resent at once only where sending twice is harmless (never the claim)
      resendOnStaleReuse: RETRY_POLICY[operation] === "any",
    };
    const res = await withRetry(() => sendOnce(ctx, req), {
      operation,
      ...o.retry,
      // read only before a backoff sleep: the combined signal is made only for calls that do retry
      get signal() {
        return signal ? AbortSignal.any([signal, closer.signal]) : closer.signal;
      },
      onRetry: opts.onRetry,
    });
    return res.text;
  }

  /** `call`, then the body parsed with `schema`. */
  async function callParsed<S extends z.core.$ZodType>(
    operation: OperationName,
    schema: S,
    spec: Spec,
    callOpts: CallOptions | undefined,
  ): Promise<z.output<S>> {
    return parseBody(operation, schema, await call(operation, spec, callOpts));
  }

  return {
    runnerId: opts.runnerId,
    baseUrl: o.baseUrl,
    buildResultBody,

    getSettings: (c) =>
      callParsed("getSettings", RunnerSettings, { method: "GET", path: `${runner}/settings` }, c),
    getRunner: (c) => callParsed("getRunner", Runner, { method: "GET", path: runner }, c),
    listJobs: (q: ListJobsQuery, c) =>
      callParsed("listJobs", JobList, { method: "GET", path: `${runner}/jobs${query({ ...q })}` }, c),
    async tailJobs(group, waitMs, c): Promise<TailResult> {
      checkPositive("tailJobs: waitMs", waitMs, true);
      const path = `${runner}/jobs/tail${query({ group, wait: goDuration(waitMs) })}`;
      try {
        const jobs = await callParsed(
          "tailJobs",
          JobList,
          { method: "GET", path, timeoutMs: waitMs + TAIL_DEADLINE_SLACK_MS },
          c,
        );
        return { supported: true, jobs };
      } catch (err) {
        if (err instanceof ControlPlaneError && err.status === 404) return { supported: false };
        throw err;
      }
    },
    getJob: (jobId, c) =>
      callParsed("getJob", Job, { method: "GET", path: `/v1/runner-jobs/${seg(jobId)}` }, c),
    getPlanText: (jobId, c) =>
      call("getPlanText", { method: "GET", path: `/v1/runner-jobs/${seg(jobId)}/plan` }, c),
    getCompositePlan: (jobId, c) =>
      callParsed(
        "getCompositePlan",
        CompositePlan,
        { method: "GET", path: `/v1/runner-jobs/${seg(jobId)}/composite-plan` },
        c,
      ),
    async createExecution(jobId, c) {
      const path = `/v1/runner-jobs/${seg(jobId)}/executions`;
      try {
        return await callParsed("createExecution", Execution, { method: "POST", path, json: {} }, c);
      } catch (err) {
        if (err instanceof ControlPlaneError && (err.status === 409 || err.status === 400)) {
          throw claimLost(err, jobId);
        }
        throw err;
      }
    },
    async updateExecutionStatus(jobId, executionId, status, c) {
      const path = execution(jobId, executionId);
      await call("updateExecutionStatus", { method: "PATCH", path, json: { status } }, c);
    },
    async createResult(jobId, executionId, result, c) {
      const path = `${execution(jobId, executionId)}/result`;
      await call("createResult", { method: "POST", path, json: buildResultBody(result) }, c);
    },
    createOutputs: (jobId, executionId, outputs, c) =>
      callParsed(
        "createOutputs",
        ExecutionOutputs,
        { method: "POST", path: `${execution(jobId, executionId)}/outputs`, json: { outputs } },
        c,
      ),
    heartbeat: (body, c) =>
      callParsed("heartbeat", HeartBeat, { method: "POST", path: `${runner}/heart-beats`, json: body }, c),
    healthCheck: (process, c) =>
      callParsed(
        "healthCheck",
        HealthCheck,
        { method: "POST", path: `${runner}/health-checks`, json: { process } },
        c,
      ),
    async createProcess(type, version, c) {
      const spec: Spec = { method: "POST", path: `${runner}/processes`, json: { type, version } };
      try {
        return await callParsed("createProcess", RunnerProcess, spec, c);
      } catch (err) {
        if (err instanceof ControlPlaneError && err.status === 404) return undefined;
        throw err;
      }
    },
    async updateProcess(processId, status, description, c) {
      const json = description === undefined ? { status } : { status, status_description: description };
      await call(
        "updateProcess",
        { method: "PATCH", path: `${runner}/processes/${seg(processId)}`, json },
        c,
      );
    },
    async completeShutdown(processId, shutdownId, c) {
      const path = `${runner}/processes/${seg(processId)}/shutdowns/${seg(shutdownId)}/complete`;
      await call("completeShutdown", { method: "POST", path, json: {} }, c);
    },
    async updateActionStep(ref, status, executionDurationNs, c) {
      const path = `/v1/installs/${seg(ref.installId)}/action-workflow-runs/${seg(ref.workflowRunId)}/steps/${seg(ref.stepId)}`;
      const json =
        executionDurationNs === undefined ? { status } : { status, execution_duration: executionDurationNs };
      await call("updateActionStep", { method: "PUT", path, json }, c);
    },
    async lockWorkspace(ref, lock, c) {
      const path = workspace(ref.workspaceId, "lock", ref.jobId);
      await call("lockWorkspace", { method: "POST", path, json: lock }, c);
    },
    async unlockWorkspace(ref, c) {
      await call(
        "unlockWorkspace",
        { method: "POST", path: workspace(ref.workspaceId, "unlock"), json: {} },
        c,
      );
    },
    async pushStateJson(ref, stateJson, c) {
      const path = workspace(ref.workspaceId, "state-json", ref.jobId);
      const body = { contentType: "application/json", data: stateJson };
      await call("pushStateJson", { method: "POST", path, body }, c);
    },
    async writeLogs(logStreamId, otlpProtobuf, c) {
      const path = `/v1/log-streams/${seg(logStreamId)}/logs`;
      const body = { contentType: "application/x-protobuf", data: otlpProtobuf };
      await call("writeLogs", { method: "POST", path, body }, c);
    },

    async close() {
      if (closer.signal.aborted) return;
      closer.abort(new Error("the control-plane client was closed"));
      transport.close();
    },
  };
}

/** Encodes one path segment. */
function seg(value: string): string {
  return encodeURIComponent(value);
}

/** `?a=1&b=2` from the defined entries, or `""`. */
function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) q.set(key, String(value));
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** Milliseconds as a Go duration string that `time.ParseDuration` reads: `25s`, `500ms`. */
export function goDuration(ms: number): string {
  const whole = Math.max(0, Math.round(ms));
  return whole % 1000 === 0 ? `${whole / 1000}s` : `${whole}ms`;
}

function claimLost(err: ControlPlaneError, jobId: string): ControlPlaneError {
  return new ControlPlaneError({
    code: "CLAIM_LOST",
    operation: err.operation,
    message: `createExecution: job ${jobId} was not claimed (the control plane answered ${err.status}): another runner claimed it or it is no longer available; the runner moves on`,
    status: err.status,
    body: err.body,
    cause: err,
  });
}

function closedError(operation: string): ControlPlaneError {
  return new ControlPlaneError({
    code: "ABORTED",
    operation,
    message: `${operation}: the control-plane client is closed; the call was not sent`,
  });
}
