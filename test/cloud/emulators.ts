/**
 * Loopback emulators of the cloud endpoints the runner stops its VM through, driven by the REAL SDKs:
 * - AWS IMDSv2 (PUT /latest/api/token, then GETs with the token: the identity document and the instance
 *   profile's credentials; the SDK doubles the leading slash, `//latest/...`, which is accepted) and an EC2
 *   query-protocol endpoint answering StopInstances in EC2's XML;
 * - Azure IMDS (/metadata/instance and the managed identity token, with `Metadata: true`) over HTTP and ARM
 *   over HTTPS with a throwaway CA (test/support/tls.ts), answering deallocate with 202 as ARM does.
 * Every request is recorded so tests assert the exact calls.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { testCertificates } from "../support/tls.ts";

/** One recorded request. */
export interface RecordedRequest {
  method: string;
  /** Path with the query, leading slashes collapsed to one. */
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A running emulator. */
export interface Emulator {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

type Reply = { status: number; headers?: Record<string, string>; body?: string };
type Route = (req: RecordedRequest) => Reply;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

async function listen(
  server: Server,
  scheme: "http" | "https",
  requests: RecordedRequest[],
): Promise<Emulator> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function handler(route: Route, requests: RecordedRequest[]) {
  return (req: IncomingMessage, res: import("node:http").ServerResponse) => {
    void readBody(req).then((body) => {
      const recorded: RecordedRequest = {
        method: req.method ?? "GET",
        url: (req.url ?? "/").replace(/^\/+/, "/"),
        headers: req.headers,
        body,
      };
      requests.push(recorded);
      const reply = route(recorded);
      res.writeHead(reply.status, reply.headers ?? {});
      res.end(reply.body ?? "");
    });
  };
}

/** What the AWS emulators describe. */
export const AWS_INSTANCE = {
  instanceId: "i-0123456789abcdef0",
  region: "us-west-2",
  accountId: "123456789012",
  role: "runner-instance-role",
  accessKeyId: "ASIAEMULATOR0000001",
  secretAccessKey: "emulator-secret",
  sessionToken: "emulator-session-token",
} as const;

const IMDS_TOKEN = "imds-session-token-1";

/** Starts an IMDSv2 emulator; `tokenFails` makes the token PUT answer 403 (IMDS disabled). */
export function startAwsImds(options: { tokenFails?: boolean; document?: string } = {}): Promise<Emulator> {
  const requests: RecordedRequest[] = [];
  const route: Route = (req) => {
    const path = req.url.split("?")[0] ?? "";
    if (path === "/latest/api/token") {
      if (req.method !== "PUT" || options.tokenFails === true) return { status: 403 };
      return { status: 200, body: IMDS_TOKEN };
    }
    if (req.headers["x-aws-ec2-metadata-token"] !== IMDS_TOKEN) return { status: 401 };
    if (path === "/latest/dynamic/instance-identity/document") {
      return {
        status: 200,
        body:
          options.document ??
          JSON.stringify({
            instanceId: AWS_INSTANCE.instanceId,
            region: AWS_INSTANCE.region,
            accountId: AWS_INSTANCE.accountId,
            instanceType: "t3a.medium",
          }),
      };
    }
    if (path === "/latest/meta-data/instance-id") return { status: 200, body: AWS_INSTANCE.instanceId };
    if (path === "/latest/meta-data/iam/security-credentials/")
      return { status: 200, body: AWS_INSTANCE.role };
    if (path === `/latest/meta-data/iam/security-credentials/${AWS_INSTANCE.role}`) {
      return {
        status: 200,
        body: JSON.stringify({
          Code: "Success",
          Type: "AWS-HMAC",
          AccessKeyId: AWS_INSTANCE.accessKeyId,
          SecretAccessKey: AWS_INSTANCE.secretAccessKey,
          Token: AWS_INSTANCE.sessionToken,
          Expiration: new Date(Date.now() + 3_600_000).toISOString(),
          LastUpdated: new Date().toISOString(),
        }),
      };
    }
    return { status: 404 };
  };
  return listen(createHttpServer(handler(route, requests)), "http", requests);
}

/** Starts an EC2 query-protocol endpoint that answers StopInstances. */
export function startEc2(): Promise<Emulator> {
  const requests: RecordedRequest[] = [];
  const route: Route = (req) => {
    const form = new URLSearchParams(req.body);
    if (req.method !== "POST" || form.get("Action") !== "StopInstances") {
      return {
        status: 400,
        headers: { "content-type": "text/xml" },
        body: "<Response><Errors><Error><Code>InvalidAction</Code><Message>unsupported</Message></Error></Errors></Response>",
      };
    }
    const id = form.get("InstanceId.1") ?? "";
    return {
      status: 200,
      headers: { "content-type": "text/xml;charset=UTF-8" },
      body: `<?xml version="1.0" encoding="UTF-8"?>
<StopInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>
  <instancesSet>
    <item>
      <instanceId>${id}</instanceId>
      <currentState><code>64</code><name>stopping</name></currentState>
      <previousState><code>16</code><name>running</name></previousState>
    </item>
  </instancesSet>
</StopInstancesResponse>`,
    };
  };
  return listen(createHttpServer(handler(route, requests)), "http", requests);
}

/** What the Azure emulators describe. */
export const AZURE_VM = {
  subscriptionId: "00000000-1111-2222-3333-444444444444",
  resourceGroupName: "runner-rg",
  name: "runner-vm-1",
  vmId: "5c1b7e0e-0000-4000-8000-000000000001",
  accessToken: "azure-emulator-access-token",
} as const;

/** Starts an Azure IMDS emulator (instance metadata and managed identity tokens). */
export function startAzureImds(): Promise<Emulator> {
  const requests: RecordedRequest[] = [];
  const route: Route = (req) => {
    const path = (req.url.split("?")[0] ?? "").replace(/\/+$/, "");
    if (req.headers.metadata !== "true") return { status: 400, body: '{"error":"Metadata header required"}' };
    if (path === "/metadata/instance") {
      return {
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          compute: {
            subscriptionId: AZURE_VM.subscriptionId,
            resourceGroupName: AZURE_VM.resourceGroupName,
            name: AZURE_VM.name,
            vmId: AZURE_VM.vmId,
            location: "westeurope",
          },
        }),
      };
    }
    if (path === "/metadata/identity/oauth2/token") {
      const now = Math.floor(Date.now() / 1000);
      return {
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          access_token: AZURE_VM.accessToken,
          expires_in: "3600",
          expires_on: String(now + 3600),
          not_before: String(now),
          resource: new URLSearchParams(req.url.split("?")[1] ?? "").get("resource") ?? "",
          token_type: "Bearer",
        }),
      };
    }
    return { status: 404 };
  };
  return listen(createHttpServer(handler(route, requests)), "http", requests);
}

/** Starts an ARM endpoint over HTTPS (CA: `testCertificates().caCert`) answering deallocate with 202. */
export async function startArm(): Promise<Emulator> {
  const requests: RecordedRequest[] = [];
  const certs = testCertificates();
  let base = "";
  const route: Route = (req) => {
    if (req.method === "POST" && /\/virtualMachines\/[^/?]+\/deallocate\?/.test(req.url)) {
      return {
        status: 202,
        headers: { location: `${base}/operations/deallocate-1?api-version=2026-04-01`, "retry-after": "10" },
      };
    }
    if (req.url.startsWith("/operations/")) return { status: 200, body: "{}" };
    return { status: 404, body: '{"error":{"code":"NotFound","message":"no such route"}}' };
  };
  const server = createHttpsServer(
    { cert: certs.serverCert, key: certs.serverKey },
    handler(route, requests),
  ) as unknown as Server;
  const emulator = await listen(server, "https", requests);
  base = emulator.url;
  return emulator;
}
