import { afterEach, describe, expect, it } from "vitest";
import { type AdminServer, startAdminServer } from "../../src/telemetry/admin-server.ts";
import { silentLog } from "./support/silent-log.ts";

let server: AdminServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("admin server", () => {
  it("answers /healthz, /readyz and /metrics on a loopback port", async () => {
    let ready = false;
    server = await startAdminServer({
      host: "127.0.0.1",
      port: 0,
      log: silentLog(),
      health: () => ({ ok: true, body: { status: "ok" } }),
      ready: () => ({ ok: ready, body: { status: ready ? "ready" : "not-ready" } }),
      metrics: () => "runner_up 1\n",
    });
    expect(server.port).toBeGreaterThan(0);
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.headers.get("content-type")).toContain("text/plain");
    expect(await metrics.text()).toBe("runner_up 1\n");
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/healthz`, { method: "POST" })).status).toBe(405);
  });

  it("rejects when the port is taken", async () => {
    server = await startAdminServer({
      port: 0,
      log: silentLog(),
      health: () => ({ ok: true, body: {} }),
      ready: () => ({ ok: true, body: {} }),
      metrics: () => "",
    });
    await expect(
      startAdminServer({
        port: server.port,
        log: silentLog(),
        health: () => ({ ok: true, body: {} }),
        ready: () => ({ ok: true, body: {} }),
        metrics: () => "",
      }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
