/**
 * The contract test: every route the embedded control plane serves, and every request the client sends (with
 * the answer it gets), checked against the Nuon Runner API swagger in ../shared/contract/.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ControlPlaneApi } from "../../src/control-plane/api.ts";
import { type ControlPlaneClient, createControlPlaneClient } from "../../src/control-plane/client.ts";
import { type EmbeddedControlPlane, startControlPlane } from "../../src/mock-control-plane/server.ts";
import { encodeLogsRequest } from "../../src/otlp/logs-proto.ts";
import { type RecordingProxy, startRecordingProxy } from "../support/recording-proxy.ts";
import { loadSwagger, SWAGGER_PATH } from "../support/swagger.ts";

const swagger = loadSwagger();

/**
 * Routes the control plane serves that the swagger does not describe, each with the reason. Anything served
 * and absent from both the swagger and this list fails the test.
 */
const EXTENSIONS: Record<string, string> = {
  "GET /v1/runners/{runner_id}/jobs/tail": "long-poll added in 2026 behind a feature flag (PROTOCOL.md §8)",
  "POST /v1/runner-jobs/{job_id}/cancel": "the public cancel route (PROTOCOL.md §1.6 item 5)",
  "LOCK /v1/terraform-backend": "terraform's http backend default lock method",
  "UNLOCK /v1/terraform-backend": "terraform's http backend default unlock method",
  "GET /healthz": "liveness of the embedded control plane itself",
};

/** Every ControlPlaneApi method that talks to the control plane (buildResultBody is local). */
const CLIENT_OPERATIONS = [
  "getSettings",
  "getRunner",
  "listJobs",
  "tailJobs",
  "getJob",
  "getPlanText",
  "getCompositePlan",
  "createExecution",
  "updateExecutionStatus",
  "createResult",
  "createOutputs",
  "heartbeat",
  "healthCheck",
  "createProcess",
  "updateProcess",
  "completeShutdown",
  "updateActionStep",
  "lockWorkspace",
  "unlockWorkspace",
  "pushStateJson",
  "writeLogs",
] as const satisfies ReadonlyArray<
  Exclude<keyof ControlPlaneApi, "runnerId" | "baseUrl" | "buildResultBody">
>;

/** `:param` patterns of the embedded control plane → swagger `{param}` templates (the swagger's names). */
function toTemplate(pattern: string, method: string): string {
  const candidates = pattern.replace(/:([a-z_]+)/g, "{$1}");
  if (!swagger) return candidates;
  // Parameter names differ between the two (job_id vs runner_job_id): compare the shapes.
  const shape = (t: string) => t.replace(/\{[^}]+\}/g, "{}");
  const found = swagger
    .operations()
    .find((op) => op.method === method && shape(op.template) === shape(candidates));
  return found?.template ?? candidates;
}

describe("the swagger", () => {
  it("is present beside the repository (../shared/contract/nuon-runner-openapi.json)", () => {
    if (!swagger) {
      throw new Error(
        `The contract test needs the swagger at ${SWAGGER_PATH}; it was not found, so no route was checked.`,
      );
    }
    // PROTOCOL.md §7 counts 50 operations; the file itself declares 49 (method, path) pairs.
    expect(swagger.operations().length).toBe(49);
  });
});

