import { describe, expect, it } from "vitest";
import { ControlPlaneError, type ControlPlaneErrorCode } from "../../src/control-plane/errors.ts";
import {
  backoffDelayMs,
  MAX_RETRY_AFTER_MS,
  parseRetryAfterMs,
  RETRY_POLICY,
  type RetryInfo,
  shouldRetry,
  sleep,
  wasNeverSent,
  withRetry,
} from "../../src/control-plane/retry.ts";

function cpError(
  code: ControlPlaneErrorCode,
  extra: { status?: number; cause?: unknown; retryAfterMs?: number } = {},
) {
  return new ControlPlaneError({ code, operation: "test", message: `test: ${code}`, ...extra });
}

const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
const reset = Object.assign(new Error("other side closed"), { code: "UND_ERR_SOCKET" });

describe("backoffDelayMs", () => {
  it("is full jitter: zero at random 0, just under the ceiling at random ~1", () => {
    expect(backoffDelayMs(0, 100, 5_000, () => 0)).toBe(0);
    expect(backoffDelayMs(0, 100, 5_000, () => 0.9999)).toBe(99);
    expect(backoffDelayMs(3, 100, 5_000, () => 0.9999)).toBe(799);
  });

  it("caps the ceiling at maxDelayMs", () => {
    expect(backoffDelayMs(20, 100, 5_000, () => 0.9999)).toBe(4_999);
  });

  it("stays within [0, ceiling) with the real random source", () => {
    for (let i = 0; i < 100; i++) {
      const d = backoffDelayMs(2, 100, 5_000);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(400);
    }
  });
});

describe("parseRetryAfterMs", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  const cases: Array<[string | string[] | undefined, number | undefined]> = [
    [undefined, undefined],
    ["", undefined],
    ["soon", undefined],
    ["1", 1_000],
    ["0", 0],
    ["2.5", 2_500],
    [["3", "9"], 3_000],
    ["3600", MAX_RETRY_AFTER_MS],
    ["Thu, 01 Jan 2026 00:00:05 GMT", 5_000],
    ["Wed, 31 Dec 2025 23:59:00 GMT", 0],
    ["Fri, 02 Jan 2026 00:00:00 GMT", MAX_RETRY_AFTER_MS],
  ];
  for (const [header, want] of cases) {
    it(`reads ${JSON.stringify(header)} as ${want}`, () => {
      expect(parseRetryAfterMs(header, now)).toBe(want);
    });
  }
});

describe("wasNeverSent", () => {
  it("is true for refused connections, connect timeouts and DNS failures, however deeply wrapped", () => {
    expect(wasNeverSent(cpError("NETWORK", { cause: refused }))).toBe(true);
    expect(wasNeverSent(cpError("NETWORK", { cause: { code: "UND_ERR_CONNECT_TIMEOUT" } }))).toBe(true);
    expect(wasNeverSent(cpError("NETWORK", { cause: { code: "ENOTFOUND" } }))).toBe(true);
    const aggregate = new AggregateError([refused], "all addresses failed");
    expect(wasNeverSent(cpError("NETWORK", { cause: cpError("NETWORK", { cause: aggregate }) }))).toBe(true);
  });

  it("is false when the request may have reached the server", () => {
    expect(wasNeverSent(cpError("NETWORK", { cause: reset }))).toBe(false);
    expect(wasNeverSent(cpError("TIMEOUT"))).toBe(false);
    expect(wasNeverSent(cpError("SERVER_ERROR", { status: 503 }))).toBe(false);
  });
});

describe("RETRY_POLICY and shouldRetry", () => {
  it("never resends a claim or a process registration that may have been sent", () => {
    expect(RETRY_POLICY.createExecution).toBe("unsent");
    expect(RETRY_POLICY.createProcess).toBe("unsent");
    expect(shouldRetry("unsent", cpError("TIMEOUT"))).toBe(false);
    expect(shouldRetry("unsent", cpError("NETWORK", { cause: reset }))).toBe(false);
    expect(shouldRetry("unsent", cpError("SERVER_ERROR", { status: 503 }))).toBe(false);
    expect(shouldRetry("unsent", cpError("NETWORK", { cause: refused }))).toBe(true);
  });

  it("retries safe operations only on retryable errors", () => {
    expect(RETRY_POLICY.heartbeat).toBe("any");
    expect(shouldRetry("any", cpError("TIMEOUT"))).toBe(true);
    expect(shouldRetry("any", cpError("SERVER_ERROR", { status: 502 }))).toBe(true);
    expect(shouldRetry("any", cpError("SERVER_ERROR", { status: 500 }))).toBe(false);
    expect(shouldRetry("any", cpError("UNAUTHORIZED", { status: 401 }))).toBe(false);
    expect(shouldRetry("any", cpError("ABORTED"))).toBe(false);
    expect(shouldRetry("any", new Error("not ours"))).toBe(false);
  });
});

describe("sleep", () => {
  it("rejects with ABORTED as soon as the signal fires", async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(new Error("stop")), 20);
    await expect(sleep(10_000, "heartbeat", controller.signal)).rejects.toMatchObject({ code: "ABORTED" });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("rejects at once when the signal already fired", async () => {
    await expect(sleep(10_000, "heartbeat", AbortSignal.abort())).rejects.toMatchObject({ code: "ABORTED" });
  });
});

describe("withRetry", () => {
  const base = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2 };

  it("retries a retryable error until success and reports each retry", async () => {
    const seen: RetryInfo[] = [];
    let calls = 0;
    const result = await withRetry(
      async (n) => {
        calls++;
        if (n < 3) throw cpError("SERVER_ERROR", { status: 503 });
        return "ok";
      },
      { ...base, operation: "heartbeat", onRetry: (i) => seen.push(i) },
    );
    expect(result).toBe("ok");
    expect(calls).toBe(3);
    expect(seen.map((s) => s.attempt)).toEqual([1, 2]);
    expect(seen.every((s) => s.operation === "heartbeat" && s.error.status === 503)).toBe(true);
  });

  it("stops after maxAttempts and says so in the message, keeping the code", async () => {
    let calls = 0;
    const err = await withRetry(
      async () => {
        calls++;
        throw cpError("TIMEOUT");
      },
      { ...base, operation: "getJob" },
    ).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect(err).toMatchObject({
      code: "TIMEOUT",
      message: expect.stringMatching(/gave up after 4 attempts/),
    });
  });

  it("waits the server's Retry-After instead of the backoff", async () => {
    const seen: RetryInfo[] = [];
    await withRetry(
      async (n) => {
        if (n === 1) throw cpError("RATE_LIMITED", { status: 429, retryAfterMs: 50 });
        return "ok";
      },
      { ...base, operation: "listJobs", onRetry: (i) => seen.push(i) },
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]?.delayMs).toBe(50);
  });

  it("does not retry a claim that timed out, and ignores an observer that throws", async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw cpError("TIMEOUT");
        },
        {
          ...base,
          operation: "createExecution",
          onRetry: () => {
            throw new Error("observer bug");
          },
        },
      ),
    ).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(calls).toBe(1);
  });

  it("retries a claim whose connection was refused", async () => {
    let calls = 0;
    const out = await withRetry(
      async (n) => {
        calls++;
        if (n === 1) throw cpError("NETWORK", { cause: refused });
        return "claimed";
      },
      {
        ...base,
        operation: "createExecution",
        onRetry: () => {
          throw new Error("observer bug");
        },
      },
    );
    expect(out).toBe("claimed");
    expect(calls).toBe(2);
  });
});
