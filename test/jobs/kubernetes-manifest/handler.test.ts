/**
 * kubernetes-manifest-deploy end to end: the real step pipeline (runJob), the embedded control plane over
 * loopback (plans, results, outputs), and the fake API server over loopback HTTPS.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ControlPlaneClient } from "../../../src/control-plane/client.ts";
import { compress, decompress } from "../../../src/control-plane/compress.ts";
import type { JobLog } from "../../../src/jobs/handler.ts";
import { createKubernetesManifestHandler } from "../../../src/jobs/kubernetes-manifest/handler.ts";
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
  api = await startFakeApiServer({ controllers: { gcDelayMs: 5 } });
  api.images.set("web:1", {});
  api.images.set("web:2", {});
});
afterEach(async () => {
  await api.close();
});

function recordingLog() {
  const lines: string[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(`${level}: ${msg}${fields ? ` ${JSON.stringify(fields)}` : ""}`);
  };
  const log: JobLog = {
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    debug: at("debug"),
    line: (t, s) => lines.push(`${s}: ${t}`),
  };
  return { log, lines };
}

const MANIFEST = (image = "web:1", color = "blue") => `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: app, image: "${image}" }] }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data: { color: ${color} }
`;

function plan(manifest: string, extra: Record<string, unknown> = {}, applyPlanContents?: string) {
  return {
    install_id: "inst-1",
    component_id: "comp-1",
    component_name: "web",
    ...(applyPlanContents !== undefined ? { apply_plan_contents: applyPlanContents } : {}),
    kubernetes_manifest: {
      cluster_info: { endpoint: api.url, ca_data: api.caData, token: api.token },
      namespace: "team",
      manifest,
      ...extra,
    },
  };
}

interface Ran {
  outcome: JobOutcome;
  detail: JobDetail;
  lines: string[];
  contents?: Record<string, unknown>;
}

/** Secrets the handler handed to the redactor. */
let redacted: string[] = [];

async function runManifestJob(operation: string, p: unknown, signal?: AbortSignal): Promise<Ran> {
  const job = cp.admin.enqueueJob(runner.id, { type: "kubernetes-manifest-deploy", operation, plan: p });
  const execution = await client.createExecution(job.id);
  const { log, lines } = recordingLog();
  const outcome = await runJob({
    job,
    execution,
    handlerFactory: () =>
      createKubernetesManifestHandler({
        access: { env: {} },
        deletePollIntervalMs: 10,
        redactor: { add: (s: string) => void redacted.push(s) },
      }),
    client,
    log,
    runnerState: TEST_RUNNER_STATE,
    killGraceMs: 1000,
    ...(signal !== undefined ? { signal } : {}),
  });
  await client.createResult(job.id, execution.id, outcome.result);
  const detail = cp.admin.getJob(job.id) as JobDetail;
  const compressed = detail.executions.at(-1)?.result?.contents_compressed;
  return {
    outcome,
    detail,
    lines,
    ...(compressed
      ? { contents: JSON.parse(decompress(compressed).toString("utf8")) as Record<string, unknown> }
      : {}),
  };
}

