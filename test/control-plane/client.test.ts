import { afterEach, describe, expect, it } from "vitest";
import {
  type ClientOptions,
  type ControlPlaneClient,
  createControlPlaneClient,
} from "../../src/control-plane/client.ts";
import { ControlPlaneError, isUnrecoverable } from "../../src/control-plane/errors.ts";
import type { RetryInfo } from "../../src/control-plane/retry.ts";
import { CLIENT_VERSION_HEADER, VERSION } from "../../src/version.ts";
import {
  type Behaviour,
  delay,
  destroy,
  type FlakyServer,
  json,
  refusedPort,
  type Script,
  stall,
  startFlakyServer,
  text,
} from "../support/flaky-server.ts";
import { rejectionOf } from "../support/rejection.ts";

const TOKEN = "tok_S3cr3t-runner-token";
const RUNNER = "runr_123";
const SETTINGS = { id: "rgs_1", heart_beat_timeout: 5_000_000_000 };

const servers: FlakyServer[] = [];
const clients: ControlPlaneClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(script: Script): Promise<FlakyServer> {
  const server = await startFlakyServer(script);
  servers.push(server);
  return server;
}

/** A client with small timeouts so failures show in milliseconds. */
function clientFor(baseUrl: string, overrides: Partial<ClientOptions> = {}): ControlPlaneClient {
  const client = createControlPlaneClient({
    baseUrl,
    token: TOKEN,
    runnerId: RUNNER,
    requestTimeoutMs: 250,
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...overrides,
  });
  clients.push(client);
  return client;
}

const failure = (p: Promise<unknown>) => rejectionOf(p, ControlPlaneError);

/** Everything about an error that could end up in a log line. */
function everythingPrinted(err: ControlPlaneError): string {
  return [String(err), err.stack, JSON.stringify(err.body), String(err.cause)].join("\n");
}

describe("createControlPlaneClient: headers", () => {
  it("sends the bearer token, client version and user agent on every attempt, retries included", async () => {
    const server = await serve([json(503, {}), json(502, {}), json(200, SETTINGS)]);
    const client = clientFor(server.url, { version: "9.9.9-test" });
    await expect(client.getSettings()).resolves.toMatchObject({ id: "rgs_1" });
    expect(server.requests).toHaveLength(3);
    for (const req of server.requests) {
      expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(req.headers["x-nuon-client-version"]).toBe("runner:9.9.9-test");
      expect(req.headers["user-agent"]).toBe("runner/9.9.9-test");
      expect(req.url.pathname).toBe(`/v1/runners/${RUNNER}/settings`);
    }
  });

  it("uses CLIENT_VERSION_HEADER when no version is given, and JSON content-type on bodies", async () => {
    const server = await serve([json(201, { id: "hb_1" })]);
    const client = clientFor(server.url);
    await client.heartbeat({ alive_time: 1_000_000_000, version: VERSION, process: "" });
    const req = server.requests[0]!;
    expect(req.headers["x-nuon-client-version"]).toBe(CLIENT_VERSION_HEADER);
    expect(req.headers["user-agent"]).toBe(`runner/${VERSION}`);
    expect(req.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(req.body.toString())).toEqual({
      alive_time: 1_000_000_000,
      version: VERSION,
      process: "",
    });
  });

  it("never puts the token in an error, whatever fails, even when the server echoes it", async () => {
    const echo = { error: `bad token ${TOKEN}`, description: `token ${TOKEN} is not valid` };
    const scripts: Behaviour[] = [json(401, echo), json(500, echo), text(418, `no ${TOKEN}`), stall, destroy];
    for (const behaviour of scripts) {
      const server = await serve([behaviour]);
      const err = await failure(clientFor(server.url, { retry: { maxAttempts: 1 } }).getRunner());
      expect(everythingPrinted(err)).not.toContain(TOKEN);
    }
    expect(servers).toHaveLength(scripts.length);
  });
});

