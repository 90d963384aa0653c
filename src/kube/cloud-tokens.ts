/**
 * Bearer tokens for managed clusters:
 *
 * - EKS: AWS credentials from `aws_auth.static`, else (use_default, or nothing said) from the environment
 *   (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, the job's `env_vars` over the
 *   runner's), else from an injected provider (instance profile, assume-role: not built in). The token is
 *   presigned in-process (eks-token.ts) and refreshed every 10 minutes (EKS accepts it for 15).
 * - AKS: like Nuon's runner, `kubelogin get-token --login msi|azurecli --server-id <AKS AAD server app>
 *   --tenant-id <tenant> [--client-id <managed identity>]`, run through runCommand; its ExecCredential JSON
 *   gives the token and its expiry. `ARM_USE_MSI=true` selects the managed identity.
 */
import { runCommand } from "../exec/run-command.ts";
import { type AwsAuth, type AzureAuth, staticAwsCredentials } from "./cluster-info.ts";
import { type AwsCredentials, EKS_TOKEN_LIFETIME_MS, eksToken } from "./eks-token.ts";

/** Supplies AWS credentials the built-in sources do not cover (assume-role, instance profiles). */
export type AwsCredentialsProvider = (
  auth: AwsAuth | undefined,
  roleArn: string | undefined,
) => Promise<AwsCredentials>;

/** A token and when it stops being good (epoch ms). */
export interface ExpiringToken {
  token: string;
  expiresAtMs: number;
}

/** The AKS AAD server application id every AKS cluster accepts tokens for (Nuon passes the same). */
export const AKS_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630";
/** EKS tokens are remade after 10 minutes. */
export const EKS_REFRESH_MS = 10 * 60_000;

/** Resolves the AWS credentials for an EKS token; throws naming what is missing. */
export async function resolveAwsCredentials(
  auth: AwsAuth | undefined,
  roleArn: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  provider: AwsCredentialsProvider | undefined,
): Promise<AwsCredentials> {
  const needsProvider = Boolean(auth?.assume_role?.role_arn) || Boolean(roleArn) || Boolean(auth?.profile);
  const fromAuth = needsProvider ? undefined : staticAwsCredentials(auth);
  if (fromAuth !== undefined) return fromAuth;
  if (!needsProvider && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
  }
  if (provider !== undefined) return provider(auth, roleArn ?? auth?.assume_role?.role_arn ?? undefined);
  const what = needsProvider
    ? "assume-role and profile credentials need an AWS credentials provider, and this runner has none configured"
    : "aws_auth has no static credentials and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set";
  throw new Error(`cannot make an EKS token: ${what}`);
}

/** The region of an EKS endpoint like `https://ABC.gr7.us-west-2.eks.amazonaws.com`, if it is one. */
export function regionFromEksEndpoint(endpoint: string): string | undefined {
  try {
    const m = /\.([a-z]{2}(?:-[a-z]+)+-\d+)\.eks\.amazonaws\.com(?:\.cn)?$/.exec(new URL(endpoint).hostname);
    return m?.[1];
  } catch {
    return undefined;
  }
}

/** Makes a fresh EKS token for `clusterName`. */
export async function makeEksToken(args: {
  clusterName: string;
  region: string;
  auth: AwsAuth | undefined;
  roleArn: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
  provider: AwsCredentialsProvider | undefined;
  nowMs: number;
}): Promise<ExpiringToken> {
  const credentials = await resolveAwsCredentials(args.auth, args.roleArn, args.env, args.provider);
  const token = eksToken({
    clusterName: args.clusterName,
    region: args.region,
    credentials,
    date: new Date(args.nowMs),
  });
  return { token, expiresAtMs: args.nowMs + Math.min(EKS_REFRESH_MS, EKS_TOKEN_LIFETIME_MS) };
}

/** Argv of the kubelogin call for an AKS token (pure). */
export function kubeloginArgs(auth: AzureAuth, env: Readonly<Record<string, string | undefined>>): string[] {
  const tenant = auth.service_principal?.subscription_tenant_id;
  if (!tenant)
    throw new Error("cannot get an AKS token: azure_auth.service_principal.subscription_tenant_id is empty");
  const msi = env.ARM_USE_MSI === "true";
  const args = [
    "get-token",
    "--login",
    msi ? "msi" : "azurecli",
    "--server-id",
    AKS_SERVER_APP_ID,
    "--tenant-id",
    tenant,
  ];
  if (msi && auth.managed_identity_client_id) args.push("--client-id", auth.managed_identity_client_id);
  return args;
}

/** Reads an ExecCredential (`client.authentication.k8s.io/v1beta1`) printed by a credential plugin. */
export function parseExecCredential(stdout: string, nowMs: number): ExpiringToken {
  let parsed: { status?: { token?: string; expirationTimestamp?: string } };
  try {
    parsed = JSON.parse(stdout) as typeof parsed;
  } catch {
    throw new Error("the credential plugin did not print an ExecCredential JSON object");
  }
  const token = parsed.status?.token;
  if (typeof token !== "string" || token === "")
    throw new Error("the credential plugin's ExecCredential has no token");
  const expires = Date.parse(parsed.status?.expirationTimestamp ?? "");
  // Refresh a minute early; without an expiry, after 5 minutes.
  return { token, expiresAtMs: Number.isNaN(expires) ? nowMs + 5 * 60_000 : expires - 60_000 };
}

/** Runs kubelogin for an AKS token. */
export async function makeAksToken(args: {
  auth: AzureAuth;
  env: Record<string, string>;
  signal?: AbortSignal;
  killGraceMs?: number;
  nowMs: number;
}): Promise<ExpiringToken> {
  const result = await runCommand({
    file: "kubelogin",
    args: kubeloginArgs(args.auth, args.env),
    env: args.env,
    captureStdout: true,
    ...(args.signal !== undefined ? { signal: args.signal } : {}),
    ...(args.killGraceMs !== undefined ? { killGraceMs: args.killGraceMs } : {}),
  }).catch((err: unknown) => {
    const code = (err as { code?: string }).code;
    if (code === "NOT_FOUND")
      throw new Error("cannot get an AKS token: kubelogin is not installed on this runner (not on PATH)");
    throw err;
  });
  if (result.failed) {
    throw new Error(
      `cannot get an AKS token: kubelogin failed (${result.stderrTail.join(" ").slice(0, 300)})`,
    );
  }
  return parseExecCredential(result.stdout ?? "", args.nowMs);
}
