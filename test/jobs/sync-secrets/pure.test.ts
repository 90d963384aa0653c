/** The pure parts of sandbox-sync-secrets: plan parsing, formats, merging, ARNs. */
import { describe, expect, it } from "vitest";
import { parseSyncSecretsPlan, type SecretSync } from "../../../src/jobs/sync-secrets/plan.ts";
import {
  conflictingKeys,
  groupSecrets,
  isEmptyValue,
  secretEntries,
  secretObject,
} from "../../../src/jobs/sync-secrets/secret-data.ts";
import { checkAwsAuth, regionOfArn } from "../../../src/jobs/sync-secrets/secrets-manager.ts";

const ARN = "arn:aws:secretsmanager:us-west-2:111122223333:secret:app/db-a1B2c3";

const entry = (over: Partial<SecretSync> = {}): SecretSync => ({
  arn: ARN,
  secretName: "db",
  namespace: "ns",
  name: "db",
  keyName: "value",
  format: "string",
  ...over,
});

const text = (entries: Record<string, Buffer>) =>
  Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, v.toString("utf8")]));

describe("parseSyncSecretsPlan", () => {
  it("normalizes Nuon's entries: empty format is string, json drops key_name, Go nulls are absent", () => {
    const plan = parseSyncSecretsPlan({
      kubernetes_secrets: [
        { secret_arn: ` ${ARN} `, secret_name: "db", namespace: "a", name: "s", key_name: "k", format: "" },
        { secret_arn: ARN, namespace: "a", name: "t", key_name: "ignored", format: "Json" },
      ],
      cluster_info: null,
      aws_auth: null,
      azure_auth: null,
    });
    expect(plan.secrets).toEqual([
      { arn: ARN, secretName: "db", namespace: "a", name: "s", keyName: "k", format: "string" },
      { arn: ARN, secretName: "", namespace: "a", name: "t", keyName: "", format: "json" },
    ]);
    expect(plan.clusterInfo).toBeUndefined();
    expect(plan.awsAuth).toBeUndefined();
    expect(plan.sandboxOutputs).toBeUndefined();
  });

  it.each([
    [{ secret_arn: "", namespace: "a", name: "s", key_name: "k" }, /secret_arn.*is required/],
    [{ secret_arn: ARN, namespace: "a", name: "s", key_name: "a b" }, /key_name must be letters/],
    [{ secret_arn: ARN, namespace: "", name: "s", key_name: "k" }, /namespace/],
  ])("names the bad field of %j", (bad, message) => {
    expect(() => parseSyncSecretsPlan({ kubernetes_secrets: [bad] })).toThrow(message);
  });
});

describe("secretEntries", () => {
  it("string: the whole value (or the binary secret) under key_name", () => {
    expect(text(secretEntries(entry(), { text: "a b\nc" }))).toEqual({ value: "a b\nc" });
    expect(secretEntries(entry(), { bytes: Uint8Array.from([0, 255]) }).value).toEqual(Buffer.from([0, 255]));
  });

  it("base64: decoded and trimmed, as Nuon's runner does; not base64 fails naming the ARN only", () => {
    const encoded = `${Buffer.from("  hello  \n").toString("base64")}\n`;
    expect(text(secretEntries(entry({ format: "base64" }), { text: encoded }))).toEqual({ value: "hello" });
    expect(() => secretEntries(entry({ format: "base64" }), { text: "not*base64!" })).toThrow(
      `the value of ${ARN} is not base64, and its format is base64`,
    );
  });

  it("json: each key a data key, non-strings as JSON text", () => {
    const value = { text: JSON.stringify({ user: "u", port: 5432, tls: true, opts: { a: 1 }, none: null }) };
    expect(text(secretEntries(entry({ format: "json", keyName: "" }), value))).toEqual({
      user: "u",
      port: "5432",
      tls: "true",
      opts: '{"a":1}',
      none: "null",
    });
  });

  it.each([
    ["not JSON", "super-secret-not-json"],
    ["a JSON array", '["super-secret-in-array"]'],
    ["a JSON string", '"super-secret-string"'],
  ])("json: %s fails without quoting the value", (_name, value) => {
    let message = "";
    try {
      secretEntries(entry({ format: "json", keyName: "" }), { text: value });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(`the value of ${ARN} is not a JSON object, and its format is json`);
    expect(message).not.toContain("super-secret");
  });

  it("json: a key Kubernetes does not allow fails naming the key", () => {
    expect(() => secretEntries(entry({ format: "json", keyName: "" }), { text: '{"a key": "v"}' })).toThrow(
      /has the key "a key", which cannot be a Kubernetes Secret key/,
    );
  });

  it("empty values are recognized (they are skipped, as Nuon's runner does)", () => {
    expect(isEmptyValue({ text: "" })).toBe(true);
    expect(isEmptyValue({ bytes: new Uint8Array() })).toBe(true);
    expect(isEmptyValue({})).toBe(true);
    expect(isEmptyValue({ text: "x" })).toBe(false);
  });
});

describe("groupSecrets and conflicts", () => {
  it("merges entries of one Secret in first-seen order and refuses one key from two ARNs", () => {
    const a = entry({ keyName: "a" });
    const b = entry({ keyName: "b", arn: `${ARN}-other` });
    const c = entry({ name: "other", keyName: "a" });
    const grouped = groupSecrets([
      { sync: a, entries: { a: Buffer.from("1") } },
      { sync: c, entries: { a: Buffer.from("3") } },
      { sync: b, entries: { b: Buffer.from("2") } },
    ]);
    expect(grouped.map((g) => [g.name, g.data])).toEqual([
      ["db", { a: "MQ==", b: "Mg==" }],
      ["other", { a: "Mw==" }],
    ]);
    expect(secretObject(grouped[0] as (typeof grouped)[0])).toEqual({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db", namespace: "ns" },
      type: "Opaque",
      data: { a: "MQ==", b: "Mg==" },
    });
    expect(() =>
      groupSecrets([
        { sync: a, entries: { k: Buffer.from("1") } },
        { sync: b, entries: { k: Buffer.from("2") } },
      ]),
    ).toThrow(`Secret ns/db would get the key "k" from both ${ARN} and ${ARN}-other`);
    expect(
      conflictingKeys([a, entry({ keyName: "a", arn: "x" }), entry({ format: "json", keyName: "" })]),
    ).toEqual([`Secret ns/db key "a" (from ${ARN} and x)`]);
  });
});

describe("ARNs and credentials", () => {
  it.each([
    [ARN, "us-west-2"],
    ["arn:aws-cn:secretsmanager:cn-north-1:1:secret:x", "cn-north-1"],
    ["prod/db", undefined],
    ["arn:aws:ssm:us-east-1:1:parameter/x", undefined],
  ])("the region of %s is %s", (arn, region) => {
    expect(regionOfArn(arn)).toBe(region);
  });

  it("refuses assume_role, accepts static keys and the default chain", () => {
    expect(() => checkAwsAuth({ assume_role: { role_arn: "arn:aws:iam::1:role/r" } })).toThrow(/assume_role/);
    expect(() => checkAwsAuth({ static: { access_key_id: "a", secret_access_key: "b" } })).not.toThrow();
    expect(() => checkAwsAuth(undefined)).not.toThrow();
  });
});
