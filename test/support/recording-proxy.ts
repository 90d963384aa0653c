/**
 * A loopback HTTP proxy that forwards every request to a target server and records each exchange, so a test
 * can check exactly what went over the wire in both directions.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

/** One request and its response, as they crossed the wire. */
export interface Exchange {
  method: string;
  url: URL;
  requestHeaders: IncomingHttpHeaders;
  requestContentType: string | undefined;
  /** Parsed JSON when the request was JSON, else undefined (see requestBytes). */
  requestJson: unknown;
  requestBytes: Buffer;
  status: number;
  responseContentType: string | undefined;
  /** Parsed JSON when the response was JSON and parsed, else undefined. */
  responseJson: unknown;
  responseText: string;
}

/** A running recording proxy. */
export interface RecordingProxy {
  url: string;
  exchanges: Exchange[];
  close(): Promise<void>;
}

function parseJson(text: string, contentType: string | undefined): unknown {
  if (!contentType?.includes("json") || text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Starts a proxy on 127.0.0.1:0 in front of `target` (an http:// base URL). */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const targetUrl = new URL(target);
  const exchanges: Exchange[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const requestBytes = Buffer.concat(chunks);
      const upstream = httpRequest(
        {
          host: targetUrl.hostname,
          port: targetUrl.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: targetUrl.host },
        },
        (up) => {
          const out: Buffer[] = [];
          up.on("data", (c: Buffer) => out.push(c));
          up.on("end", () => {
            const responseBytes = Buffer.concat(out);
            const responseText = responseBytes.toString("utf8");
            const requestContentType = req.headers["content-type"];
            const responseContentType = up.headers["content-type"];
            exchanges.push({
              method: req.method ?? "GET",
              url: new URL(req.url ?? "/", "http://proxy.invalid"),
              requestHeaders: req.headers,
              requestContentType,
              requestJson: parseJson(requestBytes.toString("utf8"), requestContentType),
              requestBytes,
              status: up.statusCode ?? 0,
              responseContentType,
              responseJson: parseJson(responseText, responseContentType),
              responseText,
            });
            res.writeHead(up.statusCode ?? 502, up.headers);
            res.end(responseBytes);
          });
        },
      );
      upstream.on("error", (err) => {
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(String(err));
      });
      upstream.end(requestBytes);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
