import { describe, expect, it } from "vitest";
import { getManifestArgs, statusArgs, uninstallArgs, upgradeArgs } from "../../../src/jobs/helm/args.ts";
import {
  helmOutputs,
  isReleaseNotFound,
  manifestDiff,
  manifestObjects,
  parseRelease,
} from "../../../src/jobs/helm/outputs.ts";
import { parseHelmPlan } from "../../../src/jobs/helm/plan.ts";
import { parseSetPath, setValuesDocument, typedValue } from "../../../src/jobs/helm/values.ts";
import { ENTRY } from "../../../src/kube/diff.ts";

const t = { release: "web", namespace: "shop", kubeconfig: "/ws/kubeconfig" };

describe("helm argv", () => {
  it("reads the release", () => {
    expect(statusArgs(t)).toEqual([
      "status",
      "web",
      "--namespace",
      "shop",
      "--kubeconfig",
      "/ws/kubeconfig",
      "--output",
      "json",
    ]);
    expect(getManifestArgs(t)).toEqual([
      "get",
      "manifest",
      "web",
      "--namespace",
      "shop",
      "--kubeconfig",
      "/ws/kubeconfig",
    ]);
  });

  it("installs or upgrades with values files in order, namespace creation, ownership and a wait", () => {
    expect(
      upgradeArgs({
        ...t,
        chart: "oci://registry.example.com/charts/web",
        version: "0.3.0",
        valuesFiles: ["/ws/values-0.yaml", "/ws/values-set.yaml"],
        createNamespace: true,
        takeOwnership: true,
        timeoutSeconds: 890,
        dryRun: false,
      }),
    ).toEqual([
      "upgrade",
      "web",
      "oci://registry.example.com/charts/web",
      "--install",
      "--namespace",
      "shop",
      "--kubeconfig",
      "/ws/kubeconfig",
      "--version",
      "0.3.0",
      "--values",
      "/ws/values-0.yaml",
      "--values",
      "/ws/values-set.yaml",
      "--create-namespace",
      "--take-ownership",
      "--wait",
      "--timeout",
      "890s",
      "--output",
      "json",
    ]);
  });

  it("renders a dry run without waiting, and uninstalls with a wait", () => {
    const dry = upgradeArgs({
      ...t,
      chart: "./chart",
      repo: "https://charts.example.com",
      valuesFiles: [],
      createNamespace: false,
      takeOwnership: false,
      timeoutSeconds: 60,
      dryRun: true,
    });
    expect(dry).toEqual([
      "upgrade",
      "web",
      "./chart",
      "--install",
      "--namespace",
      "shop",
      "--kubeconfig",
      "/ws/kubeconfig",
      "--repo",
      "https://charts.example.com",
      "--dry-run=client",
      "--output",
      "json",
    ]);
    expect(uninstallArgs(t, 120)).toEqual([
      "uninstall",
      "web",
      "--namespace",
      "shop",
      "--kubeconfig",
      "/ws/kubeconfig",
      "--wait",
      "--timeout",
      "120s",
    ]);
  });
});

