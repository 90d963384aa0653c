/**
 * bundle/helm without helm (none is installable here): Chart.yaml and values.yaml pass yamllint, values.yaml
 * satisfies values.schema.json (ajv), and the templates, rendered by a Go-template subset engine
 * (support/go-template.ts), give objects that kubernetes-models validates and that carry the drain, probe,
 * security and RBAC settings. What this cannot prove (helm's own rendering, an API server accepting the
 * objects) is listed in docs/deployment.md.
 */
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { Ajv } from "ajv";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { parseDurationMs } from "../../src/config/duration.ts";
import { TemplateSet } from "./support/go-template.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CHART = path.join(ROOT, "bundle/helm");

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field below
type K8sObject = Record<string, any>;
type Values = Record<string, unknown>;

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  ConfigMap,
  Secret,
  ServiceAccount,
  Deployment,
  HorizontalPodAutoscaler,
  PodDisruptionBudget,
  ClusterRole,
  ClusterRoleBinding,
  Role,
  RoleBinding,
};

let chart: Values;
let defaults: Values;
let schema: object;
const templates = new TemplateSet();
let templateFiles: string[];
let templateText = "";

beforeAll(async () => {
  chart = YAML.parse(await readFile(path.join(CHART, "Chart.yaml"), "utf8"));
  defaults = YAML.parse(await readFile(path.join(CHART, "values.yaml"), "utf8"));
  schema = JSON.parse(await readFile(path.join(CHART, "values.schema.json"), "utf8"));
  const files = (await readdir(path.join(CHART, "templates"))).sort();
  for (const file of files) {
    const source = await readFile(path.join(CHART, "templates", file), "utf8");
    templates.add(file, source);
    templateText += source;
  }
  templateFiles = files.filter((f) => f.endsWith(".yaml"));
});

/** Helm's merge: maps merge deeply, anything else (lists included) replaces. */
function merge(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prior = out[key];
    out[key] =
      value !== null &&
      typeof value === "object" &&
      !Array.isArray(value) &&
      prior !== null &&
      typeof prior === "object" &&
      !Array.isArray(prior)
        ? merge(prior as Values, value as Values)
        : value;
  }
  return out;
}

const REQUIRED = { runner: { id: "runner_01abc" }, token: { value: "tok_secret" } };

