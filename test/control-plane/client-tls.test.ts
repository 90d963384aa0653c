import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createControlPlaneClient } from "../../src/control-plane/client.ts";

/** An HTTPS server on 127.0.0.1 with a fresh self-signed certificate (made by the system's openssl). */
describe("createControlPlaneClient over TLS", () => {
  let dir: string;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "runner-tls-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    server = createServer(
      { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) },
      (_req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ id: "runr_1" }));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("verifies certificates by default: a self-signed one fails with NETWORK", async () => {
    const client = createControlPlaneClient({
      baseUrl: url,
      token: "tok",
      runnerId: "runr_1",
      retry: { maxAttempts: 1 },
    });
    try {
      await expect(client.getRunner()).rejects.toMatchObject({ code: "NETWORK", message: /certificate/i });
    } finally {
      await client.close();
    }
  });

  it("accepts the self-signed certificate only when tlsInsecure is set", async () => {
    const client = createControlPlaneClient({
      baseUrl: url,
      token: "tok",
      runnerId: "runr_1",
      tlsInsecure: true,
    });
    try {
      await expect(client.getRunner()).resolves.toEqual({ id: "runr_1" });
    } finally {
      await client.close();
    }
  });
});