describe("--set values as a values document", () => {
  it.each([
    ["a", ["a"]],
    ["a.b.c", ["a", "b", "c"]],
    ["a\\.b.c", ["a.b", "c"]],
    ["list[2].name", ["list", 2, "name"]],
    ["m[0][1]", ["m", 0, 1]],
    ["annotations.kubernetes\\.io/ingress\\.class", ["annotations", "kubernetes.io/ingress.class"]],
  ])("parses %s", (name, path) => {
    expect(parseSetPath(name)).toEqual(path);
  });

  it.each(["", "a..b", "a[x]", "[0]", "a[1"])("rejects the malformed name %j", (name) => {
    expect(() => parseSetPath(name)).toThrow(/is malformed/);
  });

  it("types values like --set, or keeps text like --set-string", () => {
    expect([
      typedValue("true", ""),
      typedValue("false", "auto"),
      typedValue("null", ""),
      typedValue("42", ""),
      typedValue("-7", ""),
    ]).toEqual([true, false, null, 42, -7]);
    expect([
      typedValue("0123", ""),
      typedValue("1.5", ""),
      typedValue("a,b", ""),
      typedValue("true", "string"),
      typedValue("42", "string"),
    ]).toEqual(["0123", "1.5", "a,b", "true", "42"]);
  });

  it("builds one document, later values winning, lists padded", () => {
    expect(
      setValuesDocument([
        { name: "image.tag", value: "2.0" },
        { name: "replicas", value: "3" },
        { name: "env[1].name", value: "B", type: "string" },
        { name: "image.tag", value: "2.1", type: "string" },
      ]),
    ).toEqual({ image: { tag: "2.1" }, replicas: 3, env: [null, { name: "B" }] });
    expect(() => setValuesDocument([{ name: "a", value: "1", type: "int" }])).toThrow(
      'helm.values[0] (a) has type "int"; expected "auto" or "string"',
    );
  });
});

describe("helm output", () => {
  const manifest = (color: string) =>
    `---\n# Source: web/templates/configmap.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-settings\ndata:\n  color: "${color}"\n` +
    "---\n# Source: web/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: other\nspec:\n  replicas: 1\n";

  it("parses the release JSON and the rendered objects' identities", () => {
    const rel = parseRelease(
      JSON.stringify({
        name: "web",
        namespace: "shop",
        version: 3,
        info: { status: "deployed" },
        chart: { metadata: { name: "web", version: "0.3.0", appVersion: "1.4.2" } },
        manifest: manifest("blue"),
      }),
    );
    expect(rel).toMatchObject({
      name: "web",
      namespace: "shop",
      revision: 3,
      status: "deployed",
      chart: "web-0.3.0",
      appVersion: "1.4.2",
    });
    expect(helmOutputs(rel, t, "upgrade")).toEqual({
      release: "web",
      namespace: "shop",
      op: "upgrade",
      revision: 3,
      status: "deployed",
      chart: "web-0.3.0",
      app_version: "1.4.2",
      objects: [
        { apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name: "web-settings" },
        { apiVersion: "apps/v1", kind: "Deployment", namespace: "other", name: "web" },
      ],
    });
    expect(() => parseRelease("Error: oops")).toThrow(/did not print a release as JSON/);
    expect(isReleaseNotFound("Error: release: not found")).toBe(true);
    expect(isReleaseNotFound("Error: Kubernetes cluster unreachable")).toBe(false);
  });

  it("diffs two manifests object by object", () => {
    const before = manifestObjects(manifest("blue"), "shop");
    const after = manifestObjects(manifest("green"), "shop").slice(0, 1);
    const diffs = manifestDiff(before, after, true);
    expect(diffs.map((d) => [d.kind, d.type])).toEqual([
      ["ConfigMap", ENTRY.modified],
      ["Deployment", ENTRY.removed],
    ]);
    expect(diffs[0]?.entries).toEqual([
      { path: "data.color", original: "blue", applied: "green", type: ENTRY.modified },
    ]);
    expect(manifestDiff([], before, true).map((d) => d.type)).toEqual([ENTRY.added, ENTRY.added]);
  });
});

describe("the helm plan", () => {
  it("reads Nuon's fields and names a missing release name", () => {
    const plan = parseHelmPlan({
      src_tag: "v1",
      helm: {
        name: "web",
        namespace: "shop",
        create_namespace: true,
        take_ownership: true,
        values_files: ["a: 1"],
        values: [{ name: "b", value: "2", type: "string" }],
        storage_driver: "configmap",
        chart: "./chart",
      },
    });
    expect(plan).toMatchObject({
      release: "web",
      namespace: "shop",
      createNamespace: true,
      takeOwnership: true,
      valuesFiles: ["a: 1"],
      storageDriver: "configmap",
      chart: "./chart",
    });
    expect(() => parseHelmPlan({ helm: {} })).toThrow(/name/);
  });
});
