import { describe, expect, it } from "vitest";
import { applyOrder, deleteOrder, ManifestError, parseManifest } from "../../src/kube/manifests.ts";

describe("parseManifest", () => {
  it("reads every document, skipping empty ones, and flattens List kinds", () => {
    const objects = parseManifest(`
# leading comment
---
apiVersion: v1
kind: ConfigMap
metadata: { name: a }
---
---
apiVersion: v1
kind: List
items:
  - { apiVersion: v1, kind: Secret, metadata: { name: b } }
  - { apiVersion: v1, kind: Service, metadata: { name: c, namespace: x } }
---
`);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "ConfigMap/a",
      "Secret/b",
      "Service/c",
    ]);
  });

  it.each([
    [
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n   bad: indent\n",
      /manifest document 1 is not valid YAML \(line \d+\)/,
    ],
    [
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: Secret\nmetadata: {name: b}\n",
      /manifest document 2 \(Secret\) has no apiVersion/,
    ],
    ["apiVersion: v1\nmetadata: {name: a}\n", /manifest document 1 has no kind/],
    [
      "apiVersion: v1\nkind: Pod\nmetadata: {generateName: web-}\n",
      /manifest document 1 \(Pod\) has no metadata.name/,
    ],
    ["- a\n- b\n", /manifest document 1 is a YAML list/],
    ["just a string\n", /manifest document 1 is not a Kubernetes object/],
    [
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\n",
      /contains ConfigMap n\/a twice/,
    ],
  ])("rejects a bad manifest with a message naming the document: %#", (text, message) => {
    expect(() => parseManifest(text)).toThrow(ManifestError);
    expect(() => parseManifest(text)).toThrow(message);
  });
});

describe("apply and delete order", () => {
  const kinds = [
    "Deployment",
    "Widget",
    "Namespace",
    "Service",
    "CustomResourceDefinition",
    "ConfigMap",
    "Job",
    "ServiceAccount",
  ];
  const items = kinds.map((kind) => ({ kind }));

  it("applies namespaces and dependencies before workloads and unknown kinds last", () => {
    expect(applyOrder(items).map((i) => i.kind)).toEqual([
      "Namespace",
      "ServiceAccount",
      "ConfigMap",
      "CustomResourceDefinition",
      "Service",
      "Deployment",
      "Job",
      "Widget",
    ]);
  });

  it("deletes in reverse, with CRDs and then namespaces last", () => {
    expect(deleteOrder(items).map((i) => i.kind)).toEqual([
      "Widget",
      "Job",
      "Deployment",
      "Service",
      "ConfigMap",
      "ServiceAccount",
      "CustomResourceDefinition",
      "Namespace",
    ]);
  });

  it("keeps manifest order within a kind", () => {
    const same = [
      { kind: "ConfigMap", n: 1 },
      { kind: "ConfigMap", n: 2 },
      { kind: "Namespace", n: 3 },
    ];
    expect(applyOrder(same).map((i) => i.n)).toEqual([3, 1, 2]);
    expect(deleteOrder(same).map((i) => i.n)).toEqual([2, 1, 3]);
  });
});
