import { describe, expect, it } from "vitest";
import { buildJob, jobName, labelValue } from "../../../src/jobs/kubernetes-job/job-spec.ts";
import { parseKubernetesJobPlan } from "../../../src/jobs/kubernetes-job/plan.ts";
import { imagePullFailure, jobState } from "../../../src/jobs/kubernetes-job/result.ts";
import type { KubeObject } from "../../../src/kube/client.ts";

const job = (status: unknown, spec: unknown = {}): KubeObject => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name: "j", namespace: "n" },
  spec,
  status,
});

describe("jobState", () => {
  it.each([
    ["no conditions", job({ active: 1 }), { state: "running" }],
    ["complete", job({ conditions: [{ type: "Complete", status: "True" }] }), { state: "succeeded" }],
    [
      "backoff limit",
      job(
        { failed: 3, conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }] },
        { backoffLimit: 2 },
      ),
      {
        state: "failed",
        reason: "BackoffLimitExceeded",
        message: "Job n/j failed: 3 pod(s) failed, more than its backoff limit of 2 (BackoffLimitExceeded)",
      },
    ],
    [
      "deadline",
      job(
        { conditions: [{ type: "Failed", status: "True", reason: "DeadlineExceeded" }] },
        { activeDeadlineSeconds: 60 },
      ),
      {
        state: "failed",
        reason: "DeadlineExceeded",
        message: "Job n/j failed: it ran longer than its deadline of 60s (DeadlineExceeded)",
      },
    ],
    [
      "other reason",
      job({
        conditions: [
          { type: "Failed", status: "True", reason: "PodFailurePolicy", message: "container x exited 42" },
        ],
      }),
      {
        state: "failed",
        reason: "PodFailurePolicy",
        message: "Job n/j failed (PodFailurePolicy): container x exited 42",
      },
    ],
    [
      "a False condition is ignored",
      job({ conditions: [{ type: "Failed", status: "False" }] }),
      { state: "running" },
    ],
  ])("%s", (_name, j, expected) => {
    expect(jobState(j)).toEqual(expected);
  });

  it("spots containers that cannot pull their image", () => {
    const pod = (reason: string): KubeObject => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      status: {
        containerStatuses: [{ name: "main", image: "x:1", state: { waiting: { reason, message: "m" } } }],
      },
    });
    expect(imagePullFailure(pod("ImagePullBackOff"))).toEqual({
      container: "main",
      reason: "ImagePullBackOff",
      message: "m",
    });
    expect(imagePullFailure(pod("InvalidImageName"))?.reason).toBe("InvalidImageName");
    expect(imagePullFailure(pod("ContainerCreating"))).toBeUndefined();
  });
});

describe("the Job object", () => {
  const parsed = parseKubernetesJobPlan({
    component_name: "DB Migrate!",
    kubernetes_job: { image: "migrate", tag: "2" },
  });
  if (parsed === undefined) throw new Error("the plan has a kubernetes_job section");
  const plan = parsed;

  it("defaults restartPolicy Never, backoff limit 0 and container main, and names the Job after the component", () => {
    const name = jobName(plan, "exec-1");
    expect(name).toMatch(/^db-migrate-[0-9a-f]{8}$/);
    expect(jobName(plan, "exec-2")).not.toBe(name);
    const obj = buildJob(plan, { name, namespace: "ns", jobId: "job-1", executionId: "exec-1" });
    expect(obj.spec).toEqual({
      backoffLimit: 0,
      template: {
        metadata: { labels: { "runner.nuon.co/job-id": "job-1" } },
        spec: { restartPolicy: "Never", containers: [{ name: "main", image: "migrate:2" }] },
      },
    });
    expect(obj.metadata.labels).toEqual({
      "app.kubernetes.io/managed-by": "nuon-runner",
      "runner.nuon.co/job-id": "job-1",
      "runner.nuon.co/execution-id": "exec-1",
    });
  });

  it("makes label values valid", () => {
    expect(labelValue("--a/b c--")).toBe("a-b-c");
    expect(labelValue("x".repeat(80))).toHaveLength(63);
  });

  it("reads a plan without kubernetes_job (what Nuon's control plane sends) as nothing to run", () => {
    expect(parseKubernetesJobPlan({ component_name: "x" })).toBeUndefined();
    expect(parseKubernetesJobPlan(null)).toBeUndefined();
  });

  it("rejects a name that is not a DNS label and a restart policy of Always", () => {
    expect(() => parseKubernetesJobPlan({ kubernetes_job: { image: "x", name: "Bad_Name" } })).toThrow(
      /lowercase DNS label/,
    );
    expect(() =>
      parseKubernetesJobPlan({ kubernetes_job: { image: "x", restart_policy: "Always" } }),
    ).toThrow(/restart_policy/);
  });
});
