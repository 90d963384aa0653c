import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControlPlaneClient, createControlPlaneClient } from "../../src/control-plane/client.ts";
import { decompress } from "../../src/control-plane/compress.ts";
import type { OperationName } from "../../src/control-plane/retry.ts";
import { RETRY_POLICY } from "../../src/control-plane/retry.ts";
import {
  type Behaviour,
  type FlakyServer,
  json,
  type RecordedRequest,
  startFlakyServer,
  text,
} from "../support/flaky-server.ts";
import { loadSwagger } from "../support/swagger.ts";

const RUNNER = "runr_1";
const PLAN_TEXT = '{"WorkspaceID":"tfw_1","vars":{"a":1}}';
const OTLP_BYTES = new Uint8Array([0x0a, 0x03, 0x01, 0x02, 0x03, 0xff]);
const swagger = loadSwagger();

/** One operation: how to call it, what must cross the wire, what the server answers, what the caller gets. */
interface Case {
  op: OperationName;
  call: (c: ControlPlaneClient) => Promise<unknown>;
  method: string;
  path: string;
  query?: Record<string, string>;
  /** The JSON body expected; `undefined` = no body. */
  body?: unknown;
  answer: Behaviour;
  returns?: unknown;
}

const job = { id: "job_1", status: "available", type: "terraform-deploy" };

