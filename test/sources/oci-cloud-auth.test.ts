import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectRepository } from "../../src/sources/oci/connect.ts";
import { decodeEcrToken, ecrCredentials, regionFromEcrHost } from "../../src/sources/oci/ecr.ts";
import { isOciError, OciError } from "../../src/sources/oci/errors.ts";
import {
  type EcrEmulator,
  GET_AUTHORIZATION_TOKEN_TARGET,
  startEcrEmulator,
} from "../support/ecr-emulator.ts";
import {
  pushTestImage,
  startRegistry,
  TEST_REGISTRY_PASSWORD,
  TEST_REGISTRY_USER,
  type TestRegistry,
} from "../support/registry.ts";
import { rejectionOf } from "../support/rejection.ts";
import { testCertificates } from "../support/tls.ts";

const rejection = (promise: Promise<unknown>) => rejectionOf(promise, OciError);

const STATIC_KEYS = {
  access_key_id: "AKIDRUNNERTEST000001",
  secret_access_key: "secret-access-key-for-tests-only",
  session_token: "session-token-for-tests-only",
};

describe("ECR credentials from AWS credentials", () => {
  let registry: TestRegistry;
  let ecr: EcrEmulator;
  beforeAll(async () => {
    [registry, ecr] = await Promise.all([
      startRegistry({ auth: "htpasswd" }),
      startEcrEmulator({
        username: TEST_REGISTRY_USER,
        password: TEST_REGISTRY_PASSWORD,
        expiresInSeconds: 3600,
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([registry?.stop(), ecr?.stop()]);
  });
  afterEach(() => {
    ecr.requests.length = 0;
    ecr.answer = { username: TEST_REGISTRY_USER, password: TEST_REGISTRY_PASSWORD, expiresInSeconds: 3600 };
  });

  const ecrConfig = (auth: unknown = { region: "us-west-2", static: STATIC_KEYS }) => ({
    RegistryType: "ecr",
    LoginServer: `http://${registry.host}`,
    Repository: "app/ecr",
    ECRAuth: auth,
  });

  it("gets a token with GetAuthorizationToken, signed for the region, and pushes and pulls with it", async () => {
    const secrets: string[] = [];
    const repo = connectRepository(ecrConfig(), { ecrEndpoint: ecr.url, onSecret: (s) => secrets.push(s) });
    const image = await pushTestImage(repo.client, repo.repository, "v1");
    expect((await repo.client.getManifest(repo.repository, "v1")).digest).toBe(image.digest);

    // One token for the whole push and pull: it is cached until shortly before it expires.
    expect(ecr.requests).toHaveLength(1);
    const [req] = ecr.requests;
    expect(req?.method).toBe("POST");
    expect(req?.path).toBe("/");
    expect(req?.headers["x-amz-target"]).toBe(GET_AUTHORIZATION_TOKEN_TARGET);
    expect(req?.headers["content-type"]).toBe("application/x-amz-json-1.1");
    expect(JSON.parse(req?.body ?? "")).toEqual({});
    expect(req?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDRUNNERTEST000001\/\d{8}\/us-west-2\/ecr\/aws4_request, /,
    );
    expect(req?.headers["x-amz-security-token"]).toBe(STATIC_KEYS.session_token);

    const token = Buffer.from(`${TEST_REGISTRY_USER}:${TEST_REGISTRY_PASSWORD}`).toString("base64");
    expect(secrets).toEqual(
      expect.arrayContaining([
        STATIC_KEYS.secret_access_key,
        STATIC_KEYS.session_token,
        token,
        TEST_REGISTRY_PASSWORD,
      ]),
    );
  });

  it("fetches a new token once the cached one is about to expire", async () => {
    // 300 s is inside the refresh margin, so the token is kept only briefly.
    ecr.answer = { ...ecr.answer, expiresInSeconds: 300 };
    const provider = ecrCredentials(
      { registry: registry.host, auth: { region: "us-west-2", static: STATIC_KEYS } },
      { endpoint: ecr.url },
    );
    if (provider.kind !== "provider") throw new Error("expected a provider");
    const first = await provider.get();
    expect(first).toMatchObject({
      kind: "basic",
      username: TEST_REGISTRY_USER,
      password: TEST_REGISTRY_PASSWORD,
    });
    await provider.get();
    expect(ecr.requests).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, first.expiresAtMs - Date.now() + 20));
    ecr.answer = { ...ecr.answer, password: "rotated-password", expiresInSeconds: 3600 };
    expect(await provider.get()).toMatchObject({ password: "rotated-password" });
    expect(ecr.requests).toHaveLength(2);
  });

  it("fails with UNAUTHORIZED naming the AWS error, never a key, when ECR refuses the token", async () => {
    ecr.answer = { ...ecr.answer, status: 400 };
    const repo = connectRepository(ecrConfig(), { ecrEndpoint: ecr.url });
    const error = await rejection(repo.client.getManifest(repo.repository, "v1"));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.message).toContain("ECR GetAuthorizationToken");
    expect(error.message).toContain("AccessDeniedException");
    expect(error.message).not.toContain(STATIC_KEYS.secret_access_key);
    expect(error.message).not.toContain(STATIC_KEYS.session_token);
  });

  it("takes the region from the registry host and refuses assume_role before any call", () => {
    expect(regionFromEcrHost("123456789012.dkr.ecr.eu-central-1.amazonaws.com")).toBe("eu-central-1");
    expect(regionFromEcrHost("registry.example.com")).toBeUndefined();
    expect(decodeEcrToken(Buffer.from("AWS:pa:ss").toString("base64"))).toEqual({
      username: "AWS",
      password: "pa:ss",
    });
    let caught: unknown;
    try {
      connectRepository(
        ecrConfig({ assume_role: { role_arn: "arn:aws:iam::1:role/x", session_name: "s" } }),
        {
          ecrEndpoint: ecr.url,
        },
      );
    } catch (error) {
      caught = error;
    }
    expect(isOciError(caught, "UNSUPPORTED")).toBe(true);
    expect(ecr.requests).toHaveLength(0);
  });
});

/** A loopback HTTPS stand-in for Azure AD and an ACR login server (exchange, token service, one manifest). */
interface AzureEmulator {
  host: string;
  url: string;
  requests: Array<{ method: string; path: string; headers: IncomingHttpHeaders; body: string }>;
  stop(): Promise<void>;
}

const TENANT = "11111111-2222-3333-4444-555555555555";
const CLIENT_ID = "client-id-for-tests";
const CLIENT_SECRET = "client-secret-for-tests-only";
const AAD_TOKEN = "aad-access-token-for-tests";
const MANIFEST = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json" }),
);
const MANIFEST_DIGEST = `sha256:${createHash("sha256").update(MANIFEST).digest("hex")}`;

