/**
 * From secret values to Kubernetes Secrets, purely: a value in its `format` (plan.ts) becomes data entries,
 * entries naming the same Secret are merged into one object (so one server-side apply carries every key its
 * field manager owns), and the outputs name what was written without ever holding a value. Error messages
 * name ARNs, Secrets and keys, never a value or a parser message that could quote one.
 */
import type { KubeObject } from "../../kube/client.ts";
import { SECRET_KEY_PATTERN, type SecretSync } from "./plan.ts";

/** A value read from the secret store. */
export interface SecretValue {
  /** `SecretString`. */
  text?: string | undefined;
  /** `SecretBinary`, when the secret has no string. */
  bytes?: Uint8Array | undefined;
  /** When this version was created. */
  createdAt?: Date | undefined;
}

/** Whether the store holds nothing for the secret (Nuon's runner then skips it: `exists: false`). */
export function isEmptyValue(value: SecretValue): boolean {
  return (value.text ?? "") === "" && (value.bytes === undefined || value.bytes.byteLength === 0);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The data entries (key → raw bytes) a value gives in the entry's format; throws naming the ARN. */
export function secretEntries(sync: SecretSync, value: SecretValue): Record<string, Buffer> {
  const raw = value.text !== undefined ? Buffer.from(value.text, "utf8") : Buffer.from(value.bytes ?? []);
  switch (sync.format) {
    case "string":
      return { [sync.keyName]: raw };
    case "base64": {
      const compact = raw.toString("utf8").replace(/\s+/g, "");
      if (compact.length % 4 === 1 || !BASE64.test(compact)) {
        throw new Error(`the value of ${sync.arn} is not base64, and its format is base64`);
      }
      return { [sync.keyName]: Buffer.from(Buffer.from(compact, "base64").toString("utf8").trim(), "utf8") };
    }
    case "json": {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString("utf8"));
      } catch {
        // JSON.parse's message quotes the text: never pass it on.
        parsed = undefined;
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        throw new Error(`the value of ${sync.arn} is not a JSON object, and its format is json`);
      }
      const out: Record<string, Buffer> = {};
      for (const [key, item] of Object.entries(parsed)) {
        if (!SECRET_KEY_PATTERN.test(key)) {
          throw new Error(
            `the JSON value of ${sync.arn} has the key ${JSON.stringify(key.slice(0, 64))}, which cannot be a Kubernetes Secret key (letters, digits, '-', '_', '.')`,
          );
        }
        out[key] = Buffer.from(typeof item === "string" ? item : JSON.stringify(item), "utf8");
      }
      return out;
    }
  }
}

/** The texts a redactor must know for these entries (each value as UTF-8; base64 forms it derives itself). */
export function entryTexts(entries: Readonly<Record<string, Buffer>>): string[] {
  return Object.values(entries).map((bytes) => bytes.toString("utf8"));
}

/** One Kubernetes Secret to write: its data (base64) and which ARN gave which key. */
export interface DesiredSecret {
  namespace: string;
  name: string;
  /** Data key → base64 of the bytes. */
  data: Record<string, string>;
  /** Per key, the ARN it came from. */
  keySources: Record<string, string>;
}

/**
 * Merges entries into one DesiredSecret per namespace/name, in the order Secrets first appear. Two ARNs
 * giving the same key of the same Secret fail naming both.
 */
export function groupSecrets(
  items: ReadonlyArray<{ sync: SecretSync; entries: Readonly<Record<string, Buffer>> }>,
): DesiredSecret[] {
  const byName = new Map<string, DesiredSecret>();
  for (const { sync, entries } of items) {
    const id = `${sync.namespace}/${sync.name}`;
    let desired = byName.get(id);
    if (desired === undefined) {
      desired = { namespace: sync.namespace, name: sync.name, data: {}, keySources: {} };
      byName.set(id, desired);
    }
    for (const [key, bytes] of Object.entries(entries)) {
      const earlier = desired.keySources[key];
      if (earlier !== undefined) {
        throw new Error(
          `Secret ${id} would get the key ${JSON.stringify(key)} from both ${earlier} and ${sync.arn}; give each its own key_name or Secret`,
        );
      }
      desired.data[key] = bytes.toString("base64");
      desired.keySources[key] = sync.arn;
    }
  }
  return [...byName.values()];
}

/** Keys that two entries of a plan would both write (known before reading: formats string and base64). */
export function conflictingKeys(secrets: readonly SecretSync[]): string[] {
  const seen = new Map<string, string>();
  const conflicts: string[] = [];
  for (const sync of secrets) {
    if (sync.format === "json") continue;
    const id = `Secret ${sync.namespace}/${sync.name} key ${JSON.stringify(sync.keyName)}`;
    const earlier = seen.get(id);
    if (earlier !== undefined) conflicts.push(`${id} (from ${earlier} and ${sync.arn})`);
    else seen.set(id, sync.arn);
  }
  return conflicts;
}

/** The Secret object to apply (type Opaque). */
export function secretObject(desired: DesiredSecret): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: desired.name, namespace: desired.namespace },
    type: "Opaque",
    data: desired.data,
  };
}

/** One synced entry as outputs show it (Nuon's SecretSyncOutput, without the value's length). */
export interface SyncOutput {
  /** The secret's name in the app config (`secret_name`). */
  name: string;
  arn: string;
  kubernetes_namespace: string;
  kubernetes_name: string;
  kubernetes_key?: string;
  /** Runner extension: every data key this entry wrote (one for string/base64, the JSON keys for json). */
  kubernetes_keys: string[];
  exists: boolean;
  timestamp?: string;
}

/** The outputs key of an entry, as Nuon's runner makes it: `<secret_name>/<namespace>/<name>/<key_name>`. */
export function outputKey(sync: SecretSync): string {
  return `${sync.secretName}/${sync.namespace}/${sync.name}/${sync.keyName}`;
}

/** The outputs entry of one secret: names, namespace, keys and whether it exists; never the value. */
export function syncOutput(
  sync: SecretSync,
  keys: readonly string[],
  exists: boolean,
  createdAt: Date | undefined,
): SyncOutput {
  return {
    name: sync.secretName,
    arn: sync.arn,
    kubernetes_namespace: sync.namespace,
    kubernetes_name: sync.name,
    ...(sync.keyName !== "" ? { kubernetes_key: sync.keyName } : {}),
    kubernetes_keys: [...keys].sort(),
    exists,
    ...(createdAt !== undefined && !Number.isNaN(createdAt.getTime())
      ? { timestamp: createdAt.toISOString() }
      : {}),
  };
}
