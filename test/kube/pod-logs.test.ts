import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KubeClient } from "../../src/kube/client.ts";
import { followContainerLog, splitTimestamp, startPodLogs, timestampKey } from "../../src/kube/pod-logs.ts";
import { type FakeApiServer, startFakeApiServer } from "../support/fake-apiserver.ts";
import { clientOf, eventually } from "./helpers.ts";

describe("log timestamps", () => {
  it("orders kubelet timestamps whose trailing zeros are trimmed", () => {
    const a = "2026-11-21T23:21:53.1Z";
    const b = "2026-11-21T23:21:53.09Z";
    const c = "2026-11-21T23:21:53Z";
    expect([a, b, c].sort((x, y) => timestampKey(x).localeCompare(timestampKey(y)))).toEqual([c, b, a]);
  });

  it("splits the timestamp from the text, and leaves lines without one alone", () => {
    expect(splitTimestamp("2026-11-21T23:21:53.123456789Z hello world")).toEqual({
      ts: "2026-11-21T23:21:53.123456789Z",
      text: "hello world",
    });
    expect(splitTimestamp("2026-11-21T23:21:53Z ")).toEqual({ ts: "2026-11-21T23:21:53Z", text: "" });
    expect(splitTimestamp("no timestamp here")).toEqual({ ts: undefined, text: "no timestamp here" });
  });
});

describe("following logs", () => {
  let api: FakeApiServer;
  let client: KubeClient;
  beforeEach(async () => {
    api = await startFakeApiServer();
    client = await clientOf(api);
    api.seed({ apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } });
  });
  afterEach(async () => {
    await client.close();
    await api.close();
  });

  const pod = (name: string, image: string) =>
    client.create(
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: "team", labels: { app: "x" } },
        spec: { restartPolicy: "Never", containers: [{ name: "c", image }] },
      },
      {},
    );

  it("waits for a starting container, then delivers every line exactly once across dropped streams", async () => {
    const lines = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`);
    api.images.set("talker:1", { logs: lines, logIntervalMs: 25 });
    await pod("p", "talker:1");
    const got: string[] = [];
    const following = followContainerLog(
      client,
      "team",
      "p",
      "c",
      (t) => got.push(t),
      AbortSignal.timeout(10_000),
      20,
    );
    await eventually(() => got.length >= 3);
    api.dropWatches(); // ends the log stream mid-way, as a proxy timeout would
    await eventually(() => got.length >= 8);
    api.dropWatches();
    await following;
    expect(got).toEqual(lines);
    const logRequests = api.requests.filter((r) => r.path.endsWith("/log"));
    expect(logRequests.some((r) => r.query.sinceTime !== undefined)).toBe(true);
    expect(logRequests.every((r) => r.query.follow === "true" && r.query.timestamps === "true")).toBe(true);
  });

  it("follows every pod the selector matches, including pods created later", async () => {
    api.images.set("a:1", { logs: ["from a"] });
    api.images.set("b:1", { logs: ["from b"] });
    const got: string[] = [];
    const logs = startPodLogs(
      client,
      { namespace: "team", labelSelector: "app=x", onLine: (t, p) => got.push(`${p}: ${t}`), retryMs: 20 },
      AbortSignal.timeout(10_000),
    );
    await pod("a", "a:1");
    await eventually(() => got.includes("a: from a"));
    await pod("b", "b:1");
    await eventually(() => got.includes("b: from b"));
    await logs.settle(1000);
    expect(got.sort()).toEqual(["a: from a", "b: from b"]);
  });
});
