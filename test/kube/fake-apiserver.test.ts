/**
 * The fake API server against two real clients: this project's client (over @kubernetes/client-node's
 * credentials and TLS) and kubectl, run as a child process against the same loopback HTTPS socket.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KubeClient, WatchEvent } from "../../src/kube/client.ts";
import { type FakeApiServer, startFakeApiServer } from "../support/fake-apiserver.ts";
import { clientOf, eventually } from "./helpers.ts";

const execFileAsync = promisify(execFile);

let api: FakeApiServer;
let client: KubeClient;
let dir: string;

beforeEach(async () => {
  api = await startFakeApiServer({ controllers: { jobBackoffMs: 5, gcDelayMs: 5 } });
  client = await clientOf(api);
  dir = mkdtempSync(path.join(tmpdir(), "fake-apiserver-"));
});
afterEach(async () => {
  await client.close();
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs kubectl against the fake server (never a shell; its own HOME so no cache leaks between tests). */
async function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const kubeconfig = path.join(dir, "kubeconfig");
  writeFileSync(kubeconfig, api.kubeconfig(), { mode: 0o600 });
  try {
    const r = await execFileAsync("kubectl", ["--kubeconfig", kubeconfig, ...args], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir },
      timeout: 30_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

const ns = (name: string) => api.seed({ apiVersion: "v1", kind: "Namespace", metadata: { name } });

describe("the fake API server with kubectl as a second client", () => {
  it("serves discovery and server-side apply to kubectl, and shows kubectl's objects to the runner's client", async () => {
    writeFileSync(
      path.join(dir, "m.yaml"),
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: team}\ndata: {a: b}\n",
    );
    const applied = await kubectl(
      "apply",
      "--server-side",
      "--validate=false",
      "-f",
      path.join(dir, "m.yaml"),
    );
    expect(applied).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("configmap/c serverside-applied"),
    });
    const cm = await client.get({ apiVersion: "v1", kind: "ConfigMap", name: "c", namespace: "team" });
    expect(cm?.data).toEqual({ a: "b" });
    expect(cm?.metadata.managedFields).toEqual([
      expect.objectContaining({ manager: "kubectl", operation: "Apply" }),
    ]);
    const version = await kubectl("version", "-o", "json");
    expect(JSON.parse(version.stdout).serverVersion.gitVersion).toBe("v1.31.0-fake");
  });

  it("gives kubectl the same 409 conflict the runner gets when it applies a field the runner owns", async () => {
    ns("team");
    await client.apply(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "c", namespace: "team" },
        data: { color: "blue" },
      },
      { fieldManager: "runner" },
    );
    writeFileSync(
      path.join(dir, "c.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: team}\ndata: {color: red}\n",
    );
    const conflict = await kubectl(
      "apply",
      "--server-side",
      "--validate=false",
      "-f",
      path.join(dir, "c.yaml"),
    );
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toContain('conflict with "runner"');
    expect(conflict.stderr).toContain(".data.color");
    const forced = await kubectl(
      "apply",
      "--server-side",
      "--force-conflicts",
      "--validate=false",
      "-f",
      path.join(dir, "c.yaml"),
    );
    expect(forced.code).toBe(0);
    expect(
      (await client.get({ apiVersion: "v1", kind: "ConfigMap", name: "c", namespace: "team" }))?.data,
    ).toEqual({ color: "red" });
  });

  it("answers kubectl's get, label selectors and delete --wait (which watches)", async () => {
    ns("team");
    for (const [name, tier] of [
      ["a", "web"],
      ["b", "db"],
    ]) {
      api.seed({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: name as string, namespace: "team", labels: { tier: tier as string } },
      });
    }
    const listed = await kubectl(
      "get",
      "configmaps",
      "-n",
      "team",
      "-l",
      "tier=web",
      "-o",
      "jsonpath={.items[*].metadata.name}",
    );
    expect(listed.stdout).toBe("a");
    const deleted = await kubectl("delete", "namespace", "team", "--wait=true", "--timeout=20s");
    expect(deleted).toMatchObject({ code: 0, stdout: expect.stringContaining('namespace "team" deleted') });
    expect(api.get("v1", "Namespace", undefined, "team")).toBeUndefined();
    expect(api.get("v1", "ConfigMap", "team", "a")).toBeUndefined();
  });

  it("refuses kubectl with the real 403 message when a verb is forbidden", async () => {
    api.forbid({ verb: "list", resource: "secrets" });
    const r = await kubectl("get", "secrets", "-n", "default");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      'secrets is forbidden: User "system:serviceaccount:runner:runner" cannot list resource "secrets" in API group "" in the namespace "default"',
    );
  });
});

