/**
 * A loopback emulator of ECR's GetAuthorizationToken (AWS JSON 1.1: `POST /` with
 * `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken`), for pointing the real
 * @aws-sdk/client-ecr at. It answers a base64 `user:password` token and records every request exactly.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the emulator received. */
export interface EcrEmulatorRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A running emulator. */
export interface EcrEmulator {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  requests: EcrEmulatorRequest[];
  /** What the next answers carry; change between calls. */
  answer: { username: string; password: string; expiresInSeconds: number; status?: number };
  stop(): Promise<void>;
}

/** The X-Amz-Target of GetAuthorizationToken. */
export const GET_AUTHORIZATION_TOKEN_TARGET = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";

/** Starts the emulator answering `answer`. */
export async function startEcrEmulator(answer: EcrEmulator["answer"]): Promise<EcrEmulator> {
  const requests: EcrEmulatorRequest[] = [];
  const state = { answer };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      requests.push({
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify(body));
      };
      if (req.method !== "POST" || req.headers["x-amz-target"] !== GET_AUTHORIZATION_TOKEN_TARGET) {
        return send(400, { __type: "UnknownOperationException", message: "unknown operation" });
      }
      const current = state.answer;
      if (current.status !== undefined && current.status !== 200) {
        return send(current.status, {
          __type: "AccessDeniedException",
          message: "not allowed to get a token",
        });
      }
      send(200, {
        authorizationData: [
          {
            authorizationToken: Buffer.from(`${current.username}:${current.password}`).toString("base64"),
            expiresAt: Date.now() / 1000 + current.expiresInSeconds,
            proxyEndpoint: "https://123456789012.dkr.ecr.us-west-2.amazonaws.com",
          },
        ],
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get answer() {
      return state.answer;
    },
    set answer(value) {
      state.answer = value;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
