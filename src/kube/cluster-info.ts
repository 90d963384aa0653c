/**
 * The plans' `cluster_info` (PROTOCOL.md §1.8; Nuon's `pkg/kube/cluster_info.go`): how to reach the cluster
 * a kubernetes-manifest, helm or job deploy targets. Parsed with zod; Go's `null` for nil maps and pointers
 * reads as absent. `azure_auth` is a Go struct without json tags, so its keys arrive as `ServicePrincipal` /
 * `UseDefault`; both spellings are accepted.
 *
 * Runner extension: `token` — a bearer token for `endpoint` (Nuon's runner has no such field; it is for
 * run-local job files and for clusters reached with a service-account token).
 */
import * as z from "zod";
import type { AwsCredentials } from "./eks-token.ts";

/** Go marshals nil maps as null. */
const StringMap = z.record(z.string(), z.string()).nullish();

/** AWS credentials config (`pkg/aws/credentials/config.go`). */
export const AwsAuth = z.looseObject({
  region: z.string().nullish(),
  profile: z.string().nullish(),
  cache_id: z.string().nullish(),
  use_default: z.boolean().nullish(),
  static: z
    .looseObject({
      access_key_id: z.string().nullish(),
      secret_access_key: z.string().nullish(),
      session_token: z.string().nullish(),
    })
    .nullish(),
  assume_role: z
    .looseObject({
      role_arn: z.string().nullish(),
      session_name: z.string().nullish(),
      session_duration_seconds: z.number().nullish(),
    })
    .nullish(),
});
export type AwsAuth = z.infer<typeof AwsAuth>;

/** The static keys of `auth` as SDK credentials, when both the key id and the secret are set. */
export function staticAwsCredentials(auth: AwsAuth | null | undefined): AwsCredentials | undefined {
  const key = auth?.static;
  if (!key?.access_key_id || !key.secret_access_key) return undefined;
  return {
    accessKeyId: key.access_key_id,
    secretAccessKey: key.secret_access_key,
    ...(key.session_token ? { sessionToken: key.session_token } : {}),
  };
}

const ServicePrincipal = z.looseObject({
  subscription_id: z.string().nullish(),
  subscription_tenant_id: z.string().nullish(),
});

/** Renames Go field names and snake_case spellings of azure_auth to one spelling. */
function normalizeAzureKeys(input: unknown): unknown {
  if (input === null || typeof input !== "object" || Array.isArray(input)) return input;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const flat = key.toLowerCase().replaceAll("_", "");
    if (flat === "serviceprincipal") out.service_principal = value;
    else if (flat === "usedefault") out.use_default = value;
    else if (flat === "managedidentityclientid") out.managed_identity_client_id = value;
    else out[key] = value;
  }
  return out;
}

/** Azure credentials config (`pkg/azure/credentials/config.go`, no json tags on the outer struct). */
export const AzureAuth = z.preprocess(
  normalizeAzureKeys,
  z.looseObject({
    service_principal: ServicePrincipal.nullish(),
    use_default: z.boolean().nullish(),
    managed_identity_client_id: z.string().nullish(),
  }),
);
export type AzureAuth = z.infer<typeof AzureAuth>;

/** ClusterInfo. */
export const ClusterInfo = z.looseObject({
  /** The EKS cluster name (used in EKS tokens). */
  id: z.string().nullish(),
  /** API server URL. */
  endpoint: z.string().nullish(),
  /** Base64 of the PEM CA bundle that signed the API server's certificate. */
  ca_data: z.string().nullish(),
  /** Environment for credential helpers (AWS_REGION, AWS_PROFILE, ARM_USE_MSI, …). */
  env_vars: StringMap,
  /** A whole kubeconfig; when set it is used instead of everything else. */
  kube_config: z.string().nullish(),
  aws_auth: AwsAuth.nullish(),
  azure_auth: AzureAuth.nullish(),
  gcp_auth: z.unknown().optional(),
  /** Nuon: make the EKS token in-process instead of running aws-iam-authenticator (this runner always does). */
  inline: z.boolean().nullish(),
  /** Deprecated in Nuon: a role to assume before talking to EKS. */
  trusted_role_arn: z.string().nullish(),
  /** Runner extension: a bearer token for `endpoint`. */
  token: z.string().nullish(),
});
export type ClusterInfo = z.infer<typeof ClusterInfo>;

/** True when nothing in `info` says how to reach a cluster (the in-cluster service account is used then). */
export function isEmptyClusterInfo(info: ClusterInfo | null | undefined): boolean {
  return info === null || info === undefined || (!info.kube_config && !info.endpoint);
}
