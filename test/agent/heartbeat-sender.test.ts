/**
 * The heartbeat thread's sender on real loopback sockets: what a beat looks like on the wire, how failures
 * are reported (stable codes, never the token), its deadline, the one resend on a kept-alive connection the
 * server closed, and TLS verification (on unless tlsInsecure).
 */
import type { ServerResponse } from "node:http";
import { createServer as createTlsServer, type Server as TlsServer } from "node:https";
import type { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  createHeartbeatSender,
  HeartbeatError,
  type HeartbeatSender,
} from "../../src/agent/heartbeat-sender.ts";
import { type SeenRequest, startRecordingServer } from "../support/recording-server.ts";
import { rejectionOf } from "../support/rejection.ts";
import { testCertificates } from "../support/tls.ts";

const TOKEN = "tok-heartbeat-secret";
const closers: Array<() => Promise<void>> = [];
const senders: HeartbeatSender[] = [];
afterEach(async () => {
  for (const s of senders.splice(0)) s.close();
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** A server answering each request with `answer(seen, res)`; every request is recorded. */
async function recordingServer(answer: (seen: SeenRequest, res: ServerResponse) => void, server?: TlsServer) {
  const started = await startRecordingServer(answer, server);
  closers.push(() => started.close());
  return started;
}

/** The error a send rejects with (fails the test when it resolves). */
const failure = (send: Promise<void>) => rejectionOf(send, HeartbeatError);

function sender(baseUrl: string, extra: { tlsInsecure?: boolean; ca?: string } = {}): HeartbeatSender {
  const s = createHeartbeatSender({ baseUrl, token: TOKEN, runnerId: "runr/1", version: "1.2.3", ...extra });
  senders.push(s);
  return s;
}

describe("heartbeat sender", () => {
  it("posts the beat as JSON with the Bearer token and the client version, reusing its connection", async () => {
    const { seen, url } = await recordingServer((_s, res) => {
      res.writeHead(201, { "content-type": "application/json" });
      res.end('{"id":"hb_1"}');
    });
    const s = sender(`${url}/base/`);
    await s.send({ alive_time: 5, version: "1.2.3", process: "" }, 2_000);
    await s.send({ alive_time: 6, version: "1.2.3", process: "", process_id: "p_1" }, 2_000);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({ method: "POST", url: "/base/v1/runners/runr%2F1/heart-beats" });
    expect(seen[0]?.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      "x-nuon-client-version": "runner:1.2.3",
      "content-type": "application/json",
    });
    expect(JSON.parse(seen[1]?.body ?? "")).toEqual({
      alive_time: 6,
      version: "1.2.3",
      process: "",
      process_id: "p_1",
    });
    expect(seen[1]?.socket).toBe(seen[0]?.socket);
  });

  it("rejects a refused beat with the status's code and a message without the token", async () => {
    const { url } = await recordingServer((_s, res) => {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "unauthorized", description: `bad token ${TOKEN}` }));
    });
    const err = await failure(sender(url).send({ alive_time: 1 }, 2_000));
    expect(err).toMatchObject({ code: "UNAUTHORIZED", status: 401 });
    expect(err.message).toContain("answered 401");
    expect(err.message).not.toContain(TOKEN);
  });

  it("gives up at its deadline when the server never answers", async () => {
    const { url } = await recordingServer(() => undefined);
    const started = performance.now();
    const err = await failure(sender(url).send({ alive_time: 1 }, 200));
    const tookMs = performance.now() - started;
    expect(err.code).toBe("TIMEOUT");
    expect(tookMs).toBeGreaterThanOrEqual(190);
    expect(tookMs).toBeLessThan(1_500);
  });

  it("sends again at once when the server closed the kept-alive connection as the beat went out", async () => {
    let first: Socket | undefined;
    let answered = 0;
    const { seen, url } = await recordingServer((s, res) => {
      first ??= s.socket;
      if (answered > 0 && s.socket === first) {
        s.socket.resetAndDestroy(); // the reused connection dies under the second beat
        return;
      }
      answered += 1;
      res.writeHead(201);
      res.end("{}");
    });
    const s = sender(url);
    await s.send({ alive_time: 1 }, 2_000);
    await s.send({ alive_time: 2 }, 2_000);
    expect(answered).toBe(2);
    expect(seen).toHaveLength(3);
    expect(seen[2]?.socket).not.toBe(first);
  });

  it("ends a beat in flight when the sender is closed", async () => {
    const { seen, url } = await recordingServer(() => undefined);
    const s = sender(url);
    const pending = failure(s.send({ alive_time: 1 }, 5_000));
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    s.close();
    expect((await pending).code).toBe("ABORTED");
  });

  it("reports a refused connection as NETWORK", async () => {
    const { url } = await recordingServer(() => undefined);
    await closers.splice(0)[0]?.(); // closed: nothing listens there any more
    const err = await failure(sender(url).send({ alive_time: 1 }, 2_000));
    expect(err.code).toBe("NETWORK");
  });
});

describe("heartbeat sender over TLS", () => {
  it("verifies certificates unless tlsInsecure, and trusts a CA given in `ca`", async () => {
    // Signed by a throwaway CA the sender does not trust.
    const certs = testCertificates();
    const { url } = await recordingServer(
      (_s, res) => {
        res.writeHead(201);
        res.end("{}");
      },
      createTlsServer({ key: certs.serverKey, cert: certs.serverCert }),
    );
    const err = await failure(sender(url).send({ alive_time: 1 }, 2_000));
    expect(err.code).toBe("NETWORK");
    await expect(sender(url, { tlsInsecure: true }).send({ alive_time: 1 }, 2_000)).resolves.toBeUndefined();
    await expect(sender(url, { ca: certs.caCert }).send({ alive_time: 1 }, 2_000)).resolves.toBeUndefined();
  });
});
