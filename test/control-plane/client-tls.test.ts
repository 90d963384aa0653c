import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createControlPlaneClient } from "../../src/control-plane/client.ts";
import { testCertificates } from "../support/tls.ts";

/** An HTTPS server on 127.0.0.1 whose certificate comes from a throwaway CA (test/support/tls.ts). */
describe("createControlPlaneClient over TLS", () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    // Signed by a throwaway CA the client does not trust.
    const certs = testCertificates();
    server = createServer({ key: certs.serverKey, cert: certs.serverCert }, (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: "runr_1" }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("verifies certificates by default: an untrusted one fails with NETWORK", async () => {
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

  it("trusts a certificate authority given in `ca`, verification still on", async () => {
    const client = createControlPlaneClient({
      baseUrl: url,
      token: "tok",
      runnerId: "runr_1",
      ca: testCertificates().caCert,
    });
    try {
      await expect(client.getRunner()).resolves.toEqual({ id: "runr_1" });
    } finally {
      await client.close();
    }
  });

  it("accepts the untrusted certificate only when tlsInsecure is set", async () => {
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
