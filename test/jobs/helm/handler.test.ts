/**
 * helm-chart-deploy end to end with a `helm` on PATH that is test/fixtures/helm/fake-helm.mjs (there is no
 * helm binary on these machines): the real pipeline (runJob), the embedded control plane, runCommand. What
 * this proves is argv, files, environment, output parsing and how outcomes map to results; what only a
 * real helm and cluster would prove is listed in docs/kubernetes.md.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ControlPlaneClient } from "../../../src/control-plane/client.ts";
import { compress, decompress } from "../../../src/control-plane/compress.ts";
import { msToNs } from "../../../src/control-plane/schemas.ts";
import type { JobLog } from "../../../src/jobs/handler.ts";
import { createHelmHandler } from "../../../src/jobs/helm/handler.ts";
import { type JobOutcome, runJob } from "../../../src/jobs/run-job.ts";
import type { EmbeddedControlPlane, JobDetail } from "../../../src/mock-control-plane/server.ts";
import { createWorkspace } from "../../../src/workspace/workspace.ts";
import { type JobHarness, startJobHarness, TEST_RUNNER_STATE } from "../../support/job-harness.ts";
import { testCertificates } from "../../support/tls.ts";

const FIXTURES = path.resolve(import.meta.dirname, "../../fixtures/helm");

/** A small chart (written per test: helm templates are not YAML, so they do not live in the formatted tree). */
const CHART_FILES: Record<string, string> = {
  "Chart.yaml": 'apiVersion: v2\nname: web\nversion: 0.3.0\nappVersion: "1.4.2"\n',
  "values.yaml": 'image:\n  repository: nginx\n  tag: "1.27"\nreplicas: 1\ncolor: blue\npassword: changeme\n',
  "templates/configmap.yaml":
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\ndata:\n  color: "{{ .Values.color }}"\n',
  "templates/deployment.yaml": [
    "apiVersion: apps/v1",
    "kind: Deployment",
    "metadata:",
    "  name: {{ .Release.Name }}",
    "spec:",
    "  replicas: {{ .Values.replicas }}",
    "  selector:",
    "    matchLabels:",
    "      app: {{ .Release.Name }}",
    "  template:",
    "    metadata:",
    "      labels:",
    "        app: {{ .Release.Name }}",
    "    spec:",
    "      containers:",
    "        - name: {{ .Chart.Name }}",
    '          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
    "",
  ].join("\n"),
  "templates/secret.yaml":
    'apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-credentials\nstringData:\n  password: "{{ .Values.password }}"\n',
};
let CHART: string;
const TOKEN = "helm-cluster-token-5f1c";
const SECRET_VALUE = "s3cr3t-db-password-9e2";

let cp: EmbeddedControlPlane;
let runner: { id: string };
let client: ControlPlaneClient;
let dir: string;
let bin: string;
let state: string;

let harness: JobHarness;

