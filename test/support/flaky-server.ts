/**
 * A small loopback HTTP server whose answers a test scripts request by request: JSON or text with any status
 * and headers, a stall (reads the request, never answers), or a destroyed socket. It records every request
 * it received, so a test can count attempts and check headers and bodies.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** What the server does with one request. */
export type Behaviour =
  | { kind: "json"; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: "text"; status: number; body: string; headers?: Record<string, string> }
  /** Reads the whole request, then never answers (the socket stays open until the server closes). */
  | { kind: "stall" }
  /** Reads the whole request, then destroys the socket without a response. */
  | { kind: "destroy" }
  /** Waits `ms`, then behaves as `then`. */
  | { kind: "delay"; ms: number; then: Behaviour };

/** A JSON answer. */
export const json = (status: number, body: unknown, headers?: Record<string, string>): Behaviour => ({
  kind: "json",
  status,
  body,
  ...(headers && { headers }),
});
/** A text answer, sent as is (use it for bodies that are not JSON). */
export const text = (status: number, body: string, headers?: Record<string, string>): Behaviour => ({
  kind: "text",
  status,
  body,
  ...(headers && { headers }),
});
/** Never answers. */
export const stall: Behaviour = { kind: "stall" };
/** Destroys the socket. */
export const destroy: Behaviour = { kind: "destroy" };
/** Answers `then` after `ms` milliseconds. */
export const delay = (ms: number, then: Behaviour): Behaviour => ({ kind: "delay", ms, then });

/** One request as it arrived. */
export interface RecordedRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Milliseconds since the server started. */
  atMs: number;
}

/** Decides the answer to the `index`-th request (from 0). */
export type Script = Behaviour[] | ((req: RecordedRequest, index: number) => Behaviour);

/** A running server. */
export interface FlakyServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Replaces the script (the request index keeps counting). */
  setScript(script: Script): void;
  /** Closes the server and every connection, stalled ones included. */
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1, port 0. An array script answers in order and repeats its last entry. */
export async function startFlakyServer(script: Script): Promise<FlakyServer> {
  let current = script;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const startedAt = performance.now();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const recorded: RecordedRequest = {
        method: req.method ?? "",
        url: new URL(req.url ?? "/", "http://127.0.0.1"),
        headers: req.headers,
        body: Buffer.concat(chunks),
        atMs: performance.now() - startedAt,
      };
      const index = requests.length;
      requests.push(recorded);
      answer(res, pick(current, recorded, index));
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setScript(next) {
      current = next;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function pick(script: Script, req: RecordedRequest, index: number): Behaviour {
  if (typeof script === "function") return script(req, index);
  const behaviour = script[Math.min(index, script.length - 1)];
  if (!behaviour) throw new Error("flaky-server: the script is empty");
  return behaviour;
}

function answer(res: ServerResponse, behaviour: Behaviour): void {
  switch (behaviour.kind) {
    case "stall":
      return;
    case "destroy":
      res.socket?.destroy();
      return;
    case "delay": {
      const timer = setTimeout(() => answer(res, behaviour.then), behaviour.ms);
      res.on("close", () => clearTimeout(timer));
      return;
    }
    case "json":
    case "text": {
      const payload = behaviour.kind === "json" ? JSON.stringify(behaviour.body) : behaviour.body;
      res.writeHead(behaviour.status, {
        "content-type": behaviour.kind === "json" ? "application/json" : "text/plain",
        ...behaviour.headers,
      });
      res.end(payload);
      return;
    }
  }
}

/** A loopback port that was just free and now refuses connections (its listener closed). */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