const cases: Case[] = [
  {
    op: "getSettings",
    call: (c) => c.getSettings(),
    method: "GET",
    path: `/v1/runners/${RUNNER}/settings`,
    answer: json(200, { id: "rgs_1", heart_beat_timeout: 5e9, groups: ["deploy"] }),
    returns: { id: "rgs_1", heart_beat_timeout: 5e9, groups: ["deploy"] },
  },
  {
    op: "getRunner",
    call: (c) => c.getRunner(),
    method: "GET",
    path: `/v1/runners/${RUNNER}`,
    answer: json(200, { id: RUNNER, status: "active" }),
    returns: { id: RUNNER, status: "active" },
  },
  {
    op: "listJobs",
    call: (c) => c.listJobs({ group: "deploy" }),
    method: "GET",
    path: `/v1/runners/${RUNNER}/jobs`,
    query: { group: "deploy" },
    answer: json(200, [job]),
    returns: [job],
  },
  {
    op: "listJobs",
    call: (c) => c.listJobs({ group: "any", status: "in-progress", limit: 5, offset: 10 }),
    method: "GET",
    path: `/v1/runners/${RUNNER}/jobs`,
    query: { group: "any", status: "in-progress", limit: "5", offset: "10" },
    answer: json(200, null),
    returns: [],
  },
  {
    op: "tailJobs",
    call: (c) => c.tailJobs("deploy", 25_000),
    method: "GET",
    path: `/v1/runners/${RUNNER}/jobs/tail`,
    query: { group: "deploy", wait: "25s" },
    answer: json(200, [job]),
    returns: { supported: true, jobs: [job] },
  },
  {
    op: "getJob",
    call: (c) => c.getJob("job_1"),
    method: "GET",
    path: "/v1/runner-jobs/job_1",
    answer: json(200, job),
    returns: job,
  },
  {
    op: "getPlanText",
    call: (c) => c.getPlanText("job_1"),
    method: "GET",
    path: "/v1/runner-jobs/job_1/plan",
    answer: text(200, PLAN_TEXT),
    returns: PLAN_TEXT,
  },
  {
    op: "getCompositePlan",
    call: (c) => c.getCompositePlan("job_1"),
    method: "GET",
    path: "/v1/runner-jobs/job_1/composite-plan",
    answer: json(200, { deploy_plan: { install_id: "inst_1" } }),
    returns: { deploy_plan: { install_id: "inst_1" } },
  },
  {
    op: "createExecution",
    call: (c) => c.createExecution("job_1"),
    method: "POST",
    path: "/v1/runner-jobs/job_1/executions",
    body: {},
    answer: json(201, { id: "exe_1", status: "pending" }),
    returns: { id: "exe_1", status: "pending" },
  },
  {
    op: "updateExecutionStatus",
    call: (c) => c.updateExecutionStatus("job_1", "exe_1", "in-progress"),
    method: "PATCH",
    path: "/v1/runner-jobs/job_1/executions/exe_1",
    body: { status: "in-progress" },
    answer: json(200, {}),
    returns: undefined,
  },
  {
    op: "createResult",
    call: (c) => c.createResult("job_1", "exe_1", { success: false, errorMetadata: { step: "execute" } }),
    method: "POST",
    path: "/v1/runner-jobs/job_1/executions/exe_1/result",
    body: { success: false, error_code: 0, error_metadata: { step: "execute" } },
    answer: json(201, null),
    returns: undefined,
  },
  {
    op: "createOutputs",
    call: (c) => c.createOutputs("job_1", "exe_1", { vpc_id: "vpc-1", n: 2 }),
    method: "POST",
    path: "/v1/runner-jobs/job_1/executions/exe_1/outputs",
    body: { outputs: { vpc_id: "vpc-1", n: 2 } },
    answer: json(201, { id: "out_1", outputs: { vpc_id: "vpc-1", n: 2 } }),
    returns: { id: "out_1", outputs: { vpc_id: "vpc-1", n: 2 } },
  },
  {
    op: "heartbeat",
    call: (c) =>
      c.heartbeat({ alive_time: 12_000_000_000, version: "0.1.0", process: "install", process_id: "p1" }),
    method: "POST",
    path: `/v1/runners/${RUNNER}/heart-beats`,
    body: { alive_time: 12_000_000_000, version: "0.1.0", process: "install", process_id: "p1" },
    answer: json(201, { id: "hb_1", alive_time: 12_000_000_000 }),
    returns: { id: "hb_1", alive_time: 12_000_000_000 },
  },
  {
    op: "healthCheck",
    call: (c) => c.healthCheck("install"),
    method: "POST",
    path: `/v1/runners/${RUNNER}/health-checks`,
    body: { process: "install" },
    answer: json(201, { id: "hc_1" }),
    returns: { id: "hc_1" },
  },
  {
    op: "createProcess",
    call: (c) => c.createProcess("install", "0.1.0"),
    method: "POST",
    path: `/v1/runners/${RUNNER}/processes`,
    body: { type: "install", version: "0.1.0" },
    answer: json(201, { id: "proc_1", type: "install" }),
    returns: { id: "proc_1", type: "install" },
  },
  {
    op: "updateProcess",
    call: (c) => c.updateProcess("proc_1", "active", "started"),
    method: "PATCH",
    path: `/v1/runners/${RUNNER}/processes/proc_1`,
    body: { status: "active", status_description: "started" },
    answer: json(200, { id: "proc_1" }),
    returns: undefined,
  },
  {
    op: "completeShutdown",
    call: (c) => c.completeShutdown("proc_1", "sd_1"),
    method: "POST",
    path: `/v1/runners/${RUNNER}/processes/proc_1/shutdowns/sd_1/complete`,
    body: {},
    answer: json(200, { id: "sd_1" }),
    returns: undefined,
  },
  {
    op: "updateActionStep",
    call: (c) =>
      c.updateActionStep({ installId: "inst_1", workflowRunId: "awr_1", stepId: "st_1" }, "finished", 5e9),
    method: "PUT",
    path: "/v1/installs/inst_1/action-workflow-runs/awr_1/steps/st_1",
    body: { status: "finished", execution_duration: 5e9 },
    answer: json(200, { id: "st_1" }),
    returns: undefined,
  },
  {
    op: "lockWorkspace",
    call: (c) =>
      c.lockWorkspace(
        { workspaceId: "tfw_1", jobId: "job_1" },
        { ID: "lock-1", Operation: "OperationTypeApply" },
      ),
    method: "POST",
    path: "/v1/terraform-workspaces/tfw_1/lock",
    query: { job_id: "job_1" },
    body: { ID: "lock-1", Operation: "OperationTypeApply" },
    answer: json(200, { id: "tfs_1" }),
    returns: undefined,
  },
  {
    op: "unlockWorkspace",
    call: (c) => c.unlockWorkspace({ workspaceId: "tfw_1", jobId: "job_1" }),
    method: "POST",
    path: "/v1/terraform-workspaces/tfw_1/unlock",
    body: {},
    answer: json(200, { id: "tfs_1" }),
    returns: undefined,
  },
  {
    op: "pushStateJson",
    call: (c) =>
      c.pushStateJson({ workspaceId: "tfw_1", jobId: "job_1" }, '{"format_version":"1.0","values":{}}'),
    method: "POST",
    path: "/v1/terraform-workspaces/tfw_1/state-json",
    query: { job_id: "job_1" },
    body: { format_version: "1.0", values: {} },
    answer: json(200, {}),
    returns: undefined,
  },
];

