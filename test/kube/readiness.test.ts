import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/kube/client.ts";
import { podProblems, readiness } from "../../src/kube/readiness.ts";

const obj = (kind: string, spec: unknown, status: unknown, generation = 2): KubeObject => ({
  apiVersion: "apps/v1",
  kind,
  metadata: { name: "x", generation },
  spec,
  status,
});

describe("readiness", () => {
  it.each([
    [
      "Deployment not observed yet",
      obj("Deployment", { replicas: 2 }, { observedGeneration: 1 }),
      "pending",
      /newest generation/,
    ],
    [
      "Deployment updating",
      obj("Deployment", { replicas: 2 }, { observedGeneration: 2, updatedReplicas: 1, replicas: 2 }),
      "pending",
      /1 of 2 replicas updated/,
    ],
    [
      "Deployment old replicas left",
      obj(
        "Deployment",
        { replicas: 2 },
        { observedGeneration: 2, updatedReplicas: 2, replicas: 3, availableReplicas: 2 },
      ),
      "pending",
      /1 old replicas/,
    ],
    [
      "Deployment unavailable",
      obj(
        "Deployment",
        { replicas: 2 },
        { observedGeneration: 2, updatedReplicas: 2, replicas: 2, availableReplicas: 1 },
      ),
      "pending",
      /1 of 2 updated replicas available/,
    ],
    [
      "Deployment rolled out",
      obj(
        "Deployment",
        { replicas: 2 },
        { observedGeneration: 2, updatedReplicas: 2, replicas: 2, availableReplicas: 2 },
      ),
      "ready",
      undefined,
    ],
    [
      "Deployment default of 1 replica",
      obj("Deployment", {}, { observedGeneration: 2, updatedReplicas: 1, replicas: 1, availableReplicas: 1 }),
      "ready",
      undefined,
    ],
    [
      "Deployment past its progress deadline",
      obj(
        "Deployment",
        {},
        {
          observedGeneration: 2,
          conditions: [
            {
              type: "Progressing",
              status: "False",
              reason: "ProgressDeadlineExceeded",
              message: 'ReplicaSet "x" has timed out progressing.',
            },
          ],
        },
      ),
      "failed",
      /progress deadline/,
    ],
    [
      "StatefulSet revision rolling",
      obj(
        "StatefulSet",
        { replicas: 1 },
        { observedGeneration: 2, readyReplicas: 1, currentRevision: "a", updateRevision: "b" },
      ),
      "pending",
      /revision b/,
    ],
    [
      "StatefulSet done",
      obj(
        "StatefulSet",
        { replicas: 1 },
        { observedGeneration: 2, readyReplicas: 1, currentRevision: "b", updateRevision: "b" },
      ),
      "ready",
      undefined,
    ],
    [
      "StatefulSet OnDelete",
      obj("StatefulSet", { updateStrategy: { type: "OnDelete" } }, {}),
      "ready",
      undefined,
    ],
    [
      "StatefulSet partitioned",
      obj(
        "StatefulSet",
        { replicas: 3, updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 2 } } },
        { observedGeneration: 2, readyReplicas: 3, updatedReplicas: 1 },
      ),
      "ready",
      undefined,
    ],
    [
      "DaemonSet updating",
      obj("DaemonSet", {}, { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 2 }),
      "pending",
      /2 of 3 pods updated/,
    ],
    [
      "DaemonSet done",
      obj(
        "DaemonSet",
        {},
        { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 },
      ),
      "ready",
      undefined,
    ],
    ["Job running", obj("Job", {}, { active: 1 }), "pending", /1 active/],
    [
      "Job complete",
      obj("Job", {}, { conditions: [{ type: "Complete", status: "True" }] }),
      "ready",
      undefined,
    ],
    [
      "Job failed",
      obj(
        "Job",
        {},
        {
          conditions: [
            {
              type: "Failed",
              status: "True",
              reason: "BackoffLimitExceeded",
              message: "Job has reached the specified backoff limit",
            },
          ],
        },
      ),
      "failed",
      /BackoffLimitExceeded/,
    ],
    ["CRD not established", obj("CustomResourceDefinition", {}, {}), "pending", /Established/],
    ["ConfigMap exists", obj("ConfigMap", undefined, undefined), "ready", undefined],
  ])("%s", (_name, o, state, message) => {
    const r = readiness(o);
    expect(r.state).toBe(state);
    if (message !== undefined && r.state !== "ready") expect(r.message).toMatch(message);
  });
});

describe("podProblems", () => {
  it("names waiting reasons and failed exits, but not normal start-up", () => {
    const pod: KubeObject = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      status: {
        containerStatuses: [
          {
            name: "app",
            state: { waiting: { reason: "ImagePullBackOff", message: 'Back-off pulling image "nope:1"' } },
          },
          { name: "side", state: { waiting: { reason: "ContainerCreating" } } },
          { name: "init", state: { terminated: { exitCode: 3, reason: "Error" } } },
        ],
      },
    };
    expect(podProblems(pod)).toEqual([
      'container app: ImagePullBackOff: Back-off pulling image "nope:1"',
      "container init exited with code 3 (Error)",
    ]);
  });
});