describe("createControlPlaneClient: deadlines and retries", () => {
  it("ends a call to a server that stalls with TIMEOUT within the deadline, after maxAttempts attempts", async () => {
    const server = await serve([stall]);
    const client = clientFor(server.url);
    const started = performance.now();
    const err = await failure(client.getJob("job_1"));
    const elapsedMs = performance.now() - started;
    expect(err.code).toBe("TIMEOUT");
    expect(err.operation).toBe("getJob");
    expect(server.requests).toHaveLength(3);
    expect(elapsedMs).toBeGreaterThanOrEqual(3 * 250 - 50);
    expect(elapsedMs).toBeLessThan(3 * 250 + 1_000);
  });

  it("retries when the server destroys the socket, then fails with NETWORK", async () => {
    const server = await serve([destroy]);
    const err = await failure(clientFor(server.url).getSettings());
    expect(err.code).toBe("NETWORK");
    expect(err.message).toMatch(/gave up after 3 attempts/);
    expect(server.requests).toHaveLength(3);
  });

  it("honours Retry-After: 1 on a 503, then succeeds", async () => {
    const server = await serve([json(503, { error: "busy" }, { "retry-after": "1" }), json(200, SETTINGS)]);
    const retries: RetryInfo[] = [];
    const client = clientFor(server.url, { onRetry: (info) => retries.push(info) });
    await expect(client.getSettings()).resolves.toMatchObject({ id: "rgs_1" });
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!.atMs - server.requests[0]!.atMs).toBeGreaterThanOrEqual(950);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ operation: "getSettings", attempt: 1, delayMs: 1_000 });
    expect(retries[0]!.error).toMatchObject({ code: "SERVER_ERROR", status: 503, retryAfterMs: 1_000 });
  });

  for (const status of [502, 504, 429]) {
    it(`retries a ${status}`, async () => {
      const server = await serve([json(status, {}), json(200, [])]);
      await expect(clientFor(server.url).listJobs({ group: "deploy" })).resolves.toEqual([]);
      expect(server.requests).toHaveLength(2);
    });
  }

  it("does not retry a 500 and keeps the server's error body", async () => {
    const server = await serve([
      json(500, { error: "internal", description: "db down" }),
      json(200, SETTINGS),
    ]);
    const err = await failure(clientFor(server.url).getSettings());
    expect(err).toMatchObject({
      code: "SERVER_ERROR",
      status: 500,
      body: { error: "internal", description: "db down" },
    });
    expect(err.message).toContain("db down");
    expect(server.requests).toHaveLength(1);
  });

  it("does not retry a 401: unrecoverable, and says the token or runner id is wrong", async () => {
    const server = await serve([json(401, { error: "unauthorized" }), json(200, SETTINGS)]);
    const err = await failure(clientFor(server.url).getSettings());
    expect(err.code).toBe("UNAUTHORIZED");
    expect(isUnrecoverable(err)).toBe(true);
    expect(err.message).toMatch(/runner token or runner id is wrong/);
    expect(err.message).toMatch(/retrying cannot help/);
    expect(server.requests).toHaveLength(1);
  });

  it("turns a 2xx with garbage JSON into BAD_RESPONSE naming the operation, without retrying", async () => {
    const server = await serve([text(200, "<html>proxy error</html>")]);
    const err = await failure(clientFor(server.url).getSettings());
    expect(err.code).toBe("BAD_RESPONSE");
    expect(err.message).toMatch(/^getSettings: .*not JSON/);
    expect(server.requests).toHaveLength(1);
  });

  it("turns a 2xx that does not match the schema into BAD_RESPONSE naming the field", async () => {
    const server = await serve([json(200, { id: 42 })]);
    const err = await failure(clientFor(server.url).getJob("job_1"));
    expect(err.code).toBe("BAD_RESPONSE");
    expect(err.message).toMatch(/^getJob: /);
    expect(err.message).toMatch(/expected string/);
    expect(err.message).toMatch(/→ at id/);
  });

  it("ends a call when the caller aborts during the backoff, promptly and with ABORTED", async () => {
    const server = await serve([json(503, {}, { "retry-after": "10" })]);
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(new Error("shutting down")), 100);
    const err = await failure(clientFor(server.url).getSettings({ signal: controller.signal }));
    expect(err.code).toBe("ABORTED");
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(server.requests).toHaveLength(1);
  });

  it("reports a caller abort during a stalled request as ABORTED, not TIMEOUT, and does not retry", async () => {
    const server = await serve([stall]);
    const err = await failure(
      clientFor(server.url, { requestTimeoutMs: 5_000 }).getSettings({ signal: AbortSignal.timeout(100) }),
    );
    expect(err.code).toBe("ABORTED");
    expect(server.requests).toHaveLength(1);
  });

  it("sends nothing when the caller's signal already fired", async () => {
    const server = await serve([json(200, SETTINGS)]);
    const err = await failure(clientFor(server.url).getSettings({ signal: AbortSignal.abort() }));
    expect(err.code).toBe("ABORTED");
    expect(server.requests).toHaveLength(0);
  });

  it("lets one call override the deadline with timeoutMs", async () => {
    const server = await serve([delay(400, json(200, SETTINGS))]);
    const client = clientFor(server.url, { requestTimeoutMs: 100, retry: { maxAttempts: 1 } });
    await expect(client.getSettings({ timeoutMs: 2_000 })).resolves.toMatchObject({ id: "rgs_1" });
  });
});