describe("kubernetes-manifest-deploy", () => {
  it("plans, applies the saved plan, waits for the rollout, changes, and tears down", async () => {
    // 1. Plan: nothing exists yet; the namespace the objects need is part of the plan.
    const planned = await runManifestJob("create-apply-plan", plan(MANIFEST()));
    expect(planned.outcome.status).toBe("finished");
    expect(planned.contents).toMatchObject({ op: "apply" });
    expect(planned.contents?.plan_text).toBe(
      "Plan: 3 to create, 0 to change, 0 to delete, 0 unchanged.\n+ create Namespace team\n+ create ConfigMap team/settings\n+ create Deployment team/web\n",
    );
    expect(JSON.parse(String(planned.contents?.plan)).k8s_content_diff).toHaveLength(3);
    expect(planned.lines).toContain("stdout: + create Deployment team/web");
    expect(api.get("v1", "Namespace", undefined, "team")).toBeUndefined();

    // 2. Apply the saved plan (its contents come back compressed, as the control plane sends them).
    const saved = planned.detail.executions.at(-1)?.result?.contents_compressed as string;
    const applied = await runManifestJob("apply-plan", plan(MANIFEST(), {}, saved));
    expect(applied.outcome.status).toBe("finished");
    const web = api.get("apps/v1", "Deployment", "team", "web");
    expect(web?.metadata.labels).toEqual({
      "nuon.co/install-id": "inst-1",
      "nuon.co/component-id": "comp-1",
    });
    expect(web?.status).toMatchObject({ readyReplicas: 2 });
    const outputs = applied.detail.executions.at(-1)?.outputs as { objects: unknown[]; namespace: string };
    expect(outputs.namespace).toBe("team");
    expect(outputs.objects).toEqual([
      { apiVersion: "v1", kind: "Namespace", name: "team", action: "created" },
      { apiVersion: "v1", kind: "ConfigMap", namespace: "team", name: "settings", action: "created" },
      { apiVersion: "apps/v1", kind: "Deployment", namespace: "team", name: "web", action: "created" },
    ]);
    expect(applied.lines.some((l) => l.includes("Deployment team/web: ready"))).toBe(true);
    expect(
      api.requests.filter((r) => r.method === "PATCH").every((r) => r.query.fieldManager === "kube-apply"),
    ).toBe(true);

    // 3. A changed manifest plans as a change with the field that differs.
    const changed = await runManifestJob("create-apply-plan", plan(MANIFEST("web:2", "green")));
    expect(changed.contents?.plan_text).toContain(
      "Plan: 0 to create, 2 to change, 0 to delete, 0 unchanged.",
    );
    expect(changed.contents?.plan_text).toContain('    data.color: "blue" -> "green"');
    expect(changed.contents?.plan_text).toContain(
      '    spec.template.spec.containers: [{"name":"app","image":"web:1"}] -> [{"name":"app","image":"web:2"}]',
    );

    // 4. Teardown plan, then teardown: reverse order, namespace untouched (the manifest does not declare it).
    const teardownPlan = await runManifestJob("create-teardown-plan", plan(MANIFEST()));
    expect(teardownPlan.contents).toMatchObject({ op: "delete" });
    expect(teardownPlan.contents?.plan_text).toBe(
      "Plan: 0 to create, 0 to change, 2 to delete, 0 unchanged.\n- delete Deployment team/web\n- delete ConfigMap team/settings\n",
    );
    const torn = await runManifestJob(
      "apply-plan",
      plan(MANIFEST(), {}, teardownPlan.detail.executions.at(-1)?.result?.contents_compressed as string),
    );
    expect(torn.outcome.status).toBe("finished");
    expect(api.get("apps/v1", "Deployment", "team", "web")).toBeUndefined();
    expect(api.get("v1", "ConfigMap", "team", "settings")).toBeUndefined();
    expect(api.store.list(api.store.resourceFor("v1", "Pod")!)).toEqual([]);
    const deletes = api.requests.filter((r) => r.method === "DELETE").map((r) => r.path);
    expect(deletes).toEqual([
      "/apis/apps/v1/namespaces/team/deployments/web",
      "/api/v1/namespaces/team/configmaps/settings",
    ]);
  });

  it("hands the cluster token to the redactor", async () => {
    redacted = [];
    const ran = await runManifestJob("create-apply-plan", plan(MANIFEST()));
    expect(ran.outcome.status).toBe("finished");
    expect(redacted).toContain(api.token);
  });

  it("applies without a saved plan (run-local) and deletes namespaces and CRDs last on teardown", async () => {
    const manifest = `
apiVersion: v1
kind: Namespace
metadata: { name: shop }
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
apiVersion: example.com/v1
kind: Widget
metadata: { name: w, namespace: shop }
spec: { size: 1 }
`;
    const applied = await runManifestJob("apply-plan", plan(manifest));
    expect(applied.outcome.status).toBe("finished");
    expect(api.get("example.com/v1", "Widget", "shop", "w")).toBeDefined();
    const teardown = compress(JSON.stringify({ op: "delete", plan: "{}" }));
    const torn = await runManifestJob("apply-plan", plan(manifest, {}, teardown));
    expect(torn.outcome.status).toBe("finished");
    const deletes = api.requests.filter((r) => r.method === "DELETE").map((r) => r.path);
    expect(deletes).toEqual([
      "/apis/example.com/v1/namespaces/shop/widgets/w",
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
      "/api/v1/namespaces/shop",
    ]);
    expect(api.get("v1", "Namespace", undefined, "shop")).toBeUndefined();
  });

  describe("bad input fails the job with a message naming the object", () => {
    it("invalid YAML fails validation before the cluster is contacted", async () => {
      const ran = await runManifestJob(
        "apply-plan",
        plan("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n   bad: x\n"),
      );
      expect(ran.outcome).toMatchObject({
        status: "failed",
        step: "validate",
        message: expect.stringMatching(/manifest document 1 is not valid YAML \(line \d\)/),
      });
      expect(api.requests).toEqual([]);
    });

    it("an unknown kind", async () => {
      const ran = await runManifestJob(
        "apply-plan",
        plan("apiVersion: example.com/v1\nkind: Gadget\nmetadata: { name: g }\n"),
      );
      expect(ran.outcome).toMatchObject({
        status: "failed",
        step: "execute",
        message:
          "cannot apply Gadget g: the cluster does not serve kind Gadget in example.com/v1 (is its CustomResourceDefinition installed?)",
      });
    });

    it("an apply conflict (409), unless force_conflicts", async () => {
      await runManifestJob("apply-plan", plan(MANIFEST()));
      const live = api.get("v1", "ConfigMap", "team", "settings");
      api.seed({ ...(live as Obj), data: { color: "red" } }, "kubectl-edit");
      const ran = await runManifestJob("apply-plan", plan(MANIFEST()));
      expect(ran.outcome).toMatchObject({
        status: "failed",
        message:
          'cannot apply ConfigMap team/settings: Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.color',
      });
      expect(ran.detail.executions.at(-1)?.result?.error_metadata).toMatchObject({
        step: "execute",
        handler: "kubernetes-manifest",
      });
      const forced = await runManifestJob("apply-plan", plan(MANIFEST(), { force_conflicts: true }));
      expect(forced.outcome.status).toBe("finished");
      expect(api.get("v1", "ConfigMap", "team", "settings")?.data).toEqual({ color: "blue" });
    });

    it("a forbidden verb (403)", async () => {
      api.forbid({ verb: "patch", resource: "configmaps", namespace: "team" });
      const ran = await runManifestJob("apply-plan", plan(MANIFEST()));
      expect(ran.outcome.status).toBe("failed");
      expect(ran.outcome.message).toBe(
        'cannot apply ConfigMap team/settings: configmaps "settings" is forbidden: User "system:serviceaccount:runner:runner" cannot patch resource "configmaps" in API group "" in the namespace "team"',
      );
    });

    it("an image that never pulls: the wait times out naming the pod's reason", async () => {
      api.images.set("missing:1", { pull: "never" });
      const ran = await runManifestJob(
        "apply-plan",
        plan(MANIFEST("missing:1"), { wait_timeout_seconds: 0.5 }),
      );
      expect(ran.outcome.status).toBe("failed");
      expect(ran.outcome.message).toMatch(
        /^timed out after 1s waiting for 1 of 2 objects to become ready: Deployment team\/web: .*container app: (ErrImagePull|ImagePullBackOff)/,
      );
    });

    it("an unsupported operation", async () => {
      const ran = await runManifestJob("exec", plan(MANIFEST()));
      expect(ran.outcome).toMatchObject({
        status: "failed",
        step: "validate",
        message: expect.stringContaining('does not support operation "exec"'),
      });
    });

    it("a plan without a manifest names the field", async () => {
      const ran = await runManifestJob("apply-plan", { kubernetes_manifest: { namespace: "x" } });
      expect(ran.outcome).toMatchObject({
        status: "failed",
        step: "fetch",
        message: expect.stringContaining("kubernetes_manifest.manifest"),
      });
    });
  });

  it("stops waiting and reports cancelled when the control plane cancels", async () => {
    api.images.set("missing:1", { pull: "never" });
    const controller = new AbortController();
    setTimeout(() => controller.abort({ kind: "cancelled", message: "the job was cancelled" }), 300);
    const ran = await runManifestJob("apply-plan", plan(MANIFEST("missing:1")), controller.signal);
    expect(ran.outcome).toMatchObject({ status: "cancelled" });
  });
});
