/**
 * The keep-alive transport on real loopback sockets: deadlines against servers that never answer or stall
 * mid-body, abort by signal, close() with calls in flight, connection reuse and the idle-socket timeout,
 * HTTPS with the test CA (and verification failing without it), connection error codes kept for retry.ts,
 * the resend of a request whose reused connection was reset (only when asked), and the body size limit.
 */

import { getEventListeners } from "node:events";
import type { Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { afterEach, describe, expect, it } from "vitest";
import { wasNeverSent } from "../../src/control-plane/retry.ts";
import {
  createHttpTransport,
  type HttpTransport,
  type HttpTransportOptions,
  TransportError,
} from "../../src/control-plane/transport.ts";
import { refusedPort } from "../support/flaky-server.ts";
import { type Answer, startRecordingServer } from "../support/recording-server.ts";
import { rejectionOf } from "../support/rejection.ts";
import { testCertificates } from "../support/tls.ts";

const closers: Array<() => Promise<void>> = [];
const transports: HttpTransport[] = [];
afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  await Promise.all(closers.splice(0).map((close) => close()));
});

type Handler = Answer;

/** A server on 127.0.0.1 that records each request and its connections, then lets `handler` answer. */
async function serve(handler: Handler, server?: Server) {
  const started = await startRecordingServer(handler, server);
  closers.push(() => started.close());
  return started;
}

function transport(opts: HttpTransportOptions): HttpTransport {
  const t = createHttpTransport(opts);
  transports.push(t);
  return t;
}

const failure = (p: Promise<unknown>) => rejectionOf(p, TransportError);

const ok: Handler = (_s, res) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end('{"ok":true}');
};

/** Timers alive in this process (the transport's deadline must not outlive a request). */
const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

