import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  applyTargets,
  deleteTargets,
  missingNamespaces,
  namespaceTarget,
  resolveTargets,
} from "../../src/kube/apply.ts";
import type { KubeClient } from "../../src/kube/client.ts";
import { ENTRY } from "../../src/kube/diff.ts";
import { applyOrder, deleteOrder, parseManifest } from "../../src/kube/manifests.ts";
import { type FakeApiServer, type Obj, startFakeApiServer } from "../support/fake-apiserver.ts";
import { clientOf } from "./helpers.ts";

let api: FakeApiServer;
let client: KubeClient;

beforeEach(async () => {
  api = await startFakeApiServer();
  client = await clientOf(api);
});
afterEach(async () => {
  await client.close();
  await api.close();
});

const MANIFEST = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: app, image: "web:1" }] }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data: { color: blue }
---
apiVersion: v1
kind: Namespace
metadata: { name: team }
`;

async function targetsOf(manifest: string, namespace = "team") {
  return applyOrder(await resolveTargets(client, parseManifest(manifest), { namespace }));
}

describe("applying objects", () => {
  it("server-side applies in dependency order under the field manager and reports what it created", async () => {
    const results = await applyTargets(client, await targetsOf(MANIFEST), { fieldManager: "runner" });
    expect(results.map((r) => [r.target.ref.kind, r.target.ref.namespace, r.action])).toEqual([
      ["Namespace", undefined, "created"],
      ["ConfigMap", "team", "created"],
      ["Deployment", "team", "created"],
    ]);
    const patches = api.requests.filter((r) => r.method === "PATCH");
    expect(patches.map((r) => [r.path, r.contentType, r.query.fieldManager])).toEqual([
      ["/api/v1/namespaces/team", "application/apply-patch+yaml", "runner"],
      ["/api/v1/namespaces/team/configmaps/settings", "application/apply-patch+yaml", "runner"],
      ["/apis/apps/v1/namespaces/team/deployments/web", "application/apply-patch+yaml", "runner"],
    ]);
    const managed = api.get("v1", "ConfigMap", "team", "settings")?.metadata.managedFields as Array<{
      manager: string;
      operation: string;
    }>;
    expect(managed).toEqual([expect.objectContaining({ manager: "runner", operation: "Apply" })]);
  });

  it("reports unchanged objects on a second apply and field changes on a third", async () => {
    await applyTargets(client, await targetsOf(MANIFEST), { fieldManager: "runner" });
    const again = await applyTargets(client, await targetsOf(MANIFEST), { fieldManager: "runner" });
    expect(again.map((r) => r.action)).toEqual(["unchanged", "unchanged", "unchanged"]);
    const changed = await applyTargets(
      client,
      await targetsOf(MANIFEST.replace("color: blue", "color: green")),
      { fieldManager: "runner" },
    );
    const cm = changed.find((r) => r.target.ref.kind === "ConfigMap");
    expect(cm?.action).toBe("changed");
    expect(cm?.diff.entries).toEqual([
      { path: "data.color", original: "blue", applied: "green", type: ENTRY.modified },
    ]);
  });

  it("removes a field the manager no longer applies", async () => {
    await applyTargets(
      client,
      await targetsOf(MANIFEST.replace("data: { color: blue }", "data: { color: blue, size: L }")),
      { fieldManager: "runner" },
    );
    await applyTargets(client, await targetsOf(MANIFEST), { fieldManager: "runner" });
    expect(api.get("v1", "ConfigMap", "team", "settings")?.data).toEqual({ color: "blue" });
  });

  it("plans with a dry run without changing anything, including objects in a namespace the plan creates", async () => {
    const results = await applyTargets(client, await targetsOf(MANIFEST), {
      fieldManager: "runner",
      dryRun: true,
    });
    expect(results.map((r) => [r.target.ref.kind, r.action, r.diff.dry_run])).toEqual([
      ["Namespace", "created", true],
      ["ConfigMap", "created", true],
      ["Deployment", "created", true],
    ]);
    expect(api.get("v1", "Namespace", undefined, "team")).toBeUndefined();
    expect(api.requests.filter((r) => r.method === "PATCH").every((r) => r.query.dryRun === "All")).toBe(
      true,
    );
  });

  it("fails with a 409 naming the object and the other manager on a field conflict, and takes over with force", async () => {
    await applyTargets(client, await targetsOf(MANIFEST), { fieldManager: "runner" });
    const live = api.get("v1", "ConfigMap", "team", "settings");
    api.seed({ ...(live as Obj), data: { color: "red" } }, "kubectl-edit");
    const err = await applyTargets(client, await targetsOf(MANIFEST), { fieldManager: "runner" }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      code: "CONFLICT",
      status: 409,
      message:
        'cannot apply ConfigMap team/settings: Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.color',
    });
    await applyTargets(client, await targetsOf(MANIFEST), { fieldManager: "runner", force: true });
    expect(api.get("v1", "ConfigMap", "team", "settings")?.data).toEqual({ color: "blue" });
  });

  it("fails with a 403 naming the object when a verb is forbidden", async () => {
    api.forbid({ verb: "patch", resource: "deployments" });
    const err = await applyTargets(client, await targetsOf(MANIFEST), { fieldManager: "runner" }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "FORBIDDEN", status: 403 });
    expect((err as Error).message).toBe(
      'cannot apply Deployment team/web: deployments.apps "web" is forbidden: User "system:serviceaccount:runner:runner" cannot patch resource "deployments" in API group "apps" in the namespace "team"',
    );
  });

  it("names an object whose kind the cluster does not serve", async () => {
    const manifest = "apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w }\n";
    await expect(targetsOf(manifest)).rejects.toMatchObject({
      code: "UNKNOWN_KIND",
      message:
        "cannot apply Widget w: the cluster does not serve kind Widget in example.com/v1 (is its CustomResourceDefinition installed?)",
    });
  });

  it("applies a CRD and its custom resources from one manifest, waiting for the CRD to be Established", async () => {
    const manifest = `
