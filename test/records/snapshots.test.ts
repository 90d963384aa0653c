import { describe, expect, it } from "vitest";
import { createRedactor } from "../../src/logs/redact.ts";
import { canonicalJson, hashOf, takeSnapshot, terraformResources } from "../../src/records/snapshots.ts";

const state = (resources: unknown[]) => JSON.stringify({ version: 4, resources });

describe("terraformResources", () => {
  it("names instances by address (module, data source, index key) and sorts them", () => {
    const text = state([
      { mode: "managed", type: "terraform_data", name: "b", instances: [{ attributes: { id: "1" } }] },
      {
        module: "module.net",
        mode: "managed",
        type: "terraform_data",
        name: "a",
        instances: [
          { index_key: 0, attributes: {} },
          { index_key: 1, attributes: {} },
        ],
      },
      {
        mode: "data",
        type: "terraform_remote_state",
        name: "x",
        instances: [{ index_key: "k", attributes: {} }],
      },
    ]);
    expect(terraformResources(text).map((r) => r.address)).toEqual([
      'data.terraform_remote_state.x["k"]',
      "module.net.terraform_data.a[0]",
      "module.net.terraform_data.a[1]",
      "terraform_data.b",
    ]);
  });

  it("knows the attributes marked sensitive and ignores what is not a state", () => {
    const [r] = terraformResources(
      state([
        {
          mode: "managed",
          type: "t",
          name: "n",
          instances: [
            {
              attributes: { password: "p", user: "u" },
              sensitive_attributes: [[{ type: "get_attr", value: "password" }]],
            },
          ],
        },
      ]),
    );
    expect(r?.sensitive).toEqual(["password"]);
    expect(terraformResources("not json")).toEqual([]);
    expect(terraformResources("{}")).toEqual([]);
  });
});

describe("takeSnapshot", () => {
  it("keeps the status, each output and each resource with a stable hash", () => {
    const input = {
      job: "infra",
      type: "terraform-deploy",
      status: "finished",
      outputs: { greeting: "hello", config: { b: 1, a: 2 } },
      terraformState: state([
        {
          mode: "managed",
          type: "terraform_data",
          name: "env",
          instances: [{ attributes: { id: "x", input: "dev" } }],
        },
      ]),
    };
    const snap = takeSnapshot(input);
    expect(snap.items.map((i) => [i.key, i.kind])).toEqual([
      ["status", "status"],
      ["output.config", "output"],
      ["output.greeting", "output"],
      ["resource.terraform_data.env", "resource"],
    ]);
    expect(snap.items[1]).toMatchObject({ summary: '{"a":2,"b":1}', hash: hashOf('{"a":2,"b":1}') });
    expect(snap.items[3]?.detail).toBe('id = "x"\ninput = "dev"');
    // Key order does not change a hash.
    const again = takeSnapshot({ ...input, outputs: { config: { a: 2, b: 1 }, greeting: "hello" } });
    expect(again.items.map((i) => i.hash)).toEqual(snap.items.map((i) => i.hash));
  });

  it("never shows a sensitive attribute's value or a registered secret", () => {
    const redactor = createRedactor();
    redactor.add("hunter2-secret");
    const snap = takeSnapshot({
      job: "db",
      type: "terraform-deploy",
      status: "finished",
      outputs: { dsn: "postgres://u:hunter2-secret@h/db" },
      terraformState: state([
        {
          mode: "managed",
          type: "t",
          name: "n",
          instances: [
            {
              attributes: { pw: "p4ssw0rd-value" },
              sensitive_attributes: [[{ type: "get_attr", value: "pw" }]],
            },
          ],
        },
      ]),
      redactor,
    });
    const text = JSON.stringify(snap);
    expect(text).not.toContain("hunter2-secret");
    expect(text).not.toContain("p4ssw0rd-value");
    expect(snap.items.find((i) => i.key === "resource.t.n")?.detail).toMatch(
      /^pw = \(sensitive, [0-9a-f]{16}\)$/,
    );
  });

  it("leaves out a workflow's per-step copy of its outputs", () => {
    const snap = takeSnapshot({
      job: "w",
      type: "actions-workflow",
      status: "finished",
      outputs: { a: 1, steps: { s: { a: 1 } } },
    });
    expect(snap.items.map((i) => i.key)).toEqual(["status", "output.a"]);
  });

  it("keeps applied Kubernetes objects and a helm manifest as items of their own", () => {
    const k8s = takeSnapshot({
      job: "k",
      type: "kubernetes-manifest-deploy",
      status: "finished",
      outputs: {
        namespace: "default",
        objects: [
          { apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "cfg", action: "created" },
        ],
        diff: ["+data"],
      },
    });
    expect(k8s.items.map((i) => i.key)).toEqual(["status", "output.namespace", "k8s.ConfigMap/default/cfg"]);
    const helm = takeSnapshot({
      job: "h",
      type: "helm-chart-deploy",
      status: "finished",
      outputs: { release: { manifest: "kind: Service" } },
    });
    expect(helm.items.find((i) => i.key === "helm.manifest")).toMatchObject({
      kind: "helm-manifest",
      detail: "kind: Service",
    });
  });

  it("writes canonical JSON with sorted keys at every depth", () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[{"c":2,"d":1}]}');
    expect(canonicalJson(undefined)).toBe("null");
  });
});