/** Renders every template as `helm template rel --namespace ns` would, returning the objects. */
function render(overrides: Values = REQUIRED): K8sObject[] {
  const root = {
    Values: merge(defaults, overrides),
    Release: { Name: "rel", Namespace: "ns", Service: "Helm" },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  return templateFiles.flatMap((file) =>
    YAML.parseAllDocuments(templates.render(file, root))
      .map((doc) => doc.toJS() as K8sObject | null)
      .filter((obj): obj is K8sObject => obj !== null),
  );
}

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const one = (objects: K8sObject[], kind: string) => {
  const found = byKind(objects, kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};

/** Validates each object with its kubernetes-models class (an unknown kind fails). */
function validateAll(objects: K8sObject[]): void {
  for (const obj of objects) {
    const Model = MODELS[obj.kind];
    expect(Model, `a model for ${obj.kind}`).toBeDefined();
    new Model!(obj as never).validate();
  }
}

describe("Chart.yaml and values.yaml", () => {
  it("pass yamllint", async () => {
    const { stdout } = await promisify(execFile)(
      "yamllint",
      ["-c", ".yamllint.yml", "-f", "parsable", "bundle/helm/Chart.yaml", "bundle/helm/values.yaml"],
      { cwd: ROOT },
    );
    expect(stdout).toBe("");
  });

  it("describe the runner at the package's version", async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8"));
    expect(chart).toMatchObject({
      apiVersion: "v2",
      name: "runner",
      type: "application",
      appVersion: pkg.version,
    });
  });

  it("values.yaml satisfies values.schema.json, which refuses bad values", () => {
    const validate = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(schema);
    expect(validate(defaults), JSON.stringify(validate.errors)).toBe(true);
    const bad: Array<[Values, string]> = [
      [{ mode: "mng" }, "/mode"],
      [{ runner: { drainTimeoutSeconds: "10m" } }, "/runner/drainTimeoutSeconds"],
      [{ runner: { apiUrl: "api.nuon.co" } }, "/runner/apiUrl"],
      [{ runner: { extraEnv: { RUNNER_API_TOKEN: "x" } } }, "/runner/extraEnv"],
      [{ replicaCount: -1 }, "/replicaCount"],
      [{ resources: { limits: { memory: "lots" } } }, "/resources/limits/memory"],
      [{ replicas: 2 }, ""],
    ];
    for (const [override, where] of bad) {
      expect(validate(merge(defaults, override)), JSON.stringify(override)).toBe(false);
      expect(validate.errors?.map((e) => e.instancePath)).toContain(where);
    }
  });

  it("every value is used by a template", () => {
    const leaves = (value: unknown, prefix: string): string[] =>
      value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0
        ? Object.entries(value).flatMap(([k, v]) => leaves(v, `${prefix}.${k}`))
        : [prefix];
    const referenced = [...templateText.matchAll(/\.Values((?:\.\w+)+)/g)].map((m) => m[1]!);
    for (const leaf of leaves(defaults, "")) {
      expect(
        referenced.some((ref) => leaf === ref || leaf.startsWith(`${ref}.`)),
        `${leaf} is referenced`,
      ).toBe(true);
    }
  });
});

describe("the rendered chart, default values", () => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = render();
  });

  it("is a ConfigMap, Secret, ServiceAccount, Role, RoleBinding, PodDisruptionBudget and Deployment, all valid", () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(
      [
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "Role",
        "RoleBinding",
        "Secret",
        "ServiceAccount",
      ].sort(),
    );
    validateAll(objects);
    for (const obj of objects) {
      expect(obj.metadata.name).toBe("rel-runner");
      expect(obj.metadata.labels["app.kubernetes.io/instance"]).toBe("rel");
    }
  });

  it("gives the pod drainTimeoutSeconds + 30 s to stop, and the runner the same drain timeout", () => {
    const pod = one(objects, "Deployment").spec.template.spec;
    expect(pod.terminationGracePeriodSeconds).toBe(630);
    const env = one(objects, "ConfigMap").data;
    expect(parseDurationMs(env.RUNNER_DRAIN_TIMEOUT)).toBe(600_000);
    const other = render(merge(REQUIRED, { runner: { drainTimeoutSeconds: 45 } }));
    expect(one(other, "Deployment").spec.template.spec.terminationGracePeriodSeconds).toBe(75);
    expect(one(other, "ConfigMap").data.RUNNER_DRAIN_TIMEOUT).toBe("45s");
  });

  it("runs `runner install` as uid 10001, read-only root, no capabilities, state and /tmp on emptyDirs", () => {
    const pod = one(objects, "Deployment").spec.template.spec;
    const [container] = pod.containers;
    expect(container.args).toEqual(["install"]);
    expect(container.command).toBeUndefined(); // keeps the image's tini entrypoint
    expect(container.image).toBe(`runner:${chart.appVersion}`);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001 });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(container.volumeMounts).toEqual([
      { name: "state", mountPath: "/var/lib/runner" },
      { name: "tmp", mountPath: "/tmp" },
    ]);
    expect(pod.volumes).toEqual([
      { name: "state", emptyDir: { sizeLimit: "1Gi" } },
      { name: "tmp", emptyDir: { sizeLimit: "10Gi" } },
    ]);
    expect(container.resources).toEqual({
      requests: { cpu: "500m", memory: "1Gi" },
      limits: { cpu: "1750m", memory: "3Gi" },
    });
    expect(pod.serviceAccountName).toBe("rel-runner");
  });

  it("probes /healthz (startup, liveness) and /readyz (readiness) on the admin port, listening on 0.0.0.0", () => {
    const [container] = one(objects, "Deployment").spec.template.spec.containers;
    expect(container.ports).toEqual([{ name: "admin", containerPort: 5000, protocol: "TCP" }]);
    expect(container.startupProbe.httpGet).toEqual({ path: "/healthz", port: "admin" });
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "admin" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "admin" });
    const env = one(objects, "ConfigMap").data;
    expect(env).toMatchObject({ RUNNER_ADMIN_HOST: "0.0.0.0", RUNNER_ADMIN_PORT: "5000" });
  });

  it("passes settings through the ConfigMap and the token only through the Secret", () => {
    expect(one(objects, "ConfigMap").data).toEqual({
      RUNNER_API_URL: "https://api.nuon.co",
      RUNNER_ID: "runner_01abc",
      LOG_LEVEL: "INFO",
      RUNNER_LOG_FORMAT: "json",
      RUNNER_DRAIN_TIMEOUT: "600s",
      RUNNER_CONCURRENCY: "1",
      RUNNER_ADMIN_HOST: "0.0.0.0",
      RUNNER_ADMIN_PORT: "5000",
      RUNNER_STATE_DIR: "/var/lib/runner",
      RUNNER_WORKSPACE_DIR: "/tmp/runner-workspaces",
    });
    expect(one(objects, "Secret").stringData).toEqual({ RUNNER_API_TOKEN: "tok_secret" });
    const [container] = one(objects, "Deployment").spec.template.spec.containers;
    expect(container.envFrom).toEqual([{ configMapRef: { name: "rel-runner" } }]);
    expect(container.env[0]).toEqual({
      name: "RUNNER_API_TOKEN",
      valueFrom: { secretKeyRef: { name: "rel-runner", key: "RUNNER_API_TOKEN" } },
    });
  });

  it("grants a namespace-scoped Role (no cluster access) bound to the service account", () => {
    const role = one(objects, "Role");
    expect(role.metadata.namespace).toBe("ns");
    expect(role.rules).toEqual(defaults.rbac && (defaults.rbac as Values).rules);
    expect(JSON.stringify(role.rules)).not.toContain('"*"');
    expect(one(objects, "RoleBinding")).toMatchObject({
      roleRef: { kind: "Role", name: "rel-runner" },
      subjects: [{ kind: "ServiceAccount", name: "rel-runner", namespace: "ns" }],
    });
    expect(one(objects, "PodDisruptionBudget").spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: { "app.kubernetes.io/name": "runner", "app.kubernetes.io/instance": "rel" } },
    });
  });
});

