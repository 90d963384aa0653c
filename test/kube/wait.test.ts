import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KubeClient, KubeObject } from "../../src/kube/client.ts";
import type { Readiness } from "../../src/kube/readiness.ts";
import { waitForReady, watchUntil } from "../../src/kube/wait.ts";
import { type FakeApiServer, startFakeApiServer } from "../support/fake-apiserver.ts";
import { clientOf } from "./helpers.ts";

let api: FakeApiServer;
let client: KubeClient;

beforeEach(async () => {
  api = await startFakeApiServer({ controllers: { jobBackoffMs: 5 } });
  client = await clientOf(api);
  api.seed({ apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } });
});
afterEach(async () => {
  await client.close();
  await api.close();
});

const deployment = (name: string, image: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: "team" },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "app", image }] } },
    ...extra,
  },
});
const ref = (kind: string, name: string, apiVersion = "apps/v1") => ({
  apiVersion,
  kind,
  name,
  namespace: "team",
});

describe("waitForReady", () => {
  it("returns once a Deployment and a StatefulSet have rolled out, reporting progress on the way", async () => {
    await client.apply(deployment("web", "web:1"), { fieldManager: "runner" });
    await client.apply(
      {
        ...deployment("db", "db:1"),
        kind: "StatefulSet",
        spec: { ...(deployment("db", "db:1").spec as object), serviceName: "db" },
      },
      { fieldManager: "runner" },
    );
    const progress: Array<[string, Readiness["state"]]> = [];
    await waitForReady(
      client,
      [ref("Deployment", "web"), ref("StatefulSet", "db"), ref("ConfigMap", "ignored", "v1")],
      {
        timeoutMs: 10_000,
        onProgress: (r, state) => progress.push([r.kind, state.state]),
      },
    );
    const web = api.get("apps/v1", "Deployment", "team", "web");
    expect(web?.status).toMatchObject({ readyReplicas: 2, updatedReplicas: 2 });
    expect(progress).toContainEqual(["Deployment", "ready"]);
    expect(progress).toContainEqual(["StatefulSet", "ready"]);
    expect(progress.some(([k]) => k === "ConfigMap")).toBe(false);
  });

  it("times out naming the object and why its pods do not run when an image never pulls", async () => {
    api.images.set("nope:1", { pull: "never" });
    await client.apply(deployment("web", "nope:1"), { fieldManager: "runner" });
    const started = Date.now();
    const err = await waitForReady(client, [ref("Deployment", "web")], { timeoutMs: 300 }).catch(
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(err).toMatchObject({ code: "TIMEOUT" });
    expect((err as Error).message).toMatch(
      /^timed out after 0s waiting for 1 of 1 objects to become ready: Deployment team\/web: 0 of 2 updated replicas available \(pod web-[a-z0-9]+-[a-z0-9]+: container app: ImagePullBackOff: Back-off pulling image "nope:1"/,
    );
  });

  it("fails at once when a Deployment exceeds its progress deadline", async () => {
    api.images.set("nope:1", { pull: "never" });
    await client.apply(deployment("web", "nope:1", { progressDeadlineSeconds: 1 }), {
      fieldManager: "runner",
    });
    const err = await waitForReady(client, [ref("Deployment", "web")], { timeoutMs: 20_000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      code: "NOT_READY",
      message: expect.stringContaining("Deployment team/web: rollout exceeded its progress deadline"),
    });
  });

  it("fails when a Job fails, and succeeds when one completes", async () => {
    api.images.set("bad:1", { exitCode: 1 });
    api.images.set("good:1", { logs: ["ok"] });
    const job = (name: string, image: string): KubeObject => ({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name, namespace: "team" },
      spec: {
        backoffLimit: 0,
        template: { spec: { restartPolicy: "Never", containers: [{ name: "main", image }] } },
      },
    });
    await client.apply(job("good", "good:1"), { fieldManager: "runner" });
    await client.apply(job("bad", "bad:1"), { fieldManager: "runner" });
    await waitForReady(client, [ref("Job", "good", "batch/v1")], { timeoutMs: 10_000 });
    await expect(
      waitForReady(client, [ref("Job", "bad", "batch/v1")], { timeoutMs: 10_000 }),
    ).rejects.toMatchObject({
      code: "NOT_READY",
      message: expect.stringMatching(
        /Job team\/bad: the Job failed \(BackoffLimitExceeded\).*exited with code 1/,
      ),
    });
  });

  it("stops waiting when its signal aborts, with the signal's reason", async () => {
    api.images.set("nope:1", { pull: "never" });
    await client.apply(deployment("web", "nope:1"), { fieldManager: "runner" });
    const controller = new AbortController();
    setTimeout(() => controller.abort({ kind: "cancelled", message: "stop" }), 100);
    await expect(
      waitForReady(client, [ref("Deployment", "web")], { timeoutMs: 20_000, signal: controller.signal }),
    ).rejects.toEqual({
      kind: "cancelled",
      message: "stop",
    });
  });
});

describe("watchUntil", () => {
  it("survives a dropped watch by reading again and re-watching", async () => {
    api.seed({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", namespace: "team" },
      data: { n: "0" },
    });
    const done = watchUntil(
      client,
      ref("ConfigMap", "c", "v1"),
      (o) => (o?.data as { n?: string } | undefined)?.n === "2",
      AbortSignal.timeout(10_000),
    );
    await new Promise((r) => setTimeout(r, 100));
    api.dropWatches();
    api.seed({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", namespace: "team" },
      data: { n: "1" },
    });
    await new Promise((r) => setTimeout(r, 100));
    api.seed({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", namespace: "team" },
      data: { n: "2" },
    });
    expect((await done)?.data).toEqual({ n: "2" });
    expect(api.requests.filter((r) => r.query.watch === "true").length).toBeGreaterThanOrEqual(2);
  });

  it("resolves with undefined when the object is deleted and deletion is what it waits for", async () => {
    api.seed({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "team" } });
    const gone = watchUntil(
      client,
      ref("ConfigMap", "c", "v1"),
      (o) => o === undefined,
      AbortSignal.timeout(10_000),
    );
    await new Promise((r) => setTimeout(r, 50));
    await client.delete(ref("ConfigMap", "c", "v1"), {});
    await expect(gone).resolves.toBeUndefined();
  });
});