function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.sig`;
}

async function startAzureEmulator(): Promise<AzureEmulator> {
  const { serverCert, serverKey } = testCertificates();
  const requests: AzureEmulator["requests"] = [];
  const refreshToken = jwt({ exp: Math.floor(Date.now() / 1000) + 3 * 3600 });
  const accessToken = "acr-access-token-for-tests";
  let origin = "";
  const server: Server = createServer({ cert: serverCert, key: serverKey }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const path = req.url ?? "/";
      requests.push({ method: req.method ?? "", path, headers: req.headers, body });
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      const host = origin.replace("https://", "");
      if (path.startsWith("/common/discovery/instance")) {
        return json(200, {
          tenant_discovery_endpoint: `${origin}/${TENANT}/v2.0/.well-known/openid-configuration`,
          metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
        });
      }
      if (path.startsWith(`/${TENANT}/v2.0/.well-known/openid-configuration`)) {
        return json(200, {
          token_endpoint: `${origin}/${TENANT}/oauth2/v2.0/token`,
          authorization_endpoint: `${origin}/${TENANT}/oauth2/v2.0/authorize`,
          end_session_endpoint: `${origin}/${TENANT}/oauth2/v2.0/logout`,
          issuer: `${origin}/${TENANT}/v2.0`,
          jwks_uri: `${origin}/${TENANT}/discovery/v2.0/keys`,
        });
      }
      if (path.startsWith(`/${TENANT}/oauth2/v2.0/token`)) {
        const form = new URLSearchParams(body);
        if (form.get("client_secret") !== CLIENT_SECRET) return json(401, { error: "invalid_client" });
        return json(200, {
          token_type: "Bearer",
          expires_in: 3600,
          ext_expires_in: 3600,
          access_token: AAD_TOKEN,
        });
      }
      if (path === "/oauth2/exchange") {
        const form = new URLSearchParams(body);
        if (form.get("access_token") !== AAD_TOKEN) return json(401, { errors: [{ code: "UNAUTHORIZED" }] });
        return json(200, { refresh_token: refreshToken });
      }
      if (path === "/oauth2/token") {
        const form = new URLSearchParams(body);
        if (form.get("refresh_token") !== refreshToken)
          return json(401, { errors: [{ code: "UNAUTHORIZED" }] });
        return json(200, { access_token: accessToken });
      }
      if (path.startsWith("/v2/")) {
        if (req.headers.authorization !== `Bearer ${accessToken}`) {
          res.writeHead(401, {
            "www-authenticate": `Bearer realm="${origin}/oauth2/token",service="${host}",scope="repository:app/acr:pull"`,
          });
          return res.end();
        }
        if (path === "/v2/app/acr/manifests/v1") {
          res.writeHead(200, {
            "content-type": "application/vnd.oci.image.manifest.v1+json",
            "docker-content-digest": MANIFEST_DIGEST,
          });
          return res.end(req.method === "HEAD" ? undefined : MANIFEST);
        }
      }
      json(404, { errors: [{ code: "NOT_FOUND" }] });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  origin = `https://127.0.0.1:${port}`;
  return {
    host: `127.0.0.1:${port}`,
    url: origin,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("ACR credentials from an Azure AD identity", () => {
  let azure: AzureEmulator;
  let dispatcher: Agent;
  beforeAll(async () => {
    azure = await startAzureEmulator();
    dispatcher = new Agent({ connect: { ca: testCertificates().caCert } });
  });
  afterAll(async () => {
    await azure?.stop();
    await dispatcher?.close();
  });

  it("gets an AAD token with the service principal, exchanges it for an ACR refresh token, and pulls", async () => {
    const secrets: string[] = [];
    const repo = connectRepository(
      {
        RegistryType: "acr",
        LoginServer: azure.host,
        Repository: "app/acr",
        ACRAuth: {
          ServicePrincipal: {
            subscription_id: "sub",
            subscription_tenant_id: TENANT,
            client_id: CLIENT_ID,
            client_secret: CLIENT_SECRET,
          },
        },
      },
      {
        dispatcher,
        azureAuthorityHost: azure.url,
        azureCa: testCertificates().caCert,
        onSecret: (s) => secrets.push(s),
      },
    );
    const manifest = await repo.client.getManifest(repo.repository, "v1");
    expect(manifest.digest).toBe(MANIFEST_DIGEST);

    const aad = azure.requests.find((r) => r.path.startsWith(`/${TENANT}/oauth2/v2.0/token`));
    const aadForm = new URLSearchParams(aad?.body ?? "");
    expect(aadForm.get("grant_type")).toBe("client_credentials");
    expect(aadForm.get("client_id")).toBe(CLIENT_ID);
    expect(aadForm.get("scope")).toContain("https://containerregistry.azure.net/.default");

    const exchanges = azure.requests.filter((r) => r.path === "/oauth2/exchange");
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]?.method).toBe("POST");
    expect(exchanges[0]?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(Object.fromEntries(new URLSearchParams(exchanges[0]?.body ?? ""))).toEqual({
      grant_type: "access_token",
      service: azure.host,
      access_token: AAD_TOKEN,
      tenant: TENANT,
    });
    const tokenForm = new URLSearchParams(azure.requests.find((r) => r.path === "/oauth2/token")?.body ?? "");
    expect(tokenForm.get("grant_type")).toBe("refresh_token");
    expect(tokenForm.get("scope")).toBe("repository:app/acr:pull");
    expect(secrets).toEqual(
      expect.arrayContaining([CLIENT_SECRET, AAD_TOKEN, tokenForm.get("refresh_token")]),
    );
  });

  it("uses an injected token credential and fails with UNAUTHORIZED when the registry refuses its token", async () => {
    const repo = connectRepository(
      { RegistryType: "acr", LoginServer: azure.host, Repository: "app/acr", ACRAuth: { use_default: true } },
      {
        dispatcher,
        azureCredential: {
          getToken: async () => ({
            token: "not-an-accepted-aad-token",
            expiresOnTimestamp: Date.now() + 3600_000,
          }),
        },
      },
    );
    const error = await rejection(repo.client.getManifest(repo.repository, "v1"));
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.message).toContain("/oauth2/exchange");
    expect(error.message).not.toContain("not-an-accepted-aad-token");
  });

  it("refuses to send an AAD token to a plain-HTTP registry", () => {
    expect(() =>
      connectRepository({ RegistryType: "acr", LoginServer: "http://127.0.0.1:1", Repository: "a" }, {}),
    ).toThrow(/plain HTTP/);
  });
});