describe("the rendered chart, other values", () => {
  it("refuses to render without a runner id or a token", () => {
    expect(() => render({ token: { value: "t" } })).toThrow(/runner\.id is required/);
    expect(() => render({ runner: { id: "r" } })).toThrow(
      /token\.value or token\.existingSecret is required/,
    );
  });

  it("binds a ClusterRole only when rbac.clusterWide is true", () => {
    const objects = render(merge(REQUIRED, { rbac: { clusterWide: true } }));
    validateAll(objects);
    expect(byKind(objects, "Role")).toEqual([]);
    expect(one(objects, "ClusterRole").rules).toEqual([{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }]);
    expect(one(objects, "ClusterRoleBinding").subjects).toEqual([
      { kind: "ServiceAccount", name: "rel-runner", namespace: "ns" },
    ]);
  });

  it("makes a Role and RoleBinding in each namespace of rbac.namespaces", () => {
    const objects = render(merge(REQUIRED, { rbac: { namespaces: ["apps", "jobs"] } }));
    validateAll(objects);
    expect(byKind(objects, "Role").map((r) => r.metadata.namespace)).toEqual(["apps", "jobs"]);
    expect(
      byKind(objects, "RoleBinding").map((r) => [r.metadata.namespace, r.subjects[0].namespace]),
    ).toEqual([
      ["apps", "ns"],
      ["jobs", "ns"],
    ]);
  });

  it("uses an existing Secret, IRSA annotations, pod labels and an HPA when asked", () => {
    const objects = render({
      runner: { id: "r1", extraEnv: { RUNNER_JOB_ORDER: "newest" } },
      token: { existingSecret: "runner-token", existingSecretKey: "token" },
      serviceAccount: {
        annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/runner" },
      },
      podLabels: { "azure.workload.identity/use": "true" },
      autoscaling: { enabled: true },
      mode: "build",
      image: { repository: "registry.example/runner", tag: "1.2.3" },
    });
    validateAll(objects);
    expect(byKind(objects, "Secret")).toEqual([]);
    const deployment = one(objects, "Deployment");
    const [container] = deployment.spec.template.spec.containers;
    expect(container.env[0].valueFrom.secretKeyRef).toEqual({ name: "runner-token", key: "token" });
    expect(container.args).toEqual(["build"]);
    expect(container.image).toBe("registry.example/runner:1.2.3");
    expect(deployment.spec.replicas).toBeUndefined(); // the HPA owns it
    expect(deployment.spec.template.metadata.labels["azure.workload.identity/use"]).toBe("true");
    expect(one(objects, "ServiceAccount").metadata.annotations).toEqual({
      "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/runner",
    });
    expect(one(objects, "HorizontalPodAutoscaler").spec).toMatchObject({ minReplicas: 1, maxReplicas: 3 });
    expect(one(objects, "ConfigMap").data.RUNNER_JOB_ORDER).toBe("newest");
  });
});

describe("the Go-template subset engine", () => {
  it("follows Go's trim markers, range order over maps, with/else and include", () => {
    const set = new TemplateSet();
    set.add("_h.tpl", '{{- define "greet" -}}hi {{ . }}{{- end }}');
    set.add(
      "t",
      'a\n  {{- range $k, $v := .m }}\n{{ $k }}={{ $v }}\n{{- end }}\n{{ with .none }}x{{ else }}y{{ end }} {{ include "greet" .n | quote }}',
    );
    expect(set.render("t", { m: { b: 2, a: 1 }, n: "bob" })).toBe('a\na=1\nb=2\ny "hi bob"');
  });

  it("refuses what it does not implement instead of guessing", () => {
    const set = new TemplateSet();
    set.add("t", '{{ lookup "v1" "Secret" "ns" "x" }}');
    expect(() => set.render("t", {})).toThrow(/function "lookup" not supported/);
  });
});