describe("createHttpTransport", () => {
  it("sends method, base path, headers and body, and answers status, headers and text whatever the status", async () => {
    const server = await serve((_s, res) => {
      res.writeHead(418, { "retry-after": "3" });
      res.end("short and stout ☕");
    });
    const t = transport({ baseUrl: `${server.url}/api/` });
    const res = await t.request({
      method: "POST",
      path: "/v1/x?y=1",
      headers: { "content-type": "application/json", authorization: "Bearer t" },
      body: '{"a":"é"}',
      timeoutMs: 2_000,
    });
    expect(res).toMatchObject({ status: 418, text: "short and stout ☕" });
    expect(res.headers["retry-after"]).toBe("3");
    expect(server.seen[0]).toMatchObject({ method: "POST", url: "/api/v1/x?y=1", body: '{"a":"é"}' });
    expect(server.seen[0]?.headers).toMatchObject({
      authorization: "Bearer t",
      "content-length": String(Buffer.byteLength('{"a":"é"}')),
    });
    expect(server.seen[0]?.headers["transfer-encoding"]).toBeUndefined();
  });

  it("sends a Uint8Array body byte for byte", async () => {
    const server = await serve(ok);
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    await transport({ baseUrl: server.url }).request({
      method: "POST",
      path: "/bin",
      headers: { "content-type": "application/x-protobuf" },
      body: bytes,
      timeoutMs: 2_000,
    });
    expect(server.seen[0]?.headers["content-length"]).toBe("5");
  });

  it("reuses one connection for sequential requests", async () => {
    const server = await serve(ok);
    const t = transport({ baseUrl: server.url });
    for (let i = 0; i < 5; i++) {
      await t.request({ method: "GET", path: `/n/${i}`, headers: {}, timeoutMs: 2_000 });
    }
    expect(server.seen).toHaveLength(5);
    expect(server.connections).toHaveLength(1);
  });

  it("closes an idle connection after freeSocketTimeoutMs, but not a busy one", async () => {
    const server = await serve((s, res) => {
      if (s.url === "/slow") setTimeout(() => ok(s, res, 0), 300);
      else ok(s, res, 0);
    });
    const t = transport({ baseUrl: server.url, freeSocketTimeoutMs: 100 });
    const started = performance.now();
    // a request three times longer than the idle timeout still completes on its connection
    await expect(
      t.request({ method: "GET", path: "/slow", headers: {}, timeoutMs: 2_000 }),
    ).resolves.toMatchObject({ status: 200 });
    const answeredAtMs = performance.now() - started;
    expect(server.closedConnections).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(server.closedConnections).toHaveLength(1);
    expect(server.closedConnections[0]).toBeGreaterThanOrEqual(answeredAtMs + 50);
  });

  it("fails with timeout at its deadline when the server never answers", async () => {
    const server = await serve(() => undefined);
    const started = performance.now();
    const err = await failure(
      transport({ baseUrl: server.url }).request({ method: "GET", path: "/", headers: {}, timeoutMs: 200 }),
    );
    const tookMs = performance.now() - started;
    expect(err.kind).toBe("timeout");
    expect(err.message).toContain("200 ms");
    expect(tookMs).toBeGreaterThanOrEqual(190);
    expect(tookMs).toBeLessThan(1_000);
  });

  it("fails with timeout at its deadline when the server stalls in the middle of the body", async () => {
    const server = await serve((_s, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("only part of it");
    });
    const started = performance.now();
    const err = await failure(
      transport({ baseUrl: server.url }).request({ method: "GET", path: "/", headers: {}, timeoutMs: 250 }),
    );
    expect(err.kind).toBe("timeout");
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
  });

  it("ends a request when its signal fires, with the signal's reason as cause, and clears its deadline", async () => {
    const controller = new AbortController();
    const reason = new Error("job cancelled");
    const server = await serve(() => controller.abort(reason));
    const started = performance.now();
    const pending = transport({ baseUrl: server.url }).request({
      method: "GET",
      path: "/",
      headers: {},
      timeoutMs: 5_000,
      signal: controller.signal,
    });
    const during = timers();
    const err = await failure(pending);
    expect(err.kind).toBe("aborted");
    expect(err.cause).toBe(reason);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(timers()).toBeLessThan(during);
  });

  it("clears its deadline and stops listening to its signal when the answer arrives", async () => {
    const server = await serve(ok);
    const signal = new AbortController().signal;
    const pending = transport({ baseUrl: server.url }).request({
      method: "GET",
      path: "/",
      headers: {},
      timeoutMs: 5_000,
      signal,
    });
    const during = timers();
    expect(getEventListeners(signal, "abort")).toHaveLength(1);
    await pending;
    expect(timers()).toBeLessThan(during);
    expect(getEventListeners(signal, "abort")).toHaveLength(0);
  });

  it("sends nothing when the signal already fired", async () => {
    const server = await serve(ok);
    const err = await failure(
      transport({ baseUrl: server.url }).request({
        method: "GET",
        path: "/",
        headers: {},
        timeoutMs: 1_000,
        signal: AbortSignal.abort(),
      }),
    );
    expect(err.kind).toBe("aborted");
    expect(server.seen).toHaveLength(0);
  });

  it("close() ends requests in flight with closed, drops the connection, and refuses later requests", async () => {
    const server = await serve(() => undefined);
    const t = transport({ baseUrl: server.url });
    const pending = t.request({ method: "GET", path: "/", headers: {}, timeoutMs: 5_000 });
    while (server.seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const started = performance.now();
    t.close();
    expect((await failure(pending)).kind).toBe("closed");
    expect(performance.now() - started).toBeLessThan(500);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.closedConnections).toHaveLength(1);
    const later = await failure(t.request({ method: "GET", path: "/", headers: {}, timeoutMs: 1_000 }));
    expect(later.kind).toBe("closed");
    expect(server.seen).toHaveLength(1);
  });

  it("keeps the system code of a refused connection, which retry.ts reads as never sent", async () => {
    const port = await refusedPort();
    const err = await failure(
      transport({ baseUrl: `http://127.0.0.1:${port}` }).request({
        method: "POST",
        path: "/",
        headers: {},
        body: "{}",
        timeoutMs: 1_000,
      }),
    );
    expect(err).toMatchObject({ kind: "network", code: "ECONNREFUSED", reusedSocket: false });
    expect(wasNeverSent(err)).toBe(true);
  });

  it("fails a request whose reused connection is reset, and says it was reused, unless a resend is allowed", async () => {
    const server = await serve((s, res, index) => {
      if (index === 1)
        s.socket.destroy(); // the kept-alive connection dies under the second request
      else ok(s, res, index);
    });
    const t = transport({ baseUrl: server.url });
    const post = (resendOnStaleReuse: boolean) =>
      t.request({ method: "POST", path: "/", headers: {}, body: "{}", timeoutMs: 2_000, resendOnStaleReuse });
    await post(false);
    const err = await failure(post(false));
    expect(err).toMatchObject({ kind: "network", code: "ECONNRESET", reusedSocket: true });
    expect(wasNeverSent(err)).toBe(false);
    expect(server.seen).toHaveLength(2);
  });

  it("sends again once, on a new connection, when a reset of a reused connection may be resent", async () => {
    const server = await serve((s, res, index) => {
      if (index === 1) s.socket.destroy();
      else ok(s, res, index);
    });
    const t = transport({ baseUrl: server.url });
    const post = () =>
      t.request({
        method: "POST",
        path: "/",
        headers: {},
        body: "{}",
        timeoutMs: 2_000,
        resendOnStaleReuse: true,
      });
    await post();
    await expect(post()).resolves.toMatchObject({ status: 200 });
    expect(server.seen).toHaveLength(3);
    expect(server.connections).toHaveLength(2);
    expect(server.seen[2]?.socket).not.toBe(server.seen[0]?.socket);
  });

  it("does not resend when the connection was new", async () => {
    const server = await serve((s) => s.socket.destroy());
    const err = await failure(
      transport({ baseUrl: server.url }).request({
        method: "GET",
        path: "/",
        headers: {},
        timeoutMs: 2_000,
        resendOnStaleReuse: true,
      }),
    );
    expect(err).toMatchObject({ kind: "network", code: "ECONNRESET", reusedSocket: false });
    expect(server.seen).toHaveLength(1);
  });

  it("reports a connection that closes in the middle of the body as network", async () => {
    const server = await serve((s, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("only part of it", () => s.socket.destroy());
    });
    const err = await failure(
      transport({ baseUrl: server.url }).request({ method: "GET", path: "/", headers: {}, timeoutMs: 2_000 }),
    );
    expect(err.kind).toBe("network");
  });

  it("refuses a body larger than maxResponseBytes", async () => {
    const server = await serve((_s, res) => {
      res.writeHead(200);
      res.end("x".repeat(10_000));
    });
    const t = transport({ baseUrl: server.url, maxResponseBytes: 1_000 });
    const err = await failure(t.request({ method: "GET", path: "/", headers: {}, timeoutMs: 2_000 }));
    expect(err.kind).toBe("too-large");
    expect(err.message).toContain("1000 bytes");
  });

  it("rejects a baseUrl that is not http(s)", () => {
    expect(() => createHttpTransport({ baseUrl: "ftp://127.0.0.1/" })).toThrow(TypeError);
  });
});