describe("every operation on the wire", () => {
  let server: FlakyServer;
  let client: ControlPlaneClient;
  const answers = new Map<string, Behaviour>();

  beforeAll(async () => {
    server = await startFlakyServer(
      (req) => answers.get(`${req.method} ${req.url.pathname}`) ?? json(599, {}),
    );
    client = createControlPlaneClient({
      baseUrl: server.url,
      token: "tok",
      runnerId: RUNNER,
      requestTimeoutMs: 2_000,
    });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  async function exchange(c: Case): Promise<{ out: unknown; req: RecordedRequest }> {
    answers.set(`${c.method} ${c.path}`, c.answer);
    const before = server.requests.length;
    const out = await c.call(client);
    expect(server.requests.length).toBe(before + 1);
    return { out, req: server.requests[before]! };
  }

  it("covers every operation of the retry table", () => {
    expect(new Set([...cases.map((c) => c.op), "writeLogs"])).toEqual(new Set(Object.keys(RETRY_POLICY)));
  });

  for (const c of cases) {
    it(`${c.op}: ${c.method} ${c.path}${c.query ? `?${new URLSearchParams(c.query)}` : ""}`, async () => {
      const { out, req } = await exchange(c);
      expect(req.method).toBe(c.method);
      expect(req.url.pathname).toBe(c.path);
      expect(Object.fromEntries(req.url.searchParams)).toEqual(c.query ?? {});
      expect(req.headers.authorization).toBe("Bearer tok");
      if (c.body === undefined) {
        expect(req.body.length).toBe(0);
        expect(req.headers["content-type"]).toBeUndefined();
      } else {
        expect(req.headers["content-type"]).toBe("application/json");
        expect(JSON.parse(req.body.toString())).toEqual(c.body);
      }
      expect(out).toEqual(c.returns);
      if (swagger && c.op !== "tailJobs") {
        expect(swagger.checkRequest(c.method, req.url, c.body)).toEqual([]);
      }
    });
  }

  it("writeLogs: POST /v1/log-streams/{id}/logs with the protobuf bytes untouched", async () => {
    const { out, req } = await exchange({
      op: "writeLogs",
      call: (c) => c.writeLogs("ls_1", OTLP_BYTES),
      method: "POST",
      path: "/v1/log-streams/ls_1/logs",
      answer: json(201, "ok"),
    });
    expect(out).toBeUndefined();
    expect(req.headers["content-type"]).toBe("application/x-protobuf");
    expect(new Uint8Array(req.body)).toEqual(OTLP_BYTES);
  });

  it("createResult compresses contents so the server can gunzip them", async () => {
    const { req } = await exchange({
      op: "createResult",
      call: (c) =>
        c.createResult("job_1", "exe_2", { success: true, contents: "tfplan-bytes", contentsDisplay: "{}" }),
      method: "POST",
      path: "/v1/runner-jobs/job_1/executions/exe_2/result",
      answer: json(201, null),
    });
    const body = JSON.parse(req.body.toString()) as Record<string, string>;
    expect(decompress(body.contents_compressed!).toString()).toBe("tfplan-bytes");
    expect(decompress(body.contents_display_compressed!).toString()).toBe("{}");
  });

  it("encodes ids in paths so they cannot change the route", async () => {
    const { req } = await exchange({
      op: "getJob",
      call: (c) => c.getJob("a/b?c"),
      method: "GET",
      path: "/v1/runner-jobs/a%2Fb%3Fc",
      answer: json(200, { id: "a/b?c" }),
    });
    expect(req.url.pathname).toBe("/v1/runner-jobs/a%2Fb%3Fc");
  });
});
