/**
 * ECR registry credentials from AWS credentials: `GetAuthorizationToken` (@aws-sdk/client-ecr, imported on
 * first use) answers a base64 `AWS:<password>` token valid for 12 hours, used as Basic auth and cached until
 * shortly before `expiresAt`. AWS credentials come from the registry config's `ECRAuth` (Nuon's
 * `pkg/aws/credentials` config): `static` keys, else the SDK's default chain (environment, shared config with
 * `profile`, web identity, container and instance metadata); `assume_role` is refused (no STS client is
 * bundled). Region: `ECRAuth.region`, else the config's `Region`, else the registry host
 * (`<account>.dkr.ecr.<region>.amazonaws.com`), else the SDK's default (AWS_REGION). Secrets (static keys,
 * the token, the password) go to `onSecret` as soon as they are known.
 */
import type { ECRClient, GetAuthorizationTokenCommandOutput } from "@aws-sdk/client-ecr";
import { AwsAuth, staticAwsCredentials } from "../../kube/cluster-info.ts";
import { OciError } from "./errors.ts";
import type { ProvidedRegistryCredentials, RegistryCredentials } from "./registry-config.ts";

/** Options of ecrCredentials. */
export interface EcrCredentialsOptions {
  /** ECR API endpoint URL (a loopback emulator in tests); default `AWS_ENDPOINT_URL_ECR`, else AWS's. */
  endpoint?: string | undefined;
  /** Attempts per GetAuthorizationToken call, retries included; default the SDK's 3. */
  maxAttempts?: number | undefined;
  /** Receives every secret as soon as it is known, for the redactor. */
  onSecret?: ((secret: string) => void) | undefined;
  /** Environment read for AWS_ENDPOINT_URL_ECR; default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
}

/** What ecrCredentials needs from the registry config. */
export interface EcrRegistry {
  /** Registry host, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com`. */
  registry: string;
  /** The config's `Region`, when set. */
  region?: string | undefined;
  /** The config's `ECRAuth` (raw; parsed here). */
  auth: unknown;
}

/** A token is refreshed this long before ECR says it expires, in ms: 5 minutes. */
export const ECR_TOKEN_MARGIN_MS = 5 * 60_000;

/** The region in an ECR registry host like `123456789012.dkr.ecr.us-east-1.amazonaws.com`, if it is one. */
export function regionFromEcrHost(host: string): string | undefined {
  const m = /^\d{12}\.dkr\.ecr(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?(?::\d+)?$/.exec(
    host,
  );
  return m?.[1];
}

/** Decodes ECR's `authorizationToken` (base64 `user:password`); throws OciError PROTOCOL when malformed. */
export function decodeEcrToken(token: string): { username: string; password: string } {
  const decoded = Buffer.from(token, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0 || colon === decoded.length - 1) {
    throw new OciError(
      "PROTOCOL",
      "ECR GetAuthorizationToken answered a token that is not base64 of user:password",
    );
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Lazy ECR credentials for one registry (see the module comment); throws OciError INVALID/UNSUPPORTED early. */
export function ecrCredentials(
  target: EcrRegistry,
  options: EcrCredentialsOptions = {},
): RegistryCredentials {
  const parsed = AwsAuth.nullish().safeParse(target.auth ?? undefined);
  if (!parsed.success) {
    throw new OciError(
      "INVALID",
      `the registry config's ECRAuth is not an AWS credentials config: ${parsed.error.message}`,
    );
  }
  const auth = parsed.data ?? undefined;
  if (auth?.assume_role?.role_arn) {
    throw new OciError(
      "UNSUPPORTED",
      "ECRAuth.assume_role is not supported yet; give the runner credentials that can call ecr:GetAuthorizationToken (ECRAuth.static, or the default chain: environment, instance or pod role), or put a registry token in OCIAuth",
    );
  }
  const region =
    (auth?.region ?? "").trim() || target.region || regionFromEcrHost(target.registry) || undefined;
  const endpoint = options.endpoint ?? (options.env ?? process.env).AWS_ENDPOINT_URL_ECR ?? undefined;
  const staticKeys = staticAwsCredentials(auth);
  if (staticKeys !== undefined) {
    options.onSecret?.(staticKeys.secretAccessKey);
    if (staticKeys.sessionToken !== undefined) options.onSecret?.(staticKeys.sessionToken);
  }
  const description = `ECR credentials (region ${region ?? "from the environment"})`;

  let client: ECRClient | undefined;
  let cached: ProvidedRegistryCredentials | undefined;
  let inFlight: Promise<ProvidedRegistryCredentials> | undefined;

  async function fetchToken(signal: AbortSignal | undefined): Promise<ProvidedRegistryCredentials> {
    const sdk = await import("@aws-sdk/client-ecr");
    client ??= new sdk.ECRClient({
      ...(region !== undefined ? { region } : {}),
      ...(staticKeys !== undefined ? { credentials: staticKeys } : {}),
      ...(staticKeys === undefined && auth?.profile ? { profile: auth.profile } : {}),
      ...(endpoint !== undefined ? { endpoint } : {}),
      ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    });
    let out: GetAuthorizationTokenCommandOutput;
    try {
      out = await client.send(
        new sdk.GetAuthorizationTokenCommand({}),
        signal ? { abortSignal: signal } : {},
      );
    } catch (error) {
      if (signal?.aborted) {
        throw new OciError("ABORTED", `getting a token for ${target.registry} was aborted`, { cause: error });
      }
      const name = error instanceof Error ? error.name : "Error";
      const message = error instanceof Error ? error.message : String(error);
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      throw new OciError(
        status === 400 || status === 403 || /credential/i.test(name) ? "UNAUTHORIZED" : "NETWORK",
        `ECR GetAuthorizationToken for registry ${target.registry} failed: ${name}: ${message}; the push or pull was not attempted`,
        { cause: error, ...(status !== undefined ? { status } : {}) },
      );
    }
    const data = out.authorizationData?.[0];
    const token = data?.authorizationToken;
    if (!token) {
      throw new OciError(
        "PROTOCOL",
        `ECR GetAuthorizationToken for registry ${target.registry} answered no token`,
      );
    }
    options.onSecret?.(token);
    const { username, password } = decodeEcrToken(token);
    options.onSecret?.(password);
    const expiresAt = data.expiresAt?.getTime() ?? Date.now() + 60 * 60_000;
    const expiresAtMs = Math.max(expiresAt - ECR_TOKEN_MARGIN_MS, Date.now() + 1_000);
    return { kind: "basic", username, password, expiresAtMs };
  }

  return {
    kind: "provider",
    description,
    async get(signal) {
      if (cached !== undefined && cached.expiresAtMs > Date.now()) return cached;
      inFlight ??= fetchToken(signal).finally(() => {
        inFlight = undefined;
      });
      cached = await inFlight;
      return cached;
    },
  };
}
