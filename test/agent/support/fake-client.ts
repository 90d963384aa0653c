/**
 * An in-process ControlPlaneApi for unit tests of pure agent parts and the pipeline: records every call in
 * order and lets a test script answers (`on`) or failures. Integration tests use the real client against the
 * embedded control plane instead.
 */
import type { ControlPlaneApi } from "../../../src/control-plane/api.ts";
import { ControlPlaneError, type ControlPlaneErrorCode } from "../../../src/control-plane/errors.ts";
import type { Job } from "../../../src/control-plane/schemas.ts";

/** One recorded call. */
export interface Call {
  op: string;
  args: unknown[];
}

type Impl = (...args: never[]) => unknown;

/** Builds a ControlPlaneError with a stable code, as the real client throws. */
export function cpError(code: ControlPlaneErrorCode, operation = "test", status?: number): ControlPlaneError {
  return new ControlPlaneError({
    code,
    operation,
    message: `${operation} failed: ${code}`,
    ...(status ? { status } : {}),
  });
}

/** A scripted fake client. */
export function createFakeClient(overrides: Partial<Record<keyof ControlPlaneApi, Impl>> = {}) {
  const calls: Call[] = [];
  const impls: Partial<Record<string, Impl>> = { ...overrides };
  const record =
    (op: string, fallback: (...args: unknown[]) => unknown) =>
    async (...args: unknown[]) => {
      calls.push({ op, args });
      const impl = impls[op] as ((...a: unknown[]) => unknown) | undefined;
      return (impl ?? fallback)(...args);
    };
  let executionSeq = 0;
  const client: ControlPlaneApi = {
    runnerId: "runner-1",
    baseUrl: "http://127.0.0.1:1",
    buildResultBody: (r) => ({ success: r.success }),
    getSettings: record("getSettings", () => ({})) as ControlPlaneApi["getSettings"],
    getRunner: record("getRunner", () => ({ id: "runner-1" })) as ControlPlaneApi["getRunner"],
    listJobs: record("listJobs", () => []) as ControlPlaneApi["listJobs"],
    tailJobs: record("tailJobs", () => ({ supported: true, jobs: [] })) as ControlPlaneApi["tailJobs"],
    getJob: record("getJob", (id) => ({ id, status: "in-progress" }) as Job) as ControlPlaneApi["getJob"],
    getPlanText: record("getPlanText", () => "") as ControlPlaneApi["getPlanText"],
    getCompositePlan: record("getCompositePlan", () => ({})) as ControlPlaneApi["getCompositePlan"],
    createExecution: record("createExecution", () => {
      executionSeq += 1;
      return { id: `exec-${executionSeq}`, status: "pending" };
    }) as ControlPlaneApi["createExecution"],
    updateExecutionStatus: record(
      "updateExecutionStatus",
      () => undefined,
    ) as ControlPlaneApi["updateExecutionStatus"],
    createResult: record("createResult", () => undefined) as ControlPlaneApi["createResult"],
    createOutputs: record("createOutputs", () => ({})) as ControlPlaneApi["createOutputs"],
    heartbeat: record("heartbeat", () => ({})) as ControlPlaneApi["heartbeat"],
    healthCheck: record("healthCheck", () => ({})) as ControlPlaneApi["healthCheck"],
    createProcess: record("createProcess", () => undefined) as ControlPlaneApi["createProcess"],
    updateProcess: record("updateProcess", () => undefined) as ControlPlaneApi["updateProcess"],
    completeShutdown: record("completeShutdown", () => undefined) as ControlPlaneApi["completeShutdown"],
    updateActionStep: record("updateActionStep", () => undefined) as ControlPlaneApi["updateActionStep"],
    lockWorkspace: record("lockWorkspace", () => undefined) as ControlPlaneApi["lockWorkspace"],
    unlockWorkspace: record("unlockWorkspace", () => undefined) as ControlPlaneApi["unlockWorkspace"],
    pushStateJson: record("pushStateJson", () => undefined) as ControlPlaneApi["pushStateJson"],
    writeLogs: record("writeLogs", () => undefined) as ControlPlaneApi["writeLogs"],
  };
  return {
    client,
    calls,
    /** Replaces the behaviour of one operation. */
    on(op: keyof ControlPlaneApi, impl: Impl) {
      impls[op] = impl;
    },
    /** The statuses PATCHed, in order. */
    statuses(): string[] {
      return calls.filter((c) => c.op === "updateExecutionStatus").map((c) => c.args[2] as string);
    },
    /** Names of the calls, in order. */
    ops(): string[] {
      return calls.map((c) => c.op);
    },
  };
}
