/**
 * Reading secrets from AWS Secrets Manager with @aws-sdk/client-secrets-manager (`GetSecretValue`,
 * `VersionStage: AWSCURRENT`, as Nuon's runner asks). Credentials from the plan's `aws_auth`: `static`
 * keys, else the SDK's default chain (environment, shared config with `profile`, web identity, container
 * and instance metadata). `assume_role` is not supported yet and is refused before anything is read.
 * Region: the secret ARN's (`arn:aws:secretsmanager:<region>:…`), else `aws_auth.region`, else the SDK's
 * default (AWS_REGION, shared config). One client per region, loaded on first use.
 */
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { type AwsAuth, staticAwsCredentials } from "../../kube/cluster-info.ts";
import type { SecretValue } from "./secret-data.ts";

/** Options of createSecretReader. */
export interface SecretReaderOptions {
  /** Secrets Manager endpoint URL (a loopback emulator in tests); default the SDK's (AWS_ENDPOINT_URL_SECRETS_MANAGER, else AWS). */
  endpoint?: string | undefined;
  /** Attempts per request, retries included; default the SDK's 3. */
  maxAttempts?: number | undefined;
  /** Receives credentials as soon as they are known (static keys), for the redactor. */
  onSecret?: ((secret: string) => void) | undefined;
}

/** Reads secret values. */
export interface SecretReader {
  /** The current value of `arn`; throws an Error naming the ARN and AWS's error (never a value). */
  read(arn: string, signal: AbortSignal): Promise<SecretValue>;
  /** Releases the clients' connections. */
  close(): void;
}

/** The region in a Secrets Manager ARN, or undefined when `arn` is a name or another kind of ARN. */
export function regionOfArn(arn: string): string | undefined {
  const parts = arn.split(":");
  return parts.length >= 7 && parts[0] === "arn" && parts[2] === "secretsmanager" && parts[3] !== ""
    ? parts[3]
    : undefined;
}

/** Throws an Error naming what in `auth` this runner cannot use (assume_role). */
export function checkAwsAuth(auth: AwsAuth | undefined): void {
  if (auth?.assume_role?.role_arn) {
    throw new Error(
      "aws_auth.assume_role is not supported for reading secrets yet; give the runner credentials that can read them (aws_auth.static, or the default chain: environment, instance or pod role)",
    );
  }
}

/** Creates a reader using `auth` (see the module comment). */
export function createSecretReader(
  auth: AwsAuth | undefined,
  options: SecretReaderOptions = {},
): SecretReader {
  checkAwsAuth(auth);
  const clients = new Map<string, Promise<SecretsManagerClient>>();
  const credentials = staticAwsCredentials(auth);
  if (credentials !== undefined) {
    options.onSecret?.(credentials.secretAccessKey);
    if (credentials.sessionToken !== undefined) options.onSecret?.(credentials.sessionToken);
  }

  function clientFor(region: string | undefined): Promise<SecretsManagerClient> {
    const id = region ?? "";
    let client = clients.get(id);
    if (client === undefined) {
      client = import("@aws-sdk/client-secrets-manager").then(
        (sdk) =>
          new sdk.SecretsManagerClient({
            ...(region !== undefined ? { region } : {}),
            ...(credentials !== undefined ? { credentials } : {}),
            ...(credentials === undefined && auth?.profile ? { profile: auth.profile } : {}),
            ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
            ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
          }),
      );
      clients.set(id, client);
    }
    return client;
  }

  return {
    async read(arn, signal) {
      const region = regionOfArn(arn) ?? (auth?.region || undefined);
      const { GetSecretValueCommand } = await import("@aws-sdk/client-secrets-manager");
      const client = await clientFor(region);
      try {
        const out = await client.send(
          new GetSecretValueCommand({ SecretId: arn, VersionStage: "AWSCURRENT" }),
          { abortSignal: signal },
        );
        return {
          ...(out.SecretString !== undefined ? { text: out.SecretString } : {}),
          ...(out.SecretString === undefined && out.SecretBinary !== undefined
            ? { bytes: out.SecretBinary }
            : {}),
          ...(out.CreatedDate !== undefined ? { createdAt: out.CreatedDate } : {}),
        };
      } catch (err) {
        if (signal.aborted) throw signal.reason ?? err;
        const name = err instanceof Error ? err.name : "Error";
        const message = err instanceof Error ? err.message : String(err);
        throw new Error(`cannot read ${arn} from AWS Secrets Manager: ${name}: ${message}`, { cause: err });
      }
    },
    close() {
      for (const client of clients.values()) void client.then((c) => c.destroy()).catch(() => undefined);
      clients.clear();
    },
  };
}