describe("the fake API server's documented behaviour", () => {
  it("replays changes since a resourceVersion to a watch, then streams live ones", async () => {
    ns("team");
    const first = api.seed({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "a", namespace: "team" },
      data: { n: "1" },
    });
    api.seed({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "a", namespace: "team" },
      data: { n: "2" },
    });
    const events: WatchEvent[] = [];
    const stop = new AbortController();
    const watching = client.watch(
      "v1",
      "ConfigMap",
      { namespace: "team", resourceVersion: first.metadata.resourceVersion },
      (e) => {
        events.push(e);
        if (events.length === 2) stop.abort();
      },
      stop.signal,
    );
    await eventually(() => events.length >= 1);
    await client.delete({ apiVersion: "v1", kind: "ConfigMap", name: "a", namespace: "team" }, {});
    await watching;
    expect(events.map((e) => [e.type, (e.object.data as { n?: string } | undefined)?.n])).toEqual([
      ["MODIFIED", "2"],
      ["DELETED", "2"],
    ]);
  });

  it("ends a watch when the server drops it, and the client resolves instead of hanging", async () => {
    const watching = client.watch("v1", "ConfigMap", { namespace: "team" }, () => undefined);
    await eventually(() => api.requests.some((r) => r.query.watch === "true"));
    api.dropWatches();
    await expect(watching).resolves.toBeUndefined();
  });

  it("lists built-in objects without kind or apiVersion on the items, like the real server", async () => {
    ns("team");
    api.seed({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "team" } });
    const list = await client.list("v1", "ConfigMap", { namespace: "team" });
    expect(list.items[0]).not.toHaveProperty("kind");
    expect(Number(list.resourceVersion)).toBeGreaterThan(0);
  });

  it("runs a Job's pod, streams its log with follow, and completes the Job", async () => {
    ns("team");
    api.images.set("busybox:1", { logs: ["one", "two", "three"], exitCode: 0 });
    await client.create(
      {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: "j", namespace: "team" },
        spec: {
          template: { spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox:1" }] } },
        },
      },
      {},
    );
    const pod = await eventually(async () => {
      const pods = await client.list("v1", "Pod", { namespace: "team", labelSelector: "job-name=j" });
      const p = pods.items[0];
      return (p?.status as { phase?: string } | undefined)?.phase === "Running" ? p : undefined;
    });
    const lines: string[] = [];
    await client.streamLog("team", pod.metadata.name ?? "", { follow: true }, (l) => lines.push(l));
    expect(lines).toEqual(["one", "two", "three"]);
    const job = await eventually(async () => {
      const j = await client.get({ apiVersion: "batch/v1", kind: "Job", name: "j", namespace: "team" });
      return (j?.status as { succeeded?: number } | undefined)?.succeeded === 1 ? j : undefined;
    });
    expect((job.status as { conditions: Array<{ type: string }> }).conditions.map((c) => c.type)).toContain(
      "Complete",
    );
  });

  it("fails a Job whose pods keep failing once its backoff limit is exceeded", async () => {
    ns("team");
    api.images.set("bad:1", { logs: ["boom"], exitCode: 2 });
    await client.create(
      {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: "j", namespace: "team" },
        spec: {
          backoffLimit: 1,
          template: { spec: { restartPolicy: "Never", containers: [{ name: "main", image: "bad:1" }] } },
        },
      },
      {},
    );
    const job = await eventually(async () => {
      const j = await client.get({ apiVersion: "batch/v1", kind: "Job", name: "j", namespace: "team" });
      const failed = (
        j?.status as { conditions?: Array<{ type: string; reason?: string }> } | undefined
      )?.conditions?.find((c) => c.type === "Failed");
      return failed === undefined ? undefined : { j, failed };
    });
    expect(job.failed.reason).toBe("BackoffLimitExceeded");
    expect(job.j?.status).toMatchObject({ failed: 2 });
  });

  it("rejects a Job with restartPolicy Always, and log requests for a pod whose image never pulls", async () => {
    ns("team");
    const invalid = await client
      .create(
        {
          apiVersion: "batch/v1",
          kind: "Job",
          metadata: { name: "j", namespace: "team" },
          spec: { template: { spec: { containers: [] } } },
        },
        {},
      )
      .catch((e: unknown) => e);
    expect(invalid).toMatchObject({
      code: "INVALID",
      status: 422,
      message: expect.stringContaining("spec.template.spec.restartPolicy"),
    });
    api.images.set("nope:1", { pull: "never" });
    await client.create(
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "p", namespace: "team" },
        spec: { containers: [{ name: "c", image: "nope:1" }] },
      },
      {},
    );
    await eventually(async () => {
      const p = await client.get({ apiVersion: "v1", kind: "Pod", name: "p", namespace: "team" });
      return JSON.stringify(p?.status).includes("ImagePullBackOff");
    });
    await expect(client.streamLog("team", "p", {}, () => undefined)).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: 'container "c" in pod "p" is waiting to start: trying and failing to pull image',
    });
  });

  it("deletes dependents first with foreground propagation and keeps them with orphan", async () => {
    ns("team");
    api.images.set("web:1", {});
    const deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "team" },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: { containers: [{ name: "app", image: "web:1" }] },
        },
      },
    };
    await client.apply(deployment, { fieldManager: "runner" });
    const pods = () =>
      client.list("v1", "Pod", { namespace: "team", labelSelector: "app=web" }).then((l) => l.items);
    await eventually(async () => (await pods()).length === 2);
    await client.delete(
      { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "team" },
      { propagationPolicy: "Foreground" },
    );
    const marked = await client.get({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "web",
      namespace: "team",
    });
    expect(marked?.metadata.finalizers).toEqual(["foregroundDeletion"]);
    await eventually(
      async () =>
        (await client.get({ apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "team" })) ===
        undefined,
    );
    expect(await pods()).toEqual([]);

    await client.apply(
      { ...deployment, metadata: { name: "web2", namespace: "team" } },
      { fieldManager: "runner" },
    );
    await eventually(
      async () => (await client.list("apps/v1", "ReplicaSet", { namespace: "team" })).items.length === 1,
    );
    await client.delete(
      { apiVersion: "apps/v1", kind: "Deployment", name: "web2", namespace: "team" },
      { propagationPolicy: "Orphan" },
    );
    const rs = (await client.list("apps/v1", "ReplicaSet", { namespace: "team" })).items;
    expect(rs).toHaveLength(1);
    expect(rs[0]?.metadata.ownerReferences).toBeUndefined();
  });
});
