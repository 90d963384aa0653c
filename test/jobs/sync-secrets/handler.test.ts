/**
 * sandbox-sync-secrets end to end: the REAL @aws-sdk/client-secrets-manager against a loopback Secrets
 * Manager emulator speaking AWS JSON 1.1 (test/support/secrets-manager.ts), the fake API server over loopback
 * HTTPS, the real pipeline and the embedded control plane. What it proves: the exact requests the SDK sends,
 * the Secrets written (namespaces, formats, keys, field manager), failures naming the ARN, and that no secret
 * value reaches a log line, an error message or the outputs.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createSyncSecretsHandler, FIELD_MANAGER } from "../../../src/jobs/sync-secrets/handler.ts";
import { createRedactor, type Redactor } from "../../../src/logs/redact.ts";
import { type FakeApiServer, startFakeApiServer } from "../../support/fake-apiserver.ts";
import { type HarnessRun, type JobHarness, startJobHarness } from "../../support/job-harness.ts";
import { type SecretsManagerEmulator, startSecretsManagerEmulator } from "../../support/secrets-manager.ts";

const DB_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf";
const API_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/api-token-GhIjKl";
const CERT_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/cert-MnOpQr";
const EMPTY_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/optional-YzAbCd";
const MISSING_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/nope-StUvWx";

const DB_PASSWORD = "pw-9f8e7d6c5b4a";
const DB_USER = "app-user-71";
const API_TOKEN = "tok-ab12cd34ef56gh78";
const CERT_TEXT = "cert-body-77aa-99bb";
const ACCESS_KEY_ID = "AKIATESTSYNCSECRETS1";
const SECRET_ACCESS_KEY = "secret-access-key-0f1e2d3c4b5a69788796";

/** Every value a test stores; none may appear in a log line, message or output. */
const VALUES = [DB_PASSWORD, DB_USER, API_TOKEN, CERT_TEXT, SECRET_ACCESS_KEY];

let harness: JobHarness;
let emulator: SecretsManagerEmulator;
let api: FakeApiServer;
let redactor: Redactor;

beforeAll(async () => {
  harness = await startJobHarness();
  emulator = await startSecretsManagerEmulator();
  emulator.secrets.set(DB_ARN, {
    text: JSON.stringify({ username: DB_USER, password: DB_PASSWORD, port: 5432 }),
  });
  emulator.secrets.set(API_ARN, { text: API_TOKEN });
  emulator.secrets.set(EMPTY_ARN, { text: "" });
  emulator.secrets.set(CERT_ARN, { text: `${Buffer.from(`  ${CERT_TEXT}  \n`).toString("base64")}\n` });
});
afterAll(async () => {
  await harness?.close();
  await emulator?.close();
});
beforeEach(async () => {
  api = await startFakeApiServer();
  emulator.requests.length = 0;
  redactor = createRedactor();
});
afterEach(async () => {
  await api.close();
});

function plan(secrets: unknown[], extra: Record<string, unknown> = {}) {
  return {
    kubernetes_secrets: secrets,
    cluster_info: { endpoint: api.url, ca_data: api.caData, token: api.token },
    aws_auth: {
      region: "us-east-1",
      static: { access_key_id: ACCESS_KEY_ID, secret_access_key: SECRET_ACCESS_KEY },
    },
    ...extra,
  };
}

function sync(p: unknown): Promise<HarnessRun> {
  return harness.run({
    type: "sandbox-sync-secrets",
    plan: p,
    factory: () =>
      createSyncSecretsHandler({
        access: { env: {} },
        redactor,
        secretsManagerEndpoint: emulator.url,
      }),
  });
}

/** Asserts no stored value (nor its base64) is in `text`. */
function expectNoValues(text: string): void {
  for (const value of VALUES) {
    expect(text).not.toContain(value);
    expect(text).not.toContain(Buffer.from(value).toString("base64"));
  }
}

