import { createServer, type IncomingMessage, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../../src/mock-control-plane/api-error.ts";
import { type Route, Router, readBody, tokenOf } from "../../src/mock-control-plane/http.ts";
import { RequestTarget } from "../../src/mock-control-plane/request-context.ts";

const route = (method: string, pattern: string): Route => ({
  method,
  pattern,
  operationId: `${method} ${pattern}`,
  auth: "none",
  handle: () => ({ status: 204 }),
});

describe("Router", () => {
  const router = new Router();
  router.add(
    route("GET", "/v1/runners/:runner_id/jobs/tail"),
    route("GET", "/v1/runners/:runner_id/jobs/:job_id"),
    route("PATCH", "/v1/runners/:runner_id/jobs/:job_id"),
    route("GET", "/v1/runners/:runner_id"),
  );
  const match = (method: string, path: string) => {
    const m = router.match(method, path);
    return m === undefined ? undefined : { op: m.route.operationId, params: { ...m.params } };
  };

  it("matches in registration order, by method and segment count, decoding params", () => {
    expect(match("GET", "/v1/runners/r1/jobs/tail")).toEqual({
      op: "GET /v1/runners/:runner_id/jobs/tail",
      params: { runner_id: "r1" },
    });
    expect(match("GET", "/v1/runners/r1/jobs/j%201")).toEqual({
      op: "GET /v1/runners/:runner_id/jobs/:job_id",
      params: { runner_id: "r1", job_id: "j 1" },
    });
    expect(match("PATCH", "/v1/runners/r1/jobs/j1")?.op).toBe("PATCH /v1/runners/:runner_id/jobs/:job_id");
    expect(match("GET", "/v1/runners/%E0%A4%A")?.params).toEqual({ runner_id: "%E0%A4%A" });
  });

  it("matches nothing for another method, another length or an empty param", () => {
    expect(match("DELETE", "/v1/runners/r1")).toBeUndefined();
    expect(match("GET", "/v1/runners/r1/jobs")).toBeUndefined();
    expect(match("GET", "/v1/runners/")).toBeUndefined();
    expect(match("GET", "/v1/runners/r1/jobs/j1/more")).toBeUndefined();
  });
});

describe("RequestTarget", () => {
  it.each([
    "/v1/runners/abc/jobs/tail?group=any&wait=25s",
    "/",
    "/v1/runners/abc/",
    "/v1/runners/a.b/../c/./d?x=1",
    "/v1/runners/%2e%2e/x",
    "/v1//runners",
    "/v1/runners/a b?q=a+b&q=%20c",
    "/v1/x?token=t#frag?not=query",
    "/v1/x#frag",
    "/v1/x?",
    "/v1/ünïcode?name=ä",
    "/v1\\runners\\x",
  ])("reads %j as URL does", (raw) => {
    const url = new URL(raw, "http://control-plane");
    const target = new RequestTarget(raw);
    expect(target.pathname).toBe(url.pathname);
    expect([...target.searchParams]).toEqual([...url.searchParams]);
    expect(target.url.href).toBe(url.href);
  });
});

describe("tokenOf", () => {
  const req = (authorization?: string) =>
    ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;
  const query = (q: string) => ({ searchParams: new URLSearchParams(q) });

  it.each([
    ["Bearer abc", "abc"],
    ["bearer abc", "abc"],
    ["Bearer  abc", "abc"],
    ["Bearer abc def", "abc"],
    [`Basic ${Buffer.from("user:pa:ss").toString("base64")}`, "pa:ss"],
  ])("reads %j as %j", (header, token) => {
    expect(tokenOf(req(header), query("token=other"))).toBe(token);
  });

  it("falls back to ?token= without an Authorization header, else undefined", () => {
    expect(tokenOf(req(), query("token=q"))).toBe("q");
    expect(tokenOf(req(), query(""))).toBeUndefined();
    expect(tokenOf(req("Bearer"), query("token=q"))).toBe("q");
  });
});

describe("readBody", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  /** A server whose handler reads each body with `maxBytes`; resolves with what readBody gave or threw. */
  async function serve(maxBytes: number) {
    const outcomes: Array<Promise<Buffer>> = [];
    server = createServer((req, res) => {
      const body = readBody(req, maxBytes);
      outcomes.push(body);
      body.then(
        () => res.end("ok"),
        () => res.destroyed || res.end("refused"),
      );
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    return {
      port,
      /** Resolves once the handler got a request. */
      received: () => waitFor(() => (outcomes.length > 0 ? true : undefined)),
      /** What readBody gave (or threw) for the first request. */
      outcome: async (): Promise<Buffer> => await waitFor(() => outcomes[0]),
    };
  }

  function send(port: number, body: Buffer, headers: Record<string, string> = {}) {
    return new Promise<{ status?: number; error?: string }>((resolve) => {
      const req = request({ port, host: "127.0.0.1", method: "POST", headers }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode }));
      });
      req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      req.end(body);
    });
  }

  it("reads a body in chunks and gunzips a gzip body", async () => {
    const { port, outcome } = await serve(1 << 20);
    const text = "x".repeat(200_000);
    await send(port, gzipSync(text), { "content-encoding": "gzip" });
    expect((await outcome()).toString()).toBe(text);
  });

  it("refuses a body over the limit with 413 and drops the connection", async () => {
    const { port, outcome } = await serve(1_000);
    const reply = await send(port, Buffer.alloc(100_000, 1));
    await expect(outcome()).rejects.toMatchObject({ status: 413 });
    await expect(outcome()).rejects.toBeInstanceOf(ApiError);
    expect(reply.status).toBeUndefined();
  });

  it("rejects when the client goes away before the body ends", async () => {
    const { port, received, outcome } = await serve(1 << 20);
    const req = request({ port, host: "127.0.0.1", method: "POST", headers: { "content-length": "1000" } });
    req.on("error", () => {});
    req.write("partial");
    await received();
    await new Promise((resolve) => setTimeout(resolve, 20));
    req.destroy();
    await expect(outcome()).rejects.toThrow(/closed the connection|aborted/);
  });
});

async function waitFor<T>(get: () => T | undefined, timeoutMs = 2_000): Promise<T> {
  const started = performance.now();
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (performance.now() - started > timeoutMs) throw new Error("waitFor timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
