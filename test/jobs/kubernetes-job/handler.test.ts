/**
 * job-deploy end to end: the real pipeline (runJob), the embedded control plane, and the fake API server,
 * whose Job controller and kubelet run the pods with scripted images.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ControlPlaneClient } from "../../../src/control-plane/client.ts";
import { decompress } from "../../../src/control-plane/compress.ts";
import type { Job } from "../../../src/control-plane/schemas.ts";
import type { AbortReason, JobLog } from "../../../src/jobs/handler.ts";
import { createKubernetesJobHandler } from "../../../src/jobs/kubernetes-job/handler.ts";
import { type JobOutcome, runJob } from "../../../src/jobs/run-job.ts";
import type { EmbeddedControlPlane, JobDetail } from "../../../src/mock-control-plane/server.ts";
import { type FakeApiServer, type Obj, startFakeApiServer } from "../../support/fake-apiserver.ts";
import { type JobHarness, startJobHarness, TEST_RUNNER_STATE } from "../../support/job-harness.ts";

let cp: EmbeddedControlPlane;
let runner: { id: string };
let client: ControlPlaneClient;
let api: FakeApiServer;

let harness: JobHarness;

beforeAll(async () => {
  harness = await startJobHarness();
  ({ cp, client } = harness);
  runner = { id: harness.runnerId };
});
afterAll(async () => {
  await harness?.close();
});
beforeEach(async () => {
  api = await startFakeApiServer({ controllers: { jobBackoffMs: 5, gcDelayMs: 5 } });
});
afterEach(async () => {
  await api.close();
});

function recordingLog() {
  const lines: string[] = [];
  const stdout: string[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(`${level}: ${msg}${fields ? ` ${JSON.stringify(fields)}` : ""}`);
  };
  const log: JobLog = {
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    debug: at("debug"),
    line: (t, s) => {
      lines.push(`${s}: ${t}`);
      if (s === "stdout") stdout.push(t);
    },
  };
  return { log, lines, stdout };
}

function plan(section: Record<string, unknown>) {
  return {
    install_id: "inst-1",
    component_id: "comp-1",
    component_name: "migrate",
    kubernetes_job: {
      cluster_info: { endpoint: api.url, ca_data: api.caData, token: api.token },
      namespace: "jobs",
      ...section,
    },
  };
}

interface Ran {
  outcome: JobOutcome;
  detail: JobDetail;
  lines: string[];
  stdout: string[];
  job: Job;
}

async function runK8sJob(
  p: unknown,
  opts: { operation?: string; signal?: AbortSignal; job?: Job } = {},
): Promise<Ran> {
  const job =
    opts.job ??
    cp.admin.enqueueJob(runner.id, {
      type: "job-deploy",
      operation: opts.operation ?? "exec",
      plan: p,
      max_executions: 3,
    });
  const execution = await client.createExecution(job.id);
  const { log, lines, stdout } = recordingLog();
  const outcome = await runJob({
    job,
    execution,
    handlerFactory: () =>
      createKubernetesJobHandler({
        access: { env: {} },
        logSettleMs: 2000,
        logRetryMs: 20,
        watchdogIntervalMs: 20,
      }),
    client,
    log,
    runnerState: TEST_RUNNER_STATE,
    killGraceMs: 1000,
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
  });
  await client.createResult(job.id, execution.id, outcome.result);
  return { outcome, detail: cp.admin.getJob(job.id) as JobDetail, lines, stdout, job };
}

const jobsIn = (ns: string): Obj[] => api.store.list(api.store.resourceFor("batch/v1", "Job")!, ns);
const abortWhen = (predicate: () => boolean, reason: AbortReason) => {
  const controller = new AbortController();
  const timer = setInterval(() => {
    if (predicate()) {
      clearInterval(timer);
      controller.abort(reason);
    }
  }, 10);
  return controller.signal;
};

describe("job-deploy", () => {
  it("creates the Job from the plan, streams its pod's log into the job log, and finishes", async () => {
    api.images.set("migrate:1.2.0", { logs: ["connecting", "applying 3 migrations", "done"] });
    const ran = await runK8sJob(
      plan({
        image: "migrate",
        tag: "1.2.0",
        command: ["/bin/migrate"],
        args: ["up"],
        env_vars: { LOG_LEVEL: "debug" },
        service_account: "migrator",
        backoff_limit: 2,
        active_deadline_seconds: 600,
        ttl_seconds_after_finished: 3600,
      }),
    );
    expect(ran.outcome.status).toBe("finished");
    expect(ran.stdout).toEqual(["connecting", "applying 3 migrations", "done"]);
    const [job] = jobsIn("jobs");
    expect(job?.metadata.labels).toMatchObject({
      "runner.nuon.co/job-id": ran.job.id,
      "app.kubernetes.io/managed-by": "nuon-runner",
      "nuon.co/install-id": "inst-1",
      "nuon.co/component-id": "comp-1",
    });
    expect(job?.metadata.name).toMatch(/^migrate-[0-9a-f]{8}$/);
    expect(job?.spec).toMatchObject({
      backoffLimit: 2,
      activeDeadlineSeconds: 600,
      ttlSecondsAfterFinished: 3600,
      template: {
        spec: {
          restartPolicy: "Never",
          serviceAccountName: "migrator",
          containers: [
            {
              name: "main",
              image: "migrate:1.2.0",
              command: ["/bin/migrate"],
              args: ["up"],
              env: [{ name: "LOG_LEVEL", value: "debug" }],
            },
          ],
        },
      },
    });
    expect(ran.detail.executions.at(-1)?.outputs).toMatchObject({
      job_name: job?.metadata.name,
      namespace: "jobs",
      status: "succeeded",
      succeeded: 1,
      failed: 0,
      adopted: false,
    });
    expect(api.get("v1", "Namespace", undefined, "jobs")).toBeDefined();
  });

  it("fails with the backoff limit, naming the Job and the exit codes, after streaming every attempt's log", async () => {
    api.images.set("bad:1", { logs: ["boom"], exitCode: 3 });
    const ran = await runK8sJob(plan({ image: "bad:1", backoff_limit: 1 }));
    expect(ran.outcome.status).toBe("failed");
    expect(ran.outcome.message).toMatch(
      /^Job jobs\/migrate-[0-9a-f]{8} failed: 2 pod\(s\) failed, more than its backoff limit of 1 \(BackoffLimitExceeded\) \(pod .+: main exited 3 \(Error\); pod .+: main exited 3 \(Error\)\)$/,
    );
    expect(ran.stdout.filter((l) => l.endsWith("boom"))).toHaveLength(2);
  });

  it("fails when the Job runs past its deadline", async () => {
    api.images.set("slow:1", { logs: ["working"], runMs: 10_000 });
    const ran = await runK8sJob(plan({ image: "slow:1", active_deadline_seconds: 1 }));
    expect(ran.outcome).toMatchObject({
      status: "failed",
      message: expect.stringMatching(/ran longer than its deadline of 1s \(DeadlineExceeded\)/),
    });
    expect(ran.stdout).toContain("working");
  });

  it("fails and deletes the Job when its image never pulls", async () => {
    api.images.set("ghost:1", { pull: "never" });
    const ran = await runK8sJob(plan({ image: "ghost:1", image_pull_timeout_seconds: 0.2 }));
    expect(ran.outcome.status).toBe("failed");
    expect(ran.outcome.message).toMatch(
      /^Job jobs\/migrate-[0-9a-f]{8} cannot start: pod .+ could not pull its image for 0s \(container main: (ErrImagePull|ImagePullBackOff): .*ghost:1/,
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(jobsIn("jobs")).toEqual([]);
    expect(api.requests.find((r) => r.method === "DELETE")?.query.propagationPolicy).toBe("Foreground");
  });

  it("deletes the Job with foreground propagation when the job is cancelled", async () => {
    api.images.set("slow:1", { logs: ["working"], runMs: 10_000 });
    const signal = abortWhen(() => jobsIn("jobs").length > 0, {
      kind: "cancelled",
      message: "the job was cancelled",
    });
    const ran = await runK8sJob(plan({ image: "slow:1" }), { signal });
    expect(ran.outcome.status).toBe("cancelled");
    const del = api.requests.find((r) => r.method === "DELETE");
    expect(del).toMatchObject({
      path: expect.stringMatching(/^\/apis\/batch\/v1\/namespaces\/jobs\/jobs\/migrate-/),
      query: { propagationPolicy: "Foreground" },
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(jobsIn("jobs")).toEqual([]);
    expect(api.store.list(api.store.resourceFor("v1", "Pod")!, "jobs")).toEqual([]);
  });

  it("leaves the Job running when the runner shuts down, and a restarted runner re-adopts it instead of starting another", async () => {
    api.images.set("slow:1", { logs: ["step 1", "step 2", "step 3", "step 4"], logIntervalMs: 150 });
    const signal = abortWhen(
      () => JSON.stringify(api.store.list(api.store.resourceFor("v1", "Pod")!, "jobs")).includes('"Running"'),
      { kind: "shutdown", message: "the runner is shutting down" },
    );
    const first = await runK8sJob(plan({ image: "slow:1" }), { signal });
    expect(first.outcome.status).toBe("failed");
    expect(api.requests.some((r) => r.method === "DELETE")).toBe(false);
    expect(first.lines.some((l) => l.includes("a restarted runner re-adopts it"))).toBe(true);
    expect(jobsIn("jobs")).toHaveLength(1);

    // The control plane sees the restart (heartbeat restart detection): the execution is cancelled and the
    // job offered again; the "restarted runner" claims it with a new execution.
    await client.updateExecutionStatus(first.job.id, first.detail.executions.at(-1)?.id ?? "", "cancelled");
    const second = await runK8sJob(undefined, { job: first.job });
    expect(second.outcome.status).toBe("finished");
    expect(api.requests.filter((r) => r.method === "POST" && r.path.endsWith("/jobs"))).toHaveLength(1);
    expect(second.lines.some((l) => l.includes("re-adopting the Job"))).toBe(true);
    expect(second.stdout).toEqual(["step 1", "step 2", "step 3", "step 4"]);
    expect(second.detail.executions.at(-1)?.outputs).toMatchObject({ adopted: true, status: "succeeded" });
  });

  it("replaces a failed Job of an earlier execution of the same job", async () => {
    api.images.set("flaky:1", { exitCode: 1 });
    const first = await runK8sJob(plan({ image: "flaky:1" }));
    expect(first.outcome.status).toBe("failed");
    api.images.set("flaky:1", { logs: ["fine now"] });
    await client.updateExecutionStatus(first.job.id, first.detail.executions.at(-1)?.id ?? "", "cancelled");
    const second = await runK8sJob(undefined, { job: first.job });
    expect(second.outcome.status).toBe("finished");
    const jobs = jobsIn("jobs");
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.metadata.labels).toMatchObject({
      "runner.nuon.co/execution-id": second.detail.executions.at(-1)?.id,
    });
  });

  it("plans by validating the Job with a server dry run, and has nothing to tear down", async () => {
    api.seed({ apiVersion: "v1", kind: "Namespace", metadata: { name: "jobs" } });
    const planned = await runK8sJob(plan({ image: "migrate:1" }), { operation: "create-apply-plan" });
    expect(planned.outcome.status).toBe("finished");
    const contents = JSON.parse(
      decompress(planned.detail.executions.at(-1)?.result?.contents_compressed ?? "").toString("utf8"),
    );
    expect(contents.plan_text).toMatch(
      /^Plan: 1 Job to run.\n\+ run Job jobs\/migrate-[0-9a-f]{8} \(image migrate:1\)\n$/,
    );
    expect(api.requests.find((r) => r.method === "POST")?.query.dryRun).toBe("All");
    expect(jobsIn("jobs")).toEqual([]);
    const teardown = await runK8sJob(plan({ image: "migrate:1" }), { operation: "create-teardown-plan" });
    expect(teardown.outcome.status).toBe("finished");
    expect(teardown.lines.some((l) => l.includes("nothing to delete"))).toBe(true);
  });

  it("does nothing but warn for a plan without kubernetes_job, as Nuon's runner does", async () => {
    const ran = await runK8sJob({ component_name: "legacy", install_id: "i" });
    expect(ran.outcome.status).toBe("finished");
    expect(ran.lines.some((l) => l.startsWith("warn: the plan has no kubernetes_job section"))).toBe(true);
    expect(api.requests).toEqual([]);
  });

  it("names a bad plan field and a Job the server refuses", async () => {
    const noImage = await runK8sJob({ kubernetes_job: { namespace: "jobs" } });
    expect(noImage.outcome).toMatchObject({
      status: "failed",
      step: "fetch",
      message: expect.stringContaining("kubernetes_job.image"),
    });
    api.forbid({ verb: "create", resource: "jobs" });
    api.seed({ apiVersion: "v1", kind: "Namespace", metadata: { name: "jobs" } });
    const refused = await runK8sJob(plan({ image: "x:1" }));
    expect(refused.outcome.message).toMatch(
      /^cannot create Job jobs\/migrate-[0-9a-f]{8}: jobs.batch is forbidden: User .* cannot create resource "jobs"/,
    );
  });
});