describe.runIf(swagger)("the embedded control plane against the swagger", () => {
  let cp: EmbeddedControlPlane;

  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    await cp.close();
  });

  it("serves only swagger operations, with the swagger's operationId, or listed extensions", () => {
    const problems: string[] = [];
    for (const route of cp.routes()) {
      if (route.pattern.startsWith("/admin/")) continue;
      const template = toTemplate(route.pattern, route.method);
      const key = `${route.method} ${template}`;
      if (swagger!.hasTemplate(route.method, template)) {
        const declared = swagger!
          .operations()
          .find((op) => op.method === route.method && op.template === template);
        if (declared?.operationId !== route.operationId) {
          problems.push(`${key}: operationId ${route.operationId}, swagger says ${declared?.operationId}`);
        }
      } else if (!(key in EXTENSIONS)) {
        problems.push(`${key}: served but neither in the swagger nor a listed extension`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("serves every operation of the swagger that the runner calls", () => {
    const served = new Set(
      cp
        .routes()
        .filter((r) => !r.pattern.startsWith("/admin/"))
        .map((r) => `${r.method} ${toTemplate(r.pattern, r.method)}`),
    );
    const runnerCalled = [
      "GET /v1/runners/{runner_id}/settings",
      "GET /v1/runners/{runner_id}",
      "GET /v1/runners/{runner_id}/jobs",
      "GET /v1/runner-jobs/{runner_job_id}",
      "GET /v1/runner-jobs/{runner_job_id}/plan",
      "GET /v1/runner-jobs/{runner_job_id}/composite-plan",
      "POST /v1/runner-jobs/{runner_job_id}/executions",
      "PATCH /v1/runner-jobs/{runner_job_id}/executions/{runner_job_execution_id}",
      "POST /v1/runner-jobs/{runner_job_id}/executions/{runner_job_execution_id}/result",
      "POST /v1/runner-jobs/{runner_job_id}/executions/{runner_job_execution_id}/outputs",
      "POST /v1/runners/{runner_id}/heart-beats",
      "POST /v1/runners/{runner_id}/health-checks",
      "POST /v1/runners/{runner_id}/processes",
      "PATCH /v1/runners/{runner_id}/processes/{process_id}",
      "POST /v1/runners/{runner_id}/processes/{process_id}/shutdowns/{shutdown_id}/complete",
      "PUT /v1/installs/{install_id}/action-workflow-runs/{workflow_run_id}/steps/{step_id}",
      "POST /v1/terraform-workspaces/{workspace_id}/lock",
      "POST /v1/terraform-workspaces/{workspace_id}/unlock",
      "POST /v1/terraform-workspaces/{workspace_id}/state-json",
      "POST /v1/log-streams/{log_stream_id}/logs",
      "GET /v1/terraform-backend",
      "POST /v1/terraform-backend",
    ];
    for (const key of runnerCalled) {
      const [method, template] = key.split(" ") as [string, string];
      expect(swagger!.hasTemplate(method, template), `${key} is in the swagger`).toBe(true);
      expect(served.has(key), `${key} is served`).toBe(true);
    }
  });
});

describe.runIf(swagger)("every request the client sends, and every answer, against the swagger", () => {
  let cp: EmbeddedControlPlane;
  let proxy: RecordingProxy;
  let client: ControlPlaneClient;
  const called = new Set<string>();

  beforeAll(async () => {
    cp = await startControlPlane();
    proxy = await startRecordingProxy(cp.url);
    const runner = cp.admin.createRunner();
    const inner = createControlPlaneClient({ baseUrl: proxy.url, token: runner.token, runnerId: runner.id });
    // Count which operations the scenario below exercised.
    client = new Proxy(inner, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value === "function" && (CLIENT_OPERATIONS as readonly string[]).includes(String(prop))) {
          return (...args: unknown[]) => {
            called.add(String(prop));
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return value;
      },
    });

    // A whole job's worth of traffic, touching every operation.
    await client.getSettings();
    await client.getRunner();
    await client.heartbeat({ alive_time: 1_000_000_000, version: "0.1.0", process: "", process_id: "p1" });
    await client.healthCheck("");
    const process = await client.createProcess("", "0.1.0");
    expect(process).toBeDefined();
    await client.updateProcess(process!.id, "active", "started");
    const shutdown = await fetch(`${cp.url}/admin/runners/${runner.id}/processes/${process!.id}/shutdowns`, {
      method: "POST",
      headers: { authorization: `Bearer ${cp.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "graceful" }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    await client.completeShutdown(process!.id, shutdown.id);

    const job = cp.admin.enqueueJob(runner.id, {
      type: "actions-workflow",
      plan: { id: "awr1", install_id: "inst1", steps: [] },
    });
    const tail = await client.tailJobs("actions", 1_000);
    expect(tail.supported).toBe(true);
    const jobs = await client.listJobs({ group: "actions", status: "available", limit: 10 });
    expect(jobs.map((j) => j.id)).toContain(job.id);
    await client.getJob(job.id);
    await client.getPlanText(job.id);
    await client.getCompositePlan(job.id);
    const execution = await client.createExecution(job.id);
    await client.updateExecutionStatus(job.id, execution.id, "initializing");
    await client.updateExecutionStatus(job.id, execution.id, "in-progress");
    await client.updateActionStep(
      { installId: "inst1", workflowRunId: "awr1", stepId: "step1" },
      "finished",
      5e9,
    );
    await client.createOutputs(job.id, execution.id, { answer: 42, nested: { a: "b" } });
    await client.writeLogs(
      job.log_stream_id ?? "",
      encodeLogsRequest({
        resourceLogs: [
          {
            resource: { attributes: [{ key: "service.name", value: { stringValue: "runner" } }] },
            scopeLogs: [
              {
                scope: { name: "runner.job" },
                logRecords: [
                  {
                    timeUnixNano: BigInt(Date.now()) * 1_000_000n,
                    severityNumber: 9,
                    severityText: "INFO",
                    body: { stringValue: "hello" },
                    attributes: [{ key: "runner_job.id", value: { stringValue: job.id } }],
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    await client.updateExecutionStatus(job.id, execution.id, "cleaning-up");
    await client.createResult(job.id, execution.id, {
      success: true,
      contents: "plan",
      contentsDisplay: "{}",
    });
    await client.updateExecutionStatus(job.id, execution.id, "finished");

    const ref = { workspaceId: "tfw-contract", jobId: job.id };
    await client.lockWorkspace(ref, { ID: "lock-1", Operation: "OperationTypeApply", Who: "runner" });
    await client.pushStateJson(ref, JSON.stringify({ format_version: "1.0" }));
    await client.unlockWorkspace(ref);
  });

  afterAll(async () => {
    await client?.close();
    await proxy?.close();
    await cp?.close();
  });

  it("exercised every client operation", () => {
    expect([...called].sort()).toEqual([...CLIENT_OPERATIONS].sort());
  });

  it("sent only requests the swagger describes, with the required fields and types", () => {
    const problems: string[] = [];
    for (const ex of proxy.exchanges) {
      const key = `${ex.method} ${ex.url.pathname}`;
      if (ex.url.pathname.startsWith("/admin/")) continue;
      if (ex.url.pathname.endsWith("/jobs/tail")) continue; // listed extension, not in the swagger
      const binary = ex.requestBytes.length > 0 ? new Uint8Array(ex.requestBytes) : undefined;
      const body = ex.requestContentType?.includes("json") ? ex.requestJson : binary;
      problems.push(...swagger!.checkRequest(ex.method, ex.url, body).map((p) => `${key}: ${p}`));
    }
    expect(problems).toEqual([]);
  });

  it("got answers whose status and body match the swagger", () => {
    const problems: string[] = [];
    for (const ex of proxy.exchanges) {
      if (ex.url.pathname.startsWith("/admin/") || ex.url.pathname.endsWith("/jobs/tail")) continue;
      // The plan is a text body (gin ctx.String); its swagger schema is `string`.
      const body = ex.responseContentType?.includes("json") ? ex.responseJson : ex.responseText;
      problems.push(...swagger!.checkResponse(ex.method, ex.url, ex.status, body));
    }
    expect(problems).toEqual([]);
  });

  it("sent Bearer auth and the client version header on every request", () => {
    const runnerRequests = proxy.exchanges.filter((ex) => !ex.url.pathname.startsWith("/admin/"));
    expect(runnerRequests.length).toBeGreaterThan(20);
    for (const ex of runnerRequests) {
      expect(ex.requestHeaders.authorization).toMatch(/^Bearer \S+$/);
      expect(ex.requestHeaders["x-nuon-client-version"]).toMatch(/^runner:\d+\.\d+\.\d+/);
    }
  });

  it("sent the log stream as OTLP protobuf", () => {
    const logs = proxy.exchanges.filter((ex) => ex.url.pathname.startsWith("/v1/log-streams/"));
    expect(logs).toHaveLength(1);
    expect(logs[0]!.requestContentType).toBe("application/x-protobuf");
    expect(logs[0]!.status).toBe(201);
  });
});

describe.runIf(swagger)("the swagger checker itself", () => {
  it("reports a duration sent as a string, a bad enum and a missing required field", () => {
    const url = new URL("http://x/v1/runners/r1/heart-beats");
    expect(swagger!.checkRequest("POST", url, { version: "1" })).toEqual([
      expect.stringContaining("required field alive_time is missing"),
    ]);
    expect(swagger!.checkRequest("POST", url, { alive_time: "5s" })).toEqual([
      expect.stringContaining("alive_time: expected integer"),
    ]);
    const patch = new URL("http://x/v1/runner-jobs/j1/executions/e1");
    expect(swagger!.checkRequest("PATCH", patch, { status: "done" })).toEqual([
      expect.stringContaining('"done" is not one of'),
    ]);
    expect(swagger!.checkRequest("GET", new URL("http://x/v1/nope"), undefined)).toEqual([
      expect.stringContaining("no such operation"),
    ]);
  });
});