beforeAll(async () => {
  harness = await startJobHarness();
  ({ cp, client } = harness);
  runner = { id: harness.runnerId };
});
afterAll(async () => {
  await harness?.close();
});
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "helm-handler-"));
  bin = path.join(dir, "bin");
  state = path.join(dir, "state");
  mkdirSync(bin);
  mkdirSync(state);
  CHART = path.join(dir, "chart");
  for (const [file, text] of Object.entries(CHART_FILES)) {
    mkdirSync(path.dirname(path.join(CHART, file)), { recursive: true });
    writeFileSync(path.join(CHART, file), text);
  }
  // The wrapper is what PATH finds as `helm`; it points the fake at this test's state directory.
  writeFileSync(
    path.join(bin, "helm"),
    `#!/bin/sh\nFAKE_HELM_STATE='${state}' exec node '${path.join(FIXTURES, "fake-helm.mjs")}' "$@"\n`,
    { mode: 0o755 },
  );
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Call {
  argv: string[];
  env: Record<string, string>;
  kubeconfigMode?: string;
  kubeconfigHasToken: boolean;
  values: string[];
}
const calls = (): Call[] =>
  readFileSync(path.join(state, "calls.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Call);

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

function plan(helm: Record<string, unknown> = {}, applyPlanContents?: string) {
  return {
    install_id: "inst-1",
    ...(applyPlanContents !== undefined ? { apply_plan_contents: applyPlanContents } : {}),
    helm: {
      cluster_info: { endpoint: "https://127.0.0.1:6443", ca_data: testCertificates().caData, token: TOKEN },
      name: "web",
      namespace: "shop",
      create_namespace: true,
      take_ownership: true,
      storage_driver: "configmap",
      values_files: ["replicas: 2\ncolor: green\n"],
      values: [
        { name: "image.tag", value: "1.28", type: "string" },
        { name: "password", value: SECRET_VALUE, type: "string" },
      ],
      chart: CHART,
      ...helm,
    },
  };
}

interface Ran {
  outcome: JobOutcome;
  detail: JobDetail;
  lines: string[];
  contents?: { plan: string; op: string; helm_content_diff: unknown[] };
}

async function runHelmJob(
  operation: string,
  p: unknown,
  env: Record<string, string> = { PATH: `${bin}:${process.env.PATH}` },
): Promise<Ran> {
  const job = cp.admin.enqueueJob(runner.id, {
    type: "helm-chart-deploy",
    operation,
    plan: p,
    execution_timeout: msToNs(15 * 60_000),
  });
  const execution = await client.createExecution(job.id);
  const workspace = await createWorkspace({
    root: path.join(dir, "ws"),
    jobId: job.id,
    executionId: execution.id,
  });
  const { log, lines } = recordingLog();
  try {
    const outcome = await runJob({
      job,
      execution,
      handlerFactory: () => createHelmHandler({ processEnv: env, access: { env: {} } }),
      client,
      log,
      runnerState: TEST_RUNNER_STATE,
      killGraceMs: 1000,
      workspaceDir: workspace.dir,
    });
    await client.createResult(job.id, execution.id, outcome.result);
    const detail = cp.admin.getJob(job.id) as JobDetail;
    const compressed = detail.executions.at(-1)?.result?.contents_compressed;
    return {
      outcome,
      detail,
      lines,
      ...(compressed ? { contents: JSON.parse(decompress(compressed).toString("utf8")) } : {}),
    };
  } finally {
    await workspace.cleanup();
  }
}

describe("helm-chart-deploy through the helm CLI", () => {
  it("plans an install, installs, plans and applies an upgrade, then uninstalls", async () => {
    // 1. Plan: no release yet → op install, every rendered object is created.
    const planned = await runHelmJob("create-apply-plan", plan());
    expect(planned.outcome.status).toBe("finished");
    expect(planned.contents?.op).toBe("install");
    expect(planned.contents?.plan).toBe(
      "Plan: 3 to create, 0 to change, 0 to delete, 0 unchanged.\n+ create ConfigMap shop/web-settings\n+ create Deployment shop/web\n+ create Secret shop/web-credentials\n",
    );
    const planCalls = calls();
    expect(planCalls.map((c) => c.argv.slice(0, 2))).toEqual([
      ["version", "--short"],
      ["status", "web"],
      ["upgrade", "web"],
    ]);
    const dry = planCalls[2] as Call;
    expect(dry.argv).toContain("--dry-run=client");
    expect(dry.argv).not.toContain("--wait");

    // 2. Apply the saved plan: upgrade --install with values files, namespace creation, ownership, a wait.
    const saved = planned.detail.executions.at(-1)?.result?.contents_compressed as string;
    const applied = await runHelmJob("apply-plan", plan({}, saved));
    expect(applied.outcome.status).toBe("finished");
    const install = calls().at(-1) as Call;
    expect(install.argv).toEqual([
      "upgrade",
      "web",
      CHART,
      "--install",
      "--namespace",
      "shop",
      "--kubeconfig",
      expect.stringMatching(/\/kubeconfig$/),
      "--values",
      expect.stringMatching(/\/values-0\.yaml$/),
      "--values",
      expect.stringMatching(/\/values-set\.yaml$/),
      "--create-namespace",
      "--take-ownership",
      "--wait",
      "--timeout",
      "890s",
      "--output",
      "json",
    ]);
    expect(install.values).toEqual([
      "replicas: 2\ncolor: green\n",
      `image:\n  tag: "1.28"\npassword: ${SECRET_VALUE}\n`,
    ]);
    expect(install.kubeconfigMode).toBe("600");
    expect(install.kubeconfigHasToken).toBe(true);
    expect(install.env).toMatchObject({
      HELM_DRIVER: "configmap",
      HELM_CACHE_HOME: expect.stringContaining("/helm/cache"),
    });
    expect(applied.detail.executions.at(-1)?.outputs).toEqual({
      release: "web",
      namespace: "shop",
      op: "install",
      revision: 1,
      status: "deployed",
      chart: "web-0.3.0",
      app_version: "1.4.2",
      objects: [
        { apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name: "web-settings" },
        { apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "web" },
        { apiVersion: "v1", kind: "Secret", namespace: "shop", name: "web-credentials" },
      ],
    });

    // 3. A changed value plans as an upgrade that changes the objects it renders differently.
    const changedValues = plan({
      values_files: ["replicas: 3\ncolor: green\n"],
      values: [
        { name: "image.tag", value: "1.28", type: "string" },
        { name: "password", value: "rotated-password-77", type: "string" },
      ],
    });
    const upgradePlan = await runHelmJob("create-apply-plan", changedValues);
    expect(upgradePlan.contents?.op).toBe("upgrade");
    expect(upgradePlan.contents?.plan).toBe(
      [
        "Plan: 0 to create, 2 to change, 0 to delete, 1 unchanged.",
        "  unchanged ConfigMap shop/web-settings",
        "~ change Deployment shop/web",
        "    spec.replicas: 2 -> 3",
        "~ change Secret shop/web-credentials",
        '    stringData.password: "(sensitive value)" -> "(sensitive value)"',
        "",
      ].join("\n"),
    );
    const upgraded = await runHelmJob("apply-plan", changedValues, undefined);
    expect(upgraded.detail.executions.at(-1)?.outputs).toMatchObject({ revision: 2, status: "deployed" });

    // 4. Teardown plan lists what goes; the saved plan uninstalls with a wait.
    const teardown = await runHelmJob("create-teardown-plan", plan());
    expect(teardown.contents?.op).toBe("uninstall");
    expect(teardown.contents?.plan).toContain("Plan: 0 to create, 0 to change, 3 to delete, 0 unchanged.");
    const removed = await runHelmJob(
      "apply-plan",
      plan({}, teardown.detail.executions.at(-1)?.result?.contents_compressed as string),
    );
    expect(removed.outcome.status).toBe("finished");
    expect((calls().at(-1) as Call).argv.slice(0, 2)).toEqual(["uninstall", "web"]);
    expect((calls().at(-1) as Call).argv).toEqual(expect.arrayContaining(["--wait", "--timeout", "890s"]));
    expect(removed.detail.executions.at(-1)?.outputs).toMatchObject({
      release: "web",
      status: "uninstalled",
      objects: [],
    });

    // Secrets never reach argv, the job log, or the stored plans.
    const runs = [planned, applied, upgradePlan, upgraded, teardown, removed];
    const everything = JSON.stringify([
      calls().map((c) => c.argv),
      runs.map((r) => [r.lines, r.contents, r.detail.executions.map((e) => [e.result, e.outputs])]),
    ]);
    expect(everything).not.toContain(SECRET_VALUE);
    expect(everything).not.toContain("rotated-password-77");
    expect(everything).not.toContain(TOKEN);
  });

  it("fails saying so when there is no helm on PATH", async () => {
    const ran = await runHelmJob("apply-plan", plan(), { PATH: path.join(dir, "empty") });
    expect(ran.outcome).toMatchObject({
      status: "failed",
      step: "initialize",
      message: expect.stringContaining("helm is not installed on this runner"),
    });
  });

  it("fails naming the release and helm's error when the upgrade fails", async () => {
    writeFileSync(path.join(state, "fail-upgrade"), "");
    const ran = await runHelmJob("apply-plan", plan());
    expect(ran.outcome).toMatchObject({
      status: "failed",
      step: "execute",
      message:
        "helm upgrade --install failed for release shop/web: Error: INSTALLATION FAILED: context deadline exceeded",
    });
  });

  it("refuses a plan without a chart it can use, and a malformed value, before running helm", async () => {
    const noChart = await runHelmJob("apply-plan", {
      ...plan({ chart: undefined }),
      src_registry: { Plugin: "oci" },
    });
    expect(noChart.outcome).toMatchObject({
      status: "failed",
      step: "validate",
      message: expect.stringContaining("cannot fetch the chart artifact from src_registry"),
    });
    const badValue = await runHelmJob("apply-plan", plan({ values: [{ name: "a..b", value: "1" }] }));
    expect(badValue.outcome).toMatchObject({
      status: "failed",
      step: "validate",
      message: expect.stringContaining('"a..b" is malformed'),
    });
    expect(() => calls()).toThrow(); // helm never ran
  });

  it("uninstalling a release that does not exist succeeds without calling uninstall", async () => {
    const ran = await runHelmJob(
      "apply-plan",
      plan({}, compress(JSON.stringify({ op: "uninstall", plan: "" }))),
    );
    expect(ran.outcome.status).toBe("finished");
    expect(calls().map((c) => c.argv[0])).toEqual(["version", "status"]);
  });
});