apiVersion: example.com/v1
kind: Widget
metadata: { name: w, namespace: team }
spec: { size: 3 }
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.example.com }
spec:
  group: example.com
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions: [{ name: v1, served: true, storage: true }]
---
apiVersion: v1
kind: Namespace
metadata: { name: team }
`;
    const plan = await applyTargets(client, await targetsOf(manifest), {
      fieldManager: "runner",
      dryRun: true,
    });
    expect(plan.map((r) => [r.target.ref.kind, r.action])).toEqual([
      ["Namespace", "created"],
      ["CustomResourceDefinition", "created"],
      ["Widget", "created"],
    ]);
    const applied = await applyTargets(client, await targetsOf(manifest), { fieldManager: "runner" });
    expect(applied.map((r) => r.action)).toEqual(["created", "created", "created"]);
    expect(api.get("example.com/v1", "Widget", "team", "w")?.spec).toEqual({ size: 3 });
  });

  it("finds namespaces that neither exist nor are in the manifest", async () => {
    const targets = await targetsOf(
      MANIFEST.replace(/---\napiVersion: v1\nkind: Namespace[\s\S]*$/, ""),
      "elsewhere",
    );
    expect(await missingNamespaces(client, targets)).toEqual(["elsewhere"]);
    await applyTargets(client, [namespaceTarget("elsewhere"), ...targets], { fieldManager: "runner" });
    expect(await missingNamespaces(client, targets)).toEqual([]);
    expect(api.get("apps/v1", "Deployment", "elsewhere", "web")).toBeDefined();
  });

  it("says which namespace is missing when one is not created", async () => {
    const targets = await targetsOf("apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }\n", "nowhere");
    await expect(applyTargets(client, targets, { fieldManager: "runner" })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: 'cannot apply ConfigMap nowhere/c: namespaces "nowhere" not found',
    });
  });
});

describe("deleting objects", () => {
  it("deletes in reverse order with foreground propagation, namespaces last, waiting for each to be gone", async () => {
    const targets = await targetsOf(MANIFEST);
    await applyTargets(client, targets, { fieldManager: "runner" });
    const before = api.requests.length;
    const results = await deleteTargets(client, deleteOrder(targets), { pollIntervalMs: 10 });
    expect(results.map((r) => [r.target.ref.kind, r.action, r.diff.type])).toEqual([
      ["Deployment", "deleted", ENTRY.removed],
      ["ConfigMap", "deleted", ENTRY.removed],
      ["Namespace", "deleted", ENTRY.removed],
    ]);
    const deletes = api.requests.slice(before).filter((r) => r.method === "DELETE");
    expect(deletes.map((r) => [r.path, r.query.propagationPolicy])).toEqual([
      ["/apis/apps/v1/namespaces/team/deployments/web", "Foreground"],
      ["/api/v1/namespaces/team/configmaps/settings", "Foreground"],
      ["/api/v1/namespaces/team", "Foreground"],
    ]);
    expect(api.store.list(api.store.resourceFor("v1", "Pod")!)).toEqual([]);
    expect(api.get("v1", "Namespace", undefined, "team")).toBeUndefined();
  });

  it("plans a teardown without deleting, and treats objects already gone as absent", async () => {
    const targets = await targetsOf(MANIFEST);
    await applyTargets(client, targets.slice(0, 2), { fieldManager: "runner" });
    const plan = await deleteTargets(client, deleteOrder(targets), { dryRun: true });
    expect(plan.map((r) => [r.target.ref.kind, r.action])).toEqual([
      ["Deployment", "absent"],
      ["ConfigMap", "deleted"],
      ["Namespace", "deleted"],
    ]);
    expect(api.get("v1", "ConfigMap", "team", "settings")).toBeDefined();
  });
});

describe("the fake API server's server-side apply", () => {
  it("writes nothing on an apply that changes nothing, as the real server does", async () => {
    const targets = await targetsOf(MANIFEST);
    await applyTargets(client, targets, { fieldManager: "runner" });
    const before = api.get("v1", "ConfigMap", "team", "settings")?.metadata.resourceVersion;
    await applyTargets(client, targets, { fieldManager: "runner" });
    expect(api.get("v1", "ConfigMap", "team", "settings")?.metadata.resourceVersion).toBe(before);
  });
});
