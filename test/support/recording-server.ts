/**
 * A loopback HTTP(S) server for client tests that records every request (method, URL, headers, body and the
 * socket it came on) and every connection, then lets the test answer it. Listens on 127.0.0.1:0; `close()`
 * drops open connections and stops it.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";

/** One request as the server read it. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  socket: Socket;
}

/** Answers request number `index` (from 0), recorded as `seen`; may also leave it unanswered. */
export type Answer = (seen: SeenRequest, res: ServerResponse, index: number) => void;

/** A running recording server. */
export interface RecordingServer {
  seen: SeenRequest[];
  /** Every connection accepted, in order. */
  connections: Socket[];
  /** When each connection closed, in ms after the server started. */
  closedConnections: number[];
  port: number;
  /** `http://127.0.0.1:<port>`, or `https://…` for a TLS server. */
  url: string;
  close(): Promise<void>;
}

/** Starts `server` (default a plain node:http server) on 127.0.0.1:0, answering with `answer`. */
export async function startRecordingServer(
  answer: Answer,
  server: Server | HttpsServer = createServer(),
): Promise<RecordingServer> {
  const seen: SeenRequest[] = [];
  const connections: Socket[] = [];
  const closedConnections: number[] = [];
  const startedAt = performance.now();
  server.on("connection", (socket: Socket) => {
    connections.push(socket);
    socket.on("close", () => closedConnections.push(performance.now() - startedAt));
  });
  server.on("request", (req, res: ServerResponse) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      const s = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body,
        socket: req.socket,
      };
      seen.push(s);
      answer(s, res, seen.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const tls = "setSecureContext" in server;
  return {
    seen,
    connections,
    closedConnections,
    port,
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
