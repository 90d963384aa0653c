import { describe, expect, it } from "vitest";
import type { KubeObject } from "../../src/kube/client.ts";
import {
  applyDiff,
  deleteDiff,
  ENTRY,
  fieldChanges,
  renderPlan,
  SENSITIVE,
  summarize,
} from "../../src/kube/diff.ts";

const cm = (data: Record<string, string>, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: {
    name: "settings",
    namespace: "team",
    resourceVersion: "7",
    uid: "u",
    managedFields: [],
    ...extra,
  },
  data,
});

describe("fieldChanges", () => {
  it("lists added, removed and modified fields, ignoring what the server maintains", () => {
    const before = cm({ color: "blue", size: "M" }, { generation: 1 });
    const after = {
      ...cm({ color: "green", shape: "round" }, { generation: 2, resourceVersion: "8" }),
      status: { x: 1 },
    };
    expect(fieldChanges(before, after)).toEqual([
      { path: "data.color", original: "blue", applied: "green", type: ENTRY.modified },
      { path: "data.shape", applied: "round", type: ENTRY.added },
      { path: "data.size", original: "M", type: ENTRY.removed },
    ]);
  });

  it("compares lists as a whole", () => {
    const a = { spec: { ports: [{ port: 80 }] } };
    const b = { spec: { ports: [{ port: 80 }, { port: 443 }] } };
    expect(fieldChanges(a, b)).toEqual([
      {
        path: "spec.ports",
        original: [{ port: 80 }],
        applied: [{ port: 80 }, { port: 443 }],
        type: ENTRY.modified,
      },
    ]);
  });
});

describe("resource diffs", () => {
  const target = {
    apiVersion: "v1",
    kind: "ConfigMap",
    name: "settings",
    namespace: "team",
    resource: "configmaps",
  };

  it("uses Nuon's ResourceDiff shape", () => {
    const created = applyDiff(target, undefined, cm({ a: "1" }), true);
    expect(created).toMatchObject({
      _version: "2",
      name: "settings",
      namespace: "team",
      kind: "ConfigMap",
      api: "/v1",
      resource: "configmaps",
      op: "apply",
      type: ENTRY.added,
      dry_run: true,
    });
    expect(created.entries[0]?.applied).toEqual({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings", namespace: "team" },
      data: { a: "1" },
    });
    expect(applyDiff(target, cm({ a: "1" }), cm({ a: "1" }, { resourceVersion: "9" }), false).type).toBe(
      ENTRY.unchanged,
    );
    expect(deleteDiff(target, cm({ a: "1" }), false)).toMatchObject({ op: "delete", type: ENTRY.removed });
    expect(deleteDiff(target, undefined, false)).toMatchObject({ type: ENTRY.unchanged, entries: [] });
  });

  it("never shows Secret values, but still shows that they changed", () => {
    const secret = (v: string): KubeObject => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s" },
      data: { password: v },
    });
    const t = { apiVersion: "v1", kind: "Secret", name: "s" };
    const changed = applyDiff(t, secret("b2xk"), secret("bmV3"), true);
    expect(changed.type).toBe(ENTRY.modified);
    expect(JSON.stringify(changed)).not.toMatch(/b2xk|bmV3/);
    expect(changed.entries[0]).toMatchObject({
      path: "data.password",
      original: SENSITIVE,
      applied: SENSITIVE,
    });
    expect(JSON.stringify(applyDiff(t, undefined, secret("bmV3"), true))).not.toContain("bmV3");
    expect(JSON.stringify(deleteDiff(t, secret("b2xk"), true))).not.toContain("b2xk");
  });

  it("renders a readable plan with created, changed and deleted objects", () => {
    const diffs = [
      applyDiff(
        { apiVersion: "v1", kind: "Namespace", name: "team" },
        undefined,
        { apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } },
        true,
      ),
      applyDiff(target, cm({ color: "blue" }), cm({ color: "green" }), true),
      applyDiff({ ...target, name: "same" }, cm({ a: "1" }), cm({ a: "1" }), true),
      deleteDiff(
        { apiVersion: "v1", kind: "Service", name: "old", namespace: "team" },
        { apiVersion: "v1", kind: "Service", metadata: { name: "old" } },
        true,
      ),
    ];
    expect(summarize(diffs)).toEqual({ create: 1, change: 1, delete: 1, unchanged: 1 });
    expect(renderPlan(diffs)).toBe(
      [
        "Plan: 1 to create, 1 to change, 1 to delete, 1 unchanged.",
        "+ create Namespace team",
        "~ change ConfigMap team/settings",
        '    data.color: "blue" -> "green"',
        "  unchanged ConfigMap team/same",
        "- delete Service team/old",
        "",
      ].join("\n"),
    );
  });
});