const decoded = (data: unknown) =>
  Object.fromEntries(
    Object.entries(data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
  );

describe("sandbox-sync-secrets", () => {
  it("reads every secret with GetSecretValue and writes Secrets in their namespaces and formats, never showing a value", async () => {
    api.seed({ apiVersion: "v1", kind: "Namespace", metadata: { name: "web" } });
    const ran = await sync(
      plan([
        {
          secret_arn: DB_ARN,
          secret_name: "db",
          namespace: "data",
          name: "db-credentials",
          key_name: "",
          format: "json",
        },
        {
          secret_arn: API_ARN,
          secret_name: "api_token",
          namespace: "web",
          name: "api",
          key_name: "token",
          format: "",
        },
        {
          secret_arn: CERT_ARN,
          secret_name: "cert",
          namespace: "web",
          name: "api",
          key_name: "tls.crt",
          format: "base64",
        },
      ]),
    );
    expect(ran.outcome.message).toBeUndefined();
    expect(ran.outcome.status).toBe("finished");

    // Exactly three GetSecretValue calls in AWS JSON 1.1, signed with the static key for the ARN's region.
    expect(
      emulator.requests.map(({ credentialScope, ...rest }) => ({
        ...rest,
        scope: credentialScope?.split("/"),
      })),
    ).toEqual(
      [DB_ARN, API_ARN, CERT_ARN].map((arn) => ({
        method: "POST",
        path: "/",
        target: "secretsmanager.GetSecretValue",
        contentType: "application/x-amz-json-1.1",
        body: { SecretId: arn, VersionStage: "AWSCURRENT" },
        scope: [
          ACCESS_KEY_ID,
          expect.stringMatching(/^\d{8}$/),
          arn.split(":")[3],
          "secretsmanager",
          "aws4_request",
        ],
      })),
    );

    // Secrets: the JSON keys as data keys; string and base64 entries merged into one Secret.
    const db = api.get("v1", "Secret", "data", "db-credentials");
    expect(db?.type).toBe("Opaque");
    expect(decoded(db?.data)).toEqual({ username: DB_USER, password: DB_PASSWORD, port: "5432" });
    const apiSecret = api.get("v1", "Secret", "web", "api");
    expect(decoded(apiSecret?.data)).toEqual({ token: API_TOKEN, "tls.crt": CERT_TEXT });
    expect(api.get("v1", "Namespace", undefined, "data")).toBeDefined();
    const patches = api.requests.filter((r) => r.method === "PATCH");
    expect(patches.map((r) => [r.path, r.query.fieldManager, r.query.force, r.contentType])).toEqual([
      ["/api/v1/namespaces/data", FIELD_MANAGER, "true", "application/apply-patch+yaml"],
      [
        "/api/v1/namespaces/data/secrets/db-credentials",
        FIELD_MANAGER,
        "true",
        "application/apply-patch+yaml",
      ],
      ["/api/v1/namespaces/web/secrets/api", FIELD_MANAGER, "true", "application/apply-patch+yaml"],
    ]);

    // Outputs: names, namespaces and keys only (Nuon's shape, keyed by the Kubernetes Secret's name).
    const entry = (
      arn: string,
      name: string,
      namespace: string,
      secret: string,
      key: string,
      keys: string[],
    ) => ({
      name,
      arn,
      kubernetes_namespace: namespace,
      kubernetes_name: secret,
      ...(key !== "" ? { kubernetes_key: key } : {}),
      kubernetes_keys: keys,
      exists: true,
      timestamp: "2026-01-02T03:04:05.000Z",
    });
    expect(ran.outputs).toEqual({
      "db/data/db-credentials/": entry(DB_ARN, "db", "data", "db-credentials", "", [
        "password",
        "port",
        "username",
      ]),
      "api_token/web/api/token": entry(API_ARN, "api_token", "web", "api", "token", ["token"]),
      "cert/web/api/tls.crt": entry(CERT_ARN, "cert", "web", "api", "tls.crt", ["tls.crt"]),
    });
    expect(ran.text()).toContain('"keys":["tls.crt","token"]');
    expectNoValues(ran.text());
    expectNoValues(JSON.stringify(ran.outputs));
    expectNoValues(JSON.stringify(ran.detail.executions));
  });

  it("fails naming the ARN of a secret that does not exist, before writing any Secret", async () => {
    const ran = await sync(
      plan([
        { secret_arn: API_ARN, namespace: "web", name: "api", key_name: "token" },
        { secret_arn: MISSING_ARN, namespace: "web", name: "other", key_name: "value" },
      ]),
    );
    expect(ran.outcome).toMatchObject({ status: "failed", step: "execute" });
    expect(ran.outcome.message).toBe(
      `cannot read ${MISSING_ARN} from AWS Secrets Manager: ResourceNotFoundException: Secrets Manager can't find the specified secret.`,
    );
    expect(emulator.requests.map((r) => (r.body as { SecretId: string }).SecretId)).toEqual([
      API_ARN,
      MISSING_ARN,
    ]);
    expect(api.requests.filter((r) => r.method === "PATCH")).toEqual([]);
    expect(api.get("v1", "Secret", "web", "api")).toBeUndefined();
    expectNoValues(ran.text());
    expectNoValues(JSON.stringify(ran.detail.executions));
  });

  it("skips a secret whose value is empty, reporting exists: false, as Nuon's runner does", async () => {
    const ran = await sync(
      plan([
        { secret_arn: EMPTY_ARN, secret_name: "opt", namespace: "web", name: "optional", key_name: "v" },
      ]),
    );
    expect(ran.outcome.status).toBe("finished");
    expect(ran.outputs).toEqual({
      "opt/web/optional/v": {
        name: "opt",
        arn: EMPTY_ARN,
        kubernetes_namespace: "web",
        kubernetes_name: "optional",
        kubernetes_key: "v",
        kubernetes_keys: [],
        exists: false,
        timestamp: "2026-01-02T03:04:05.000Z",
      },
    });
    expect(api.requests.filter((r) => r.method === "PATCH")).toEqual([]);
  });

  it("fails naming the ARN, not the value, when a json secret is not a JSON object", async () => {
    const ran = await sync(plan([{ secret_arn: API_ARN, namespace: "web", name: "api", format: "JSON" }]));
    expect(ran.outcome).toMatchObject({
      status: "failed",
      step: "execute",
      message: `the value of ${API_ARN} is not a JSON object, and its format is json`,
    });
    expectNoValues(ran.text());
    expectNoValues(JSON.stringify(ran.detail.executions));
  });

  it("uses the SDK's default credential chain when aws_auth has no static keys", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: "AKIADEFAULTCHAIN0001",
      AWS_SECRET_ACCESS_KEY: "default-chain-secret-key-1234567890",
      AWS_CONFIG_FILE: "/nonexistent/aws-config",
      AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
    });
    delete process.env.AWS_PROFILE;
    try {
      const ran = await sync(
        plan([{ secret_arn: API_ARN, namespace: "web", name: "api", key_name: "token" }], {
          aws_auth: { use_default: true },
        }),
      );
      expect(ran.outcome.message).toBeUndefined();
      expect(emulator.requests[0]?.credentialScope).toMatch(
        /^AKIADEFAULTCHAIN0001\/\d{8}\/us-east-1\/secretsmanager\//,
      );
      expect(decoded(api.get("v1", "Secret", "web", "api")?.data)).toEqual({ token: API_TOKEN });
      expect(ran.text()).not.toContain("default-chain-secret-key-1234567890");
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });

  it.each([
    [
      "assume_role",
      () =>
        plan([{ secret_arn: API_ARN, namespace: "w", name: "a", key_name: "k" }], {
          aws_auth: { assume_role: { role_arn: "arn:aws:iam::1:role/x" } },
        }),
      "validate",
      /aws_auth\.assume_role is not supported for reading secrets yet/,
    ],
    [
      "two entries writing one key",
      () =>
        plan([
          { secret_arn: API_ARN, namespace: "w", name: "a", key_name: "k" },
          { secret_arn: CERT_ARN, namespace: "w", name: "a", key_name: "k" },
        ]),
      "validate",
      /two kubernetes_secrets entries write the same key: Secret w\/a key "k" \(from .*api-token-GhIjKl and .*cert-MnOpQr\)/,
    ],
    [
      "a string entry without key_name",
      () => plan([{ secret_arn: API_ARN, namespace: "w", name: "a" }]),
      "fetch",
      /key_name is required for format string; +→ at kubernetes_secrets\[0\]\.key_name/,
    ],
    [
      "an unknown format",
      () => plan([{ secret_arn: API_ARN, namespace: "w", name: "a", key_name: "k", format: "yaml" }]),
      "fetch",
      /format must be one of string, base64, json/,
    ],
  ])("refuses %s before reading any secret", async (_name, p, step, message) => {
    const ran = await sync(p());
    expect(ran.outcome).toMatchObject({ status: "failed", step });
    expect(ran.outcome.message).toMatch(message);
    expect(emulator.requests).toEqual([]);
  });

  it("posts sandbox_mode.outputs without reading or writing anything", async () => {
    const ran = await sync(
      plan([{ secret_arn: API_ARN, namespace: "w", name: "a", key_name: "k" }], {
        sandbox_mode: { enabled: true, outputs: { a: { exists: true } } },
      }),
    );
    expect(ran.outcome.status).toBe("finished");
    expect(ran.outputs).toEqual({ a: { exists: true } });
    expect(emulator.requests).toEqual([]);
    expect(api.requests.filter((r) => r.method !== "GET")).toEqual([]);
  });
});