describe("createControlPlaneClient: the claim", () => {
  for (const status of [409, 400]) {
    it(`maps a ${status} to CLAIM_LOST and does not retry`, async () => {
      const server = await serve([
        json(status, { error: "job is not available" }),
        json(201, { id: "exe_1" }),
      ]);
      const err = await failure(clientFor(server.url).createExecution("job_1"));
      expect(err).toMatchObject({ code: "CLAIM_LOST", operation: "createExecution", status });
      expect(server.requests).toHaveLength(1);
    });
  }

  it("does not resend a claim to a server that stalls: TIMEOUT after exactly one request", async () => {
    const server = await serve([stall]);
    const err = await failure(clientFor(server.url).createExecution("job_1"));
    expect(err.code).toBe("TIMEOUT");
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({ method: "POST" });
    expect(JSON.parse(server.requests[0]!.body.toString())).toEqual({});
  });

  it("does not resend a claim whose connection broke after sending, nor one answered 503", async () => {
    const broken = await serve([destroy]);
    expect((await failure(clientFor(broken.url).createExecution("job_1"))).code).toBe("NETWORK");
    expect(broken.requests).toHaveLength(1);
    const busy = await serve([json(503, {}), json(201, { id: "exe_1" })]);
    expect((await failure(clientFor(busy.url).createExecution("job_1"))).code).toBe("SERVER_ERROR");
    expect(busy.requests).toHaveLength(1);
  });

  it("does not resend a claim when the server resets the reused keep-alive connection under it", async () => {
    // the first call leaves a kept-alive connection; the server resets it as the claim arrives on it
    const server = await serve([json(200, { id: RUNNER }), destroy, json(201, { id: "exe_1" })]);
    const retries: RetryInfo[] = [];
    const client = clientFor(server.url, { onRetry: (i) => retries.push(i) });
    await client.getRunner();
    const err = await failure(client.createExecution("job_1"));
    expect(err.code).toBe("NETWORK");
    expect(err.message).toMatch(/ECONNRESET/);
    expect(retries).toEqual([]);
    expect(server.requests.map((r) => r.method)).toEqual(["GET", "POST"]);
  });

  it("sends a read again at once, without a backoff, when its reused connection is reset", async () => {
    const server = await serve([json(200, { id: RUNNER }), destroy, json(200, { id: RUNNER })]);
    const retries: RetryInfo[] = [];
    const client = clientFor(server.url, { onRetry: (i) => retries.push(i) });
    await client.getRunner();
    await expect(client.getRunner()).resolves.toEqual({ id: RUNNER });
    expect(retries).toEqual([]);
    expect(server.requests).toHaveLength(3);
  });

  it("retries a claim whose connection was refused, because nothing was sent", async () => {
    const port = await refusedPort();
    const retries: RetryInfo[] = [];
    const client = clientFor(`http://127.0.0.1:${port}`, { onRetry: (i) => retries.push(i) });
    const err = await failure(client.createExecution("job_1"));
    expect(err.code).toBe("NETWORK");
    expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
  });

  it("returns the pending execution on 201", async () => {
    const server = await serve([json(201, { id: "exe_1", status: "pending", runner_job_id: "job_1" })]);
    await expect(clientFor(server.url).createExecution("job_1")).resolves.toMatchObject({
      id: "exe_1",
      status: "pending",
    });
  });
});

