/**
 * helm-chart-deploy with the chart as an OCI artifact (`src_registry` + `src_tag`, no `helm.chart`): pushed by
 * the real helm-chart-build handler to a REAL registry on loopback, fetched with its digests verified, and
 * handed to `helm` — test/fixtures/helm/fake-helm.mjs on PATH, as in handler.test.ts (no helm binary exists
 * here) — whose argv and rendering show which chart it got.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHelmChartBuildHandler } from "../../../src/jobs/build/helm-chart/handler.ts";
import { locateChart } from "../../../src/jobs/helm/chart-source.ts";
import { createHelmHandler } from "../../../src/jobs/helm/handler.ts";
import { createRedactor } from "../../../src/logs/redact.ts";
import { type JobHarness, startJobHarness } from "../../support/job-harness.ts";
import {
  startRegistry,
  TEST_REGISTRY_PASSWORD,
  TEST_REGISTRY_USER,
  type TestRegistry,
} from "../../support/registry.ts";
import { testCertificates } from "../../support/tls.ts";

const FAKE_HELM = path.resolve(import.meta.dirname, "../../fixtures/helm/fake-helm.mjs");

let harness: JobHarness;
let registry: TestRegistry;
let root: string;
let bin: string;
let state: string;

beforeAll(async () => {
  harness = await startJobHarness();
  registry = await startRegistry({ auth: "htpasswd" });
  root = await mkdtemp(path.join(tmpdir(), "helm-oci-test-"));
  bin = path.join(root, "bin");
  state = path.join(root, "state");
  await mkdir(bin);
  await mkdir(state);
  await writeFile(
    path.join(bin, "helm"),
    `#!/bin/sh\nFAKE_HELM_STATE='${state}' exec node '${FAKE_HELM}' "$@"\n`,
    { mode: 0o755 },
  );
  const chart = path.join(root, "src-chart");
  await mkdir(path.join(chart, "templates"), { recursive: true });
  await writeFile(
    path.join(chart, "Chart.yaml"),
    'apiVersion: v2\nname: web\nversion: 0.3.0\nappVersion: "1.4"\n',
  );
  await writeFile(path.join(chart, "values.yaml"), "color: blue\n");
  await writeFile(
    path.join(chart, "templates/configmap.yaml"),
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\ndata:\n  color: {{ .Values.color }}\n",
  );
  const built = await harness.run({
    type: "helm-chart-build",
    plan: { dst_registry: registryConfig("charts/web"), dst_tag: "0.3.0" },
    workspaceRoot: root,
    factory: () => createHelmChartBuildHandler({ localDir: chart }),
  });
  if (built.outcome.status !== "finished") throw new Error(`chart build failed: ${built.outcome.message}`);
});

afterAll(async () => {
  await harness?.close();
  await registry?.stop();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

function registryConfig(repository: string) {
  return {
    RegistryType: "private_oci",
    LoginServer: `http://${registry.host}`,
    Repository: repository,
    OCIAuth: { Username: TEST_REGISTRY_USER, Password: TEST_REGISTRY_PASSWORD },
  };
}

function plan(extra: Record<string, unknown> = {}) {
  return {
    install_id: "inst-1",
    src_registry: registryConfig("charts/web"),
    src_tag: "0.3.0",
    helm: {
      cluster_info: {
        endpoint: "https://127.0.0.1:6443",
        ca_data: testCertificates().caData,
        token: "tok-5e1f",
      },
      name: "web",
      namespace: "shop",
      values: [{ name: "color", value: "green" }],
    },
    ...extra,
  };
}

async function deploy(p: unknown) {
  await rm(path.join(state, "calls.jsonl"), { force: true });
  return harness.run({
    type: "helm-chart-deploy",
    operation: "apply-plan",
    plan: p,
    workspaceRoot: root,
    factory: () =>
      createHelmHandler({
        processEnv: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
        access: { env: {} },
        redactor: createRedactor(),
      }),
  });
}

async function helmCalls(): Promise<Array<{ argv: string[] }>> {
  const text = await readFile(path.join(state, "calls.jsonl"), "utf8").catch(() => "");
  return text
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as { argv: string[] });
}

describe("helm-chart-deploy from an OCI chart artifact", () => {
  it("fetches the chart helm-chart-build pushed and installs it, recording the artifact's digest", async () => {
    const ran = await deploy(plan());
    expect(ran.outcome.message).toBeUndefined();
    expect(ran.outcome.status).toBe("finished");
    const upgrade = (await helmCalls()).find((call) => call.argv[0] === "upgrade");
    expect(upgrade?.argv.slice(0, 4)).toEqual([
      "upgrade",
      "web",
      expect.stringMatching(/\/chart\/web$/),
      "--install",
    ]);
    const artifact = ran.outputs?.chart_artifact as { ref: string; digest: string };
    expect(artifact.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(artifact.ref).toBe(`${registry.host}/charts/web@${artifact.digest}`);
    expect(ran.outputs).toMatchObject({ release: "web", chart: "web-0.3.0", status: "deployed" });
    expect(ran.entries.find((e) => e.msg === "fetched the helm chart")?.fields).toMatchObject({
      ref: `${registry.host}/charts/web:0.3.0`,
      digest: artifact.digest,
    });
    expect(ran.text()).not.toContain(TEST_REGISTRY_PASSWORD);
  });

  it("fails at initialize naming the reference when the tag does not exist, before helm installs anything", async () => {
    const ran = await deploy(plan({ src_tag: "9.9.9" }));
    expect(ran.outcome).toMatchObject({ status: "failed", step: "initialize" });
    expect(ran.outcome.message).toMatch(
      new RegExp(`^cannot fetch the helm chart from ${registry.host}/charts/web:9\\.9\\.9: .*not found`),
    );
    expect((await helmCalls()).some((call) => call.argv[0] === "upgrade")).toBe(false);
  });

  it("refuses at validate a registry artifact without a tag, and a plan with no chart at all", async () => {
    const noTag = await deploy(plan({ src_tag: "" }));
    expect(noTag.outcome).toMatchObject({ status: "failed", step: "validate" });
    expect(noTag.outcome.message).toContain(
      `cannot fetch the chart artifact from src_registry: src_registry names ${registry.host}/charts/web but the plan gives no tag or digest`,
    );
    const noChart = await deploy(plan({ src_registry: null }));
    expect(noChart.outcome).toMatchObject({ status: "failed", step: "validate" });
    expect(noChart.outcome.message).toMatch(/^the plan names no chart: set src_registry and src_tag/);
  });
});

describe("locateChart", () => {
  it.each([
    ["helm's OCI layout: the one directory with a Chart.yaml", ["web/Chart.yaml", "web/values.yaml"], "web"],
    ["the chart's files at the top (Nuon's runner archive)", ["Chart.yaml", "templates/a.yaml"], "."],
    ["a single packaged chart", ["web-0.3.0.tgz"], "web-0.3.0.tgz"],
    ["two charts: ambiguous", ["a/Chart.yaml", "b/Chart.yaml"], undefined],
    ["no chart", ["README.md", "templates/a.yaml"], undefined],
  ])("%s", async (_name, files, expected) => {
    const dir = await mkdtemp(path.join(root, "locate-"));
    for (const file of files) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), "x");
    }
    const found = await locateChart(dir);
    expect(found).toBe(expected === undefined ? undefined : path.join(dir, expected));
  });
});
