import { describe, expect, it } from "vitest";
import { createRedactor, isSecretEnvName, isSecretKey } from "../../src/logs/redact.ts";

describe("isSecretEnvName", () => {
  it.each([
    ["RUNNER_API_TOKEN", true],
    ["GITHUB_TOKEN", true],
    ["github_token", true],
    ["AWS_SECRET_ACCESS_KEY", true],
    ["CLIENT_SECRET", true],
    ["DB_PASSWORD", true],
    ["Db_Password", true],
    ["TOKEN", true],
    ["password", true],
    ["ARM_CLIENT_KEY", true],
    ["SSH_PUBLIC_KEY", false],
    ["AWS_ACCESS_KEY_ID", false],
    ["TOKEN_URL", false],
    ["MYTOKEN", false],
    ["KEY", false],
    ["SECRET", false],
    ["HOME", false],
    ["RUNNER_API_URL", false],
  ])("%s → %s", (name, expected) => {
    expect(isSecretEnvName(name)).toBe(expected);
  });
});

describe("isSecretKey", () => {
  it.each([
    ["token", true],
    ["password", true],
    ["Password", true],
    ["secret", true],
    ["secret_access_key", true],
    ["secretAccessKey", true],
    ["session_token", true],
    ["client_secret", true],
    ["private_key", true],
    ["api_key", true],
    ["access_token", true],
    ["DB_PASSWORD", true],
    ["MY_SERVICE_KEY", true],
    ["ca_data", false],
    ["certificate", false],
    ["public_key", false],
    ["kube_config", false],
    ["access_key_id", false],
    ["secret_arn", false],
    ["secret_name", false],
    ["key_name", false],
    ["kubernetes_secrets", false],
    ["token_url", false],
    ["username", false],
    ["", false],
  ])("%s → %s", (key, expected) => {
    expect(isSecretKey(key)).toBe(expected);
  });
});

describe("addFromEnv", () => {
  it("registers the values of secret-named variables and nothing else", () => {
    const r = createRedactor();
    r.addFromEnv({
      RUNNER_API_TOKEN: "tok-abcdef123456",
      DB_PASSWORD: "hunter2-long",
      HOME: "/home/runner",
      FEATURE_KEY: "true",
      EMPTY_TOKEN: undefined,
    });
    const out = r.redact("tok-abcdef123456 hunter2-long /home/runner true").text;
    expect(out).toBe("[REDACTED] [REDACTED] /home/runner true");
  });
});

describe("addFromObject", () => {
  const plan = {
    cluster_info: {
      endpoint: "https://kube.invalid",
      ca_data: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
      aws_auth: {
        region: "us-west-2",
        static: {
          access_key_id: "AKIAEXAMPLEKEYID",
          secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
          session_token: "FwoGZXIvYXdzEBYaDExampleSessionToken",
        },
      },
    },
    ECRAuth: null,
    OCIAuth: { Username: "robot", Password: "oci-pass-9876" },
    azure: { service_principal: { client_secret: "az-secret-5555" } },
    env_vars: { GITHUB_TOKEN: "ghp_examplegithubtoken", LOG_LEVEL: "debug" },
    tokens: { api_token: ["first-token-1111", "second-token-2222"] },
    count: 3,
  };

  it("registers string values under secret keys at any depth, including arrays and env maps", () => {
    const r = createRedactor();
    r.addFromObject(plan);
    for (const secret of [
      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      "FwoGZXIvYXdzEBYaDExampleSessionToken",
      "oci-pass-9876",
      "az-secret-5555",
      "ghp_examplegithubtoken",
      "first-token-1111",
      "second-token-2222",
    ]) {
      expect(r.redact(secret).text, secret).toBe("[REDACTED]");
    }
  });

  it("leaves CA data, endpoints, ids and user names alone", () => {
    const r = createRedactor();
    r.addFromObject(plan);
    for (const visible of [
      "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
      "https://kube.invalid",
      "AKIAEXAMPLEKEYID",
      "robot",
      "debug",
      "us-west-2",
    ]) {
      expect(r.redact(visible).count, visible).toBe(0);
    }
  });

  it("uses the caller's key pattern instead of the rules when given", () => {
    const r = createRedactor();
    r.addFromObject({ endpoint: "https://kube.invalid", token: "tok-abcdef123456" }, /^endpoint$/);
    expect(r.redact("https://kube.invalid tok-abcdef123456").text).toBe("[REDACTED] tok-abcdef123456");
  });

  it("survives reference cycles", () => {
    const a: Record<string, unknown> = { password: "cyclic-pass-1" };
    a.self = a;
    const r = createRedactor();
    r.addFromObject(a);
    expect(r.redact("cyclic-pass-1").text).toBe("[REDACTED]");
  });
});