describe("createControlPlaneClient: optional endpoints", () => {
  it("reads a tail 404 as { supported: false }", async () => {
    const server = await serve([json(404, { error: "not found" })]);
    await expect(clientFor(server.url).tailJobs("deploy", 25_000)).resolves.toEqual({ supported: false });
    expect(server.requests).toHaveLength(1);
  });

  it("long-polls with a Go duration and a deadline of wait + 5 s, not the request timeout", async () => {
    const server = await serve([delay(500, json(200, [{ id: "job_9", status: "available" }]))]);
    const client = clientFor(server.url, { requestTimeoutMs: 100, retry: { maxAttempts: 1 } });
    const out = await client.tailJobs("deploy", 400);
    expect(out).toEqual({ supported: true, jobs: [{ id: "job_9", status: "available" }] });
    const url = server.requests[0]!.url;
    expect(url.pathname).toBe(`/v1/runners/${RUNNER}/jobs/tail`);
    expect(Object.fromEntries(url.searchParams)).toEqual({ group: "deploy", wait: "400ms" });
  });

  it("reads a null job list as empty", async () => {
    const server = await serve([json(200, null)]);
    await expect(clientFor(server.url).tailJobs("sync", 25_000)).resolves.toEqual({
      supported: true,
      jobs: [],
    });
    expect(server.requests[0]!.url.searchParams.get("wait")).toBe("25s");
  });

  it("reads a createProcess 404 as undefined", async () => {
    const server = await serve([json(404, {})]);
    await expect(clientFor(server.url).createProcess("install", "1.0.0")).resolves.toBeUndefined();
  });
});

describe("createControlPlaneClient: lifecycle and options", () => {
  it("close() ends a call in flight with ABORTED, and later calls send nothing", async () => {
    const server = await serve([stall]);
    const client = clientFor(server.url, { requestTimeoutMs: 5_000 });
    const pending = failure(client.getSettings());
    await new Promise((r) => setTimeout(r, 50));
    await client.close();
    expect((await pending).code).toBe("ABORTED");
    expect((await failure(client.getRunner())).code).toBe("ABORTED");
    expect(server.requests).toHaveLength(1);
    await client.close();
  });

  const bad: Array<[string, Partial<ClientOptions>, RegExp]> = [
    ["an ftp baseUrl", { baseUrl: "ftp://example.test" }, /baseUrl must be an http/],
    ["a baseUrl that is not a URL", { baseUrl: "localhost:8080" }, /baseUrl/],
    [
      "a baseUrl with credentials",
      { baseUrl: "http://u:p@127.0.0.1:1" },
      /baseUrl must not carry credentials/,
    ],
    ["an empty token", { token: "" }, /token must be/],
    ["a token with a newline", { token: "abc\ndef" }, /token must be/],
    ["an empty runnerId", { runnerId: " " }, /runnerId/],
    ["a zero requestTimeoutMs", { requestTimeoutMs: 0 }, /requestTimeoutMs/],
    ["zero attempts", { retry: { maxAttempts: 0 } }, /retry.maxAttempts/],
    ["a negative base delay", { retry: { baseDelayMs: -1 } }, /retry.baseDelayMs/],
  ];
  for (const [name, opts, message] of bad) {
    it(`rejects ${name} at the door, naming the option`, () => {
      const create = () =>
        createControlPlaneClient({ baseUrl: "http://127.0.0.1:1", token: TOKEN, runnerId: RUNNER, ...opts });
      expect(create).toThrow(TypeError);
      expect(create).toThrow(message);
    });
  }

  it("does not echo a malformed token in its complaint", () => {
    expect(() =>
      createControlPlaneClient({ baseUrl: "http://127.0.0.1:1", token: "secret value", runnerId: RUNNER }),
    ).toThrow(/^(?!.*secret value)/s);
  });

  it("keeps a base path and drops a trailing slash", async () => {
    const server = await serve([json(200, { id: RUNNER })]);
    const client = clientFor(`${server.url}/api/`);
    expect(client.baseUrl).toBe(`${server.url}/api`);
    await client.getRunner();
    expect(server.requests[0]!.url.pathname).toBe(`/api/v1/runners/${RUNNER}`);
  });
});
