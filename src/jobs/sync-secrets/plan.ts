/**
 * The `sandbox-sync-secrets` plan (PROTOCOL.md §1.8, Nuon's SyncSecretsPlan): `kubernetes_secrets[{secret_arn,
 * secret_name, namespace, name, key_name, format}]`, `cluster_info`, `aws_auth`, `azure_auth`,
 * `sandbox_mode`. Parsed with zod; a bad entry is named by its index.
 *
 * `format` (Nuon parses it from the app config's string; this runner defines it):
 * - `""` / `"string"` (default): the whole secret value under `key_name`;
 * - `"base64"`: the value is base64, decoded (and trimmed, as Nuon's runner does), under `key_name`;
 * - `"json"`: the value is a JSON object; each of its keys becomes a data key (strings as they are, other
 *   values as JSON text); `key_name` is not used.
 */
import * as z from "zod";
import { AwsAuth, ClusterInfo } from "../../kube/cluster-info.ts";

/** The formats a synced secret may have. */
export const SECRET_FORMATS = ["string", "base64", "json"] as const;
/** One of SECRET_FORMATS. */
export type SecretFormat = (typeof SECRET_FORMATS)[number];

/** Kubernetes Secret data keys: letters, digits, `-`, `_`, `.`; at most 253 characters. */
export const SECRET_KEY_PATTERN = /^[-._a-zA-Z0-9]{1,253}$/;

/** One `kubernetes_secrets` entry (Nuon's KubernetesSecretSync). */
export const KubernetesSecretSync = z
  .looseObject({
    secret_arn: z.string().min(1, "secret_arn (the AWS Secrets Manager secret) is required"),
    secret_name: z.string().nullish(),
    namespace: z.string().min(1, "namespace (of the Kubernetes Secret) is required"),
    name: z.string().min(1, "name (of the Kubernetes Secret) is required"),
    key_name: z.string().nullish(),
    format: z.preprocess(
      (value) => (typeof value === "string" ? value.trim().toLowerCase() : value),
      z
        .enum(["", ...SECRET_FORMATS], { error: `format must be one of ${SECRET_FORMATS.join(", ")}` })
        .nullish(),
    ),
  })
  .superRefine((entry, ctx) => {
    if (entry.format === "json") return;
    const key = entry.key_name ?? "";
    if (key === "") {
      ctx.addIssue({
        code: "custom",
        path: ["key_name"],
        message: `key_name is required for format ${entry.format || "string"}`,
      });
    } else if (!SECRET_KEY_PATTERN.test(key)) {
      ctx.addIssue({
        code: "custom",
        path: ["key_name"],
        message: "key_name must be letters, digits, '-', '_' or '.' (a Kubernetes Secret key)",
      });
    }
  });

/** SyncSecretsPlan. */
export const SyncSecretsPlanSchema = z.looseObject({
  kubernetes_secrets: z.array(KubernetesSecretSync).nullish(),
  cluster_info: ClusterInfo.nullish(),
  aws_auth: AwsAuth.nullish(),
  azure_auth: z.unknown().optional(),
  sandbox_mode: z
    .looseObject({ enabled: z.boolean().nullish(), outputs: z.record(z.string(), z.unknown()).nullish() })
    .nullish(),
});

/** One secret to sync, normalized. */
export interface SecretSync {
  arn: string;
  /** The secret's name in the app config (Nuon's `secret_name`); may be empty. */
  secretName: string;
  namespace: string;
  /** The Kubernetes Secret's name. */
  name: string;
  /** The data key (formats string and base64); empty for json. */
  keyName: string;
  format: SecretFormat;
}

/** The plan, normalized. */
export interface SyncSecretsPlan {
  secrets: SecretSync[];
  clusterInfo: ClusterInfo | undefined;
  awsAuth: AwsAuth | undefined;
  /** Sandbox mode: nothing is read or written; these outputs are posted. */
  sandboxOutputs: Record<string, unknown> | undefined;
}

/** Parses and normalizes a raw plan; throws a ZodError naming the bad field. */
export function parseSyncSecretsPlan(raw: unknown): SyncSecretsPlan {
  const plan = SyncSecretsPlanSchema.parse(raw);
  return {
    secrets: (plan.kubernetes_secrets ?? []).map((entry) => ({
      arn: entry.secret_arn.trim(),
      secretName: entry.secret_name ?? "",
      namespace: entry.namespace,
      name: entry.name,
      keyName: entry.format === "json" ? "" : (entry.key_name ?? ""),
      format: entry.format || "string",
    })),
    clusterInfo: plan.cluster_info ?? undefined,
    awsAuth: plan.aws_auth ?? undefined,
    sandboxOutputs: plan.sandbox_mode?.enabled === true ? (plan.sandbox_mode.outputs ?? {}) : undefined,
  };
}
