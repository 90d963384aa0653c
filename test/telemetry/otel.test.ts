/**
 * OpenTelemetry end to end: the agent in-process against the embedded control plane, exporting to a real
 * OTLP receiver (loopback HTTP, protobuf decoded from the upstream field numbers). Spans, metrics, trace
 * context from job metadata, redaction, /metrics, and silence when nothing asks for telemetry.
 */
import { metrics, trace } from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { type Agent, type AgentOptions, createAgent } from "../../src/agent/agent.ts";
import type { ControlPlaneApi } from "../../src/control-plane/api.ts";
import { createControlPlaneClient } from "../../src/control-plane/client.ts";
import type { RunnerSettings } from "../../src/control-plane/schemas.ts";
import { createRedactor } from "../../src/logs/redact.ts";
import type { EmbeddedControlPlane } from "../../src/mock-control-plane/server.ts";
import { startTelemetry, type Telemetry, telemetrySwitches } from "../../src/telemetry/otel.ts";
import { controlPlaneWithRunner, removeDirs, tempDir } from "../agent/support/control-plane.ts";
import { silentLog } from "../agent/support/silent-log.ts";
import { type OtlpReceiver, startOtlpReceiver } from "./support/otlp-receiver.ts";

const dirs: string[] = [];
const planes: EmbeddedControlPlane[] = [];
const agents: Agent[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  const running = agents.splice(0);
  for (const agent of running) agent.shutdownNow("test over");
  await Promise.all(running.map((a) => a.done));
  await Promise.all(closers.splice(0).map((close) => close()));
  await Promise.all(planes.splice(0).map((cp) => cp.close()));
  await removeDirs(dirs.splice(0));
  trace.disable();
  metrics.disable();
});

const SECRET = "hunter2-very-secret-value";
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID = "00f067aa0ba902b7";

async function receiver(): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver();
  closers.push(() => r.close());
  return r;
}

async function options(): Promise<AgentOptions> {
  const stateDir = await tempDir("otel-agent-");
  dirs.push(stateDir);
  return {
    processType: "",
    groups: ["operations"],
    version: "0.1.0-test",
    stateDir,
    concurrency: 1,
    groupConcurrency: {},
    jobOrder: "oldest",
    longPoll: true,
    longPollWaitMs: 1_000,
    pollIntervalMs: 20,
    pollMaxIntervalMs: 100,
    settingsRetryMs: 5_000,
    drainTimeoutMs: 5_000,
    killGraceMs: 100,
    heartbeatTimeoutMs: 1_000,
    flushTimeoutMs: 2_000,
    heartbeatIntervalMs: 50,
    admin: { host: "127.0.0.1", port: 0 },
  };
}

/** An agent with telemetry from `env`; the control-plane telemetry routes point at `telemetryBaseUrl`. */
async function agentWithTelemetry(
  env: Record<string, string>,
  telemetryBaseUrl: string,
  settings: Partial<RunnerSettings> = {},
) {
  const { cp, runner } = await controlPlaneWithRunner({}, settings);
  planes.push(cp);
  const client = createControlPlaneClient({ baseUrl: cp.url, token: runner.token, runnerId: runner.id });
  closers.push(() => client.close());
  const started: Telemetry[] = [];
  const redactor = createRedactor();
  redactor.add(SECRET);
  redactor.add(runner.token);
  const agent = createAgent(await options(), {
    client: client as ControlPlaneApi,
    log: silentLog(),
    telemetry: (fetched, sources) => {
      const telemetry = startTelemetry({
        runnerId: runner.id,
        version: "0.1.0-test",
        resourceAttributes: fetched.metadata,
        env,
        controlPlane: {
          baseUrl: telemetryBaseUrl,
          token: runner.token,
          runnerId: runner.id,
          ...telemetrySwitches(fetched),
        },
        redactor,
        heartbeatWorstGapMs: sources.heartbeatWorstGapMs,
      });
      started.push(telemetry);
      return telemetry;
    },
  });
  agents.push(agent);
  await agent.start();
  return { cp, runner, agent, telemetry: started[0]! };
}

