/**
 * A loopback AWS Secrets Manager emulator speaking the service's real wire protocol (AWS JSON 1.1): `POST /`
 * with `X-Amz-Target: secretsmanager.GetSecretValue`, `Content-Type: application/x-amz-json-1.1`, a JSON
 * body `{SecretId, VersionStage}`; answers `{ARN, Name, SecretString | SecretBinary (base64), VersionId,
 * VersionStages, CreatedDate (epoch seconds)}`, or 400 with `{"__type": "ResourceNotFoundException",
 * "Message": …}` as AWS does. Every request is recorded (target, body, content type, the SigV4 credential
 * scope), so tests can assert exactly what the real SDK sent. No signature check: the scope is enough to
 * show which credentials and region were used.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A secret the emulator holds. */
export interface EmulatedSecret {
  text?: string;
  bytes?: Buffer;
  /** Default 2026-01-02T03:04:05Z. */
  createdAt?: Date;
}

/** One request the emulator saw. */
export interface SeenSecretsRequest {
  method: string;
  path: string;
  target: string;
  contentType: string;
  body: unknown;
  /** From the Authorization header: `<access key id>/<date>/<region>/<service>/aws4_request`. */
  credentialScope: string | undefined;
}

/** A running emulator. */
export interface SecretsManagerEmulator {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Secrets by ARN (a lookup by the secret's name works too). */
  secrets: Map<string, EmulatedSecret>;
  requests: SeenSecretsRequest[];
  close(): Promise<void>;
}

/** The name part of a Secrets Manager ARN (`…:secret:<name>-<6 chars>`), or the id itself. */
function nameOf(id: string): string {
  const match = /:secret:(.+?)(-[A-Za-z0-9]{6})?$/.exec(id);
  return match?.[1] ?? id;
}

/** Starts the emulator on 127.0.0.1 (random port). Close it in afterAll. */
export async function startSecretsManagerEmulator(): Promise<SecretsManagerEmulator> {
  const secrets = new Map<string, EmulatedSecret>();
  const requests: SeenSecretsRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      const target = String(req.headers["x-amz-target"] ?? "");
      const scope = /Credential=([^,\s]+)/.exec(String(req.headers.authorization ?? ""))?.[1];
      requests.push({
        method: req.method ?? "",
        path: req.url ?? "",
        target,
        contentType: String(req.headers["content-type"] ?? ""),
        body,
        credentialScope: scope,
      });
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": "req-1" });
        res.end(JSON.stringify(payload));
      };
      if (req.method !== "POST" || target !== "secretsmanager.GetSecretValue") {
        return send(400, { __type: "UnknownOperationException", Message: `unknown operation ${target}` });
      }
      const id = String((body as { SecretId?: unknown }).SecretId ?? "");
      const arn = secrets.has(id) ? id : [...secrets.keys()].find((key) => nameOf(key) === id);
      const secret = arn === undefined ? undefined : secrets.get(arn);
      if (arn === undefined || secret === undefined) {
        return send(400, {
          __type: "ResourceNotFoundException",
          Message: "Secrets Manager can't find the specified secret.",
        });
      }
      const created = secret.createdAt ?? new Date("2026-01-02T03:04:05Z");
      return send(200, {
        ARN: arn,
        Name: nameOf(arn),
        ...(secret.text !== undefined ? { SecretString: secret.text } : {}),
        ...(secret.bytes !== undefined ? { SecretBinary: secret.bytes.toString("base64") } : {}),
        VersionId: "00000000-0000-4000-8000-000000000001",
        VersionStages: ["AWSCURRENT"],
        CreatedDate: created.getTime() / 1000,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    secrets,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