describe("createHttpTransport over TLS", () => {
  async function tlsServer() {
    const certs = testCertificates();
    const server = await serve(ok, createTlsServer({ key: certs.serverKey, cert: certs.serverCert }));
    return { ...server, url: `https://127.0.0.1:${server.port}` };
  }

  it("trusts the test CA given in `ca` and reuses the TLS connection", async () => {
    const server = await tlsServer();
    const t = transport({ baseUrl: server.url, ca: testCertificates().caCert });
    await expect(
      t.request({ method: "GET", path: "/", headers: {}, timeoutMs: 2_000 }),
    ).resolves.toMatchObject({
      status: 200,
      text: '{"ok":true}',
    });
    await t.request({ method: "GET", path: "/", headers: {}, timeoutMs: 2_000 });
    expect(server.connections).toHaveLength(1);
  });

  it("fails verification without the CA, with the TLS error's code", async () => {
    const server = await tlsServer();
    const err = await failure(
      transport({ baseUrl: server.url }).request({ method: "GET", path: "/", headers: {}, timeoutMs: 2_000 }),
    );
    expect(err.kind).toBe("network");
    expect(err.message).toMatch(/certificate/i);
    expect(err.code).toMatch(/CERT|SIGNATURE|ISSUER/);
    expect(server.seen).toHaveLength(0);
  });

  it("skips verification only when tlsInsecure is set", async () => {
    const server = await tlsServer();
    const t = transport({ baseUrl: server.url, tlsInsecure: true });
    await expect(
      t.request({ method: "GET", path: "/", headers: {}, timeoutMs: 2_000 }),
    ).resolves.toMatchObject({
      status: 200,
    });
  });
});