describe("OpenTelemetry export of job runs", () => {
  it("exports job and step spans, job counts and redacted errors over OTLP/protobuf when OTEL_EXPORTER_OTLP_ENDPOINT is set", async () => {
    const otlp = await receiver();
    const unused = await receiver(); // the control plane's telemetry routes: metrics are off in the settings
    const { cp, runner, agent } = await agentWithTelemetry(
      { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url },
      unused.url,
    );
    const ok = cp.admin.enqueueJob(runner.id, {
      type: "noop",
      metadata: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01` },
    });
    await cp.waitForJob(ok.id, (j) => j.status === "finished");
    const bad = cp.admin.enqueueJob(runner.id, {
      type: "noop",
      plan: { fail_message: `the registry refused token ${SECRET}` },
    });
    await cp.waitForJob(bad.id, (j) => j.executions[0]?.status === "failed");

    // /metrics: the hand-written families and the OpenTelemetry ones, in one exposition
    let text = "";
    for (let i = 0; i < 50 && !text.includes('runner_job_execution_status="failed"'); i++) {
      text = await (await fetch(`${agent.adminUrl}/metrics`)).text();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(text).toContain('runner_jobs_total{type="noop",status="finished"} 1');
    expect(text).toContain("# TYPE runner_jobs_completed_total counter");
    expect(text).toContain(
      'runner_jobs_completed_total{runner_job_type="noop",runner_job_group="operations",runner_job_execution_status="finished"} 1',
    );
    expect(text).toContain(
      'runner_jobs_completed_total{runner_job_type="noop",runner_job_group="operations",runner_job_execution_status="failed"} 1',
    );
    expect(text).toContain("# TYPE runner_step_duration_seconds histogram");
    expect(text).toMatch(
      /runner_step_duration_seconds_bucket\{runner_job_type="noop",runner_job_execution_step_name="execute",outcome="ok",le="\+Inf"\} 1/,
    );
    expect(text).toMatch(/runner_job_pickup_latency_seconds_count\{[^}]*\} 2/);
    expect(text).toMatch(/^runner_redactions_total [1-9]/m);
    expect(text).toMatch(/^runner_heartbeat_lag_seconds [0-9.e-]+$/m);
    expect(text).toMatch(/^runner_eventloop_delay_max_seconds [0-9.e-]+$/m);
    expect(text).not.toContain(SECRET);

    await agent.stop("test over"); // flushes the batch span processor and the metric reader
    expect(otlp.requests.length).toBeGreaterThan(0);
    expect(otlp.requests.every((r) => r.contentType === "application/x-protobuf")).toBe(true);
    expect(new Set(otlp.requests.map((r) => r.path))).toEqual(new Set(["/v1/traces", "/v1/metrics"]));

    const spans = otlp.spans();
    const jobSpan = spans.find((s) => s.name === "job noop" && s.attributes["runner_job.id"] === ok.id)!;
    expect(jobSpan).toBeDefined();
    expect(jobSpan.attributes).toMatchObject({
      "runner_job.type": "noop",
      "runner_job.group": "operations",
      "runner_job_execution.id": cp.admin.getJob(ok.id)?.executions[0]?.id,
      "runner_job_execution.status": "finished",
    });
    expect(jobSpan.status.code).toBe(1); // OK
    // the traceparent in the job's metadata is the parent
    expect(jobSpan.traceId).toBe(TRACE_ID);
    expect(jobSpan.parentSpanId).toBe(PARENT_SPAN_ID);
    expect(jobSpan.resource).toMatchObject({
      "service.name": "runner",
      "runner.id": runner.id,
      "runner.version": "0.1.0-test",
    });
    expect(jobSpan.resource["org.id"]).toMatch(/^org/); // from the settings' metadata
    expect(jobSpan.scope).toBe("runner");

    const steps = spans.filter((s) => s.parentSpanId === jobSpan.spanId);
    expect(steps.map((s) => s.name)).toEqual(["step fetch", "step execute", "step outputs"]);
    for (const step of steps) {
      expect(step.traceId).toBe(TRACE_ID);
      expect(step.attributes["runner_job.id"]).toBe(ok.id);
      expect(step.status.code).toBe(0);
    }
    expect(steps[1]?.attributes["runner_job_execution_step.name"]).toBe("execute");

    // the failed job: a new trace, an ERROR status and an exception event, both redacted
    const failed = spans.find((s) => s.attributes["runner_job.id"] === bad.id && s.name === "job noop")!;
    expect(failed.parentSpanId).toBe("");
    expect(failed.traceId).not.toBe(TRACE_ID);
    expect(failed.attributes["runner_job_execution.status"]).toBe("failed");
    expect(failed.attributes["runner_job_execution.failed_step"]).toBe("execute");
    expect(failed.status).toEqual({ code: 2, message: "the registry refused token [REDACTED]" });
    const failedExecute = spans.find((s) => s.parentSpanId === failed.spanId && s.name === "step execute")!;
    expect(failedExecute.status.code).toBe(2);
    const exception = failedExecute.events.find((e) => e.name === "exception")!;
    expect(exception.attributes["exception.message"]).toBe("the registry refused token [REDACTED]");
    expect(String(exception.attributes["exception.stacktrace"])).toContain("[REDACTED]");
    for (const request of otlp.requests) expect(request.raw.includes(SECRET)).toBe(false);

    // metrics over OTLP: job counts by type and status, step durations
    const points = otlp.points();
    const count = (status: string) =>
      points
        .filter(
          (p) =>
            p.metric === "runner.jobs.completed" &&
            p.attributes["runner_job.type"] === "noop" &&
            p.attributes["runner_job_execution.status"] === status,
        )
        .at(-1)?.value;
    expect(count("finished")).toBe(1);
    expect(count("failed")).toBe(1);
    const stepPoint = points.find(
      (p) =>
        p.metric === "runner.step.duration" && p.attributes["runner_job_execution_step.name"] === "fetch",
    );
    expect(stepPoint).toMatchObject({ kind: "histogram", unit: "s" });
    expect(stepPoint?.value).toBeGreaterThanOrEqual(1);

    expect(unused.requests).toHaveLength(0);
  });

  it("sends nothing anywhere when no OTEL_* variable asks and the settings do not enable metrics", async () => {
    const otlp = await receiver();
    // the receiver stands in for both the default collector address and the control plane's telemetry routes
    const { cp, runner, agent, telemetry } = await agentWithTelemetry(
      { OTEL_SERVICE_NAME: "quiet" },
      otlp.url,
      {
        enable_metrics: false,
      },
    );
    expect(telemetry.destinations).toEqual({ traces: [], metrics: [] });
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    await cp.waitForJob(job.id, (j) => j.status === "finished");
    const text = await (await fetch(`${agent.adminUrl}/metrics`)).text();
    expect(text).toContain("runner_jobs_completed_total{");
    await agent.stop("test over");
    expect(otlp.requests).toHaveLength(0);
  });

  it("sends OTLP/JSON spans and metrics to the control plane's runner routes with the Bearer token when the settings enable metrics", async () => {
    const fakeControlPlane = await receiver();
    const { cp, runner, agent } = await agentWithTelemetry({}, fakeControlPlane.url, {
      enable_metrics: true,
    });
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    await cp.waitForJob(job.id, (j) => j.status === "finished");
    await agent.stop("test over");

    const paths = new Set(fakeControlPlane.requests.map((r) => r.path));
    expect(paths).toEqual(new Set([`/v1/runners/${runner.id}/traces`, `/v1/runners/${runner.id}/metrics`]));
    for (const request of fakeControlPlane.requests) {
      expect(request.headers.authorization).toBe(`Bearer ${runner.token}`);
      expect(request.contentType).toBe("application/json");
    }
    const traces = fakeControlPlane.requests.find((r) => r.path.endsWith("/traces"))!;
    // OTLP/JSON as ptraceotlp.UnmarshalJSON reads it: hex ids, camelCase fields
    const body = JSON.parse(traces.raw.toString("utf8"));
    const first = body.resourceSpans[0].scopeSpans[0].spans[0];
    expect(first.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(first.spanId).toMatch(/^[0-9a-f]{16}$/);
    const jobSpan = fakeControlPlane.spans().find((s) => s.name === "job noop");
    expect(jobSpan?.attributes["runner_job.id"]).toBe(job.id);
    expect(fakeControlPlane.spans().filter((s) => s.parentSpanId === jobSpan?.spanId)).toHaveLength(3);
    const counted = fakeControlPlane
      .points()
      .filter((p) => p.metric === "runner.jobs.completed")
      .at(-1);
    expect(counted).toMatchObject({ kind: "sum", value: 1 });
    expect(counted?.attributes["runner_job_execution.status"]).toBe("finished");
  });

  it("is accepted by the embedded control plane's telemetry routes", async () => {
    const { cp, runner } = await controlPlaneWithRunner();
    planes.push(cp);
    const warnings: string[] = [];
    const telemetry = startTelemetry({
      runnerId: runner.id,
      version: "0.1.0-test",
      env: {},
      controlPlane: {
        baseUrl: cp.url,
        token: runner.token,
        runnerId: runner.id,
        enableMetrics: true,
        enableTraces: true,
      },
      log: {
        warn: (fields, msg) => warnings.push(`${msg} ${JSON.stringify(fields)}`),
        info: () => undefined,
        debug: () => undefined,
      },
    });
    expect(telemetry.destinations).toEqual({
      traces: [`${cp.url}/v1/runners/${runner.id}/traces`],
      metrics: [`${cp.url}/v1/runners/${runner.id}/metrics`],
    });
    const job = telemetry.startJob({ jobId: "j1", executionId: "e1", type: "noop", group: "operations" });
    job.onStep("execute", "start");
    job.onStep("execute", "end");
    job.end({ status: "finished", durationMs: 5 });
    await telemetry.forceFlush();
    await telemetry.shutdown();
    expect(warnings).toEqual([]);

    const refused = startTelemetry({
      runnerId: runner.id,
      version: "0.1.0-test",
      env: {},
      controlPlane: {
        baseUrl: cp.url,
        token: "not-the-runner-token",
        runnerId: runner.id,
        enableMetrics: false,
        enableTraces: true,
      },
      log: {
        warn: (fields, msg) => warnings.push(`${msg} ${JSON.stringify(fields)}`),
        info: () => undefined,
        debug: () => undefined,
      },
    });
    refused.startJob({ jobId: "j2", executionId: "e2", type: "noop", group: "operations" }).end({
      status: "finished",
      durationMs: 1,
    });
    await refused.shutdown();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("could not export spans");
    expect(warnings[0]).toContain("HTTP 401");
    expect(warnings[0]).not.toContain("not-the-runner-token");
  });
});
