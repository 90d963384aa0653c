/**
 * ACR registry credentials from an Azure AD identity, the way `az acr login` gets them: an AAD access token
 * (@azure/identity, imported on first use) for the container registry audience, exchanged at
 * `https://<loginServer>/oauth2/exchange` (`grant_type=access_token`) for an ACR refresh token, which the
 * authorizer then trades for access tokens with the refresh-token flow (auth.ts). Cached until shortly
 * before the refresh token (its JWT `exp`, else the AAD token's expiry) runs out.
 *
 * The identity, from the config's `ACRAuth` (Nuon's `pkg/azure/credentials` config): a client secret
 * (ClientSecretCredential) when a client id and secret are known (`service_principal.client_id`/
 * `client_secret`, a Runner extension, else AZURE_CLIENT_ID/AZURE_CLIENT_SECRET) with the tenant from
 * `service_principal.subscription_tenant_id` (else AZURE_TENANT_ID); else a managed identity when
 * `managed_identity_client_id` is set; else DefaultAzureCredential. Secrets go to `onSecret` when known.
 */
import type { TokenCredential } from "@azure/identity";
import { type Dispatcher, getGlobalDispatcher, request } from "undici";
import { AzureAuth } from "../../kube/cluster-info.ts";
import { OciError } from "./errors.ts";
import type { ProvidedRegistryCredentials, RegistryCredentials } from "./registry-config.ts";

/** The AAD scope asked for by default: the container registry audience. */
export const ACR_AAD_SCOPE = "https://containerregistry.azure.net/.default";
/** A refresh token is replaced this long before it expires, in ms: 5 minutes. */
export const ACR_TOKEN_MARGIN_MS = 5 * 60_000;

/** Options of acrCredentials. */
export interface AcrCredentialsOptions {
  /** The AAD token source; default chosen from ACRAuth (see the module comment). */
  credential?: TokenCredential | undefined;
  /** AAD authority host for credentials made here (no instance discovery then); default the SDK's (AZURE_AUTHORITY_HOST, else public cloud). */
  authorityHost?: string | undefined;
  /** Extra CA certificates (PEM) trusted by the AAD calls; default the system's. TLS is always verified. */
  aadCa?: string | undefined;
  /** AAD scope; default ACR_AAD_SCOPE. */
  scope?: string | undefined;
  /** Dispatcher of the exchange request; default undici's global one. */
  dispatcher?: Dispatcher | undefined;
  /** Deadline of the exchange request in ms; default 30 000. */
  timeoutMs?: number | undefined;
  /** Receives every secret as soon as it is known, for the redactor. */
  onSecret?: ((secret: string) => void) | undefined;
  /** Environment read for AZURE_CLIENT_ID/SECRET/TENANT_ID; default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
}

/** What acrCredentials needs from the registry config. */
export interface AcrRegistry {
  /** The login server, e.g. `myregistry.azurecr.io`. */
  registry: string;
  /** `https` (`http` is refused: an AAD token never goes over plain HTTP). */
  scheme: "https" | "http";
  /** The config's `ACRAuth` (raw; parsed here). */
  auth: unknown;
}

/** The `exp` of a JWT in epoch ms, or undefined when `token` is not a JWT with one. */
export function jwtExpiryMs(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown };
    return typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Lazy ACR credentials for one registry (see the module comment); throws OciError INVALID/UNSUPPORTED early. */
export function acrCredentials(
  target: AcrRegistry,
  options: AcrCredentialsOptions = {},
): RegistryCredentials {
  const parsed = AzureAuth.nullish().safeParse(target.auth ?? undefined);
  if (!parsed.success) {
    throw new OciError(
      "INVALID",
      `the registry config's ACRAuth is not an Azure credentials config: ${parsed.error.message}`,
    );
  }
  if (target.scheme !== "https") {
    throw new OciError(
      "UNSUPPORTED",
      `registry ${target.registry} is plain HTTP; refusing to send an Azure AD token to it (ACR is HTTPS only)`,
    );
  }
  const auth = parsed.data ?? undefined;
  const env = options.env ?? process.env;
  const principal = (auth?.service_principal ?? {}) as Record<string, unknown>;
  const text = (value: unknown) =>
    typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
  const tenantId = text(principal.subscription_tenant_id) ?? text(env.AZURE_TENANT_ID);
  const clientId = text(principal.client_id) ?? text(env.AZURE_CLIENT_ID);
  const clientSecret = text(principal.client_secret) ?? text(env.AZURE_CLIENT_SECRET);
  if (clientSecret !== undefined) options.onSecret?.(clientSecret);
  const scope = options.scope ?? ACR_AAD_SCOPE;

  let credential = options.credential;
  let cached: ProvidedRegistryCredentials | undefined;
  let inFlight: Promise<ProvidedRegistryCredentials> | undefined;

  async function makeCredential(): Promise<TokenCredential> {
    const identity = await import("@azure/identity");
    const common = {
      // An explicit authority is trusted as named: no instance discovery at login.microsoftonline.com.
      ...(options.authorityHost !== undefined
        ? { authorityHost: options.authorityHost, disableInstanceDiscovery: true }
        : {}),
      ...(options.aadCa !== undefined ? { tlsOptions: { ca: options.aadCa } } : {}),
    };
    if (tenantId !== undefined && clientId !== undefined && clientSecret !== undefined) {
      return new identity.ClientSecretCredential(tenantId, clientId, clientSecret, common);
    }
    if (auth?.managed_identity_client_id) {
      return new identity.ManagedIdentityCredential({ ...common, clientId: auth.managed_identity_client_id });
    }
    return new identity.DefaultAzureCredential({
      ...common,
      ...(tenantId !== undefined ? { tenantId } : {}),
    });
  }

  async function exchange(signal: AbortSignal | undefined): Promise<ProvidedRegistryCredentials> {
    credential ??= await makeCredential();
    let aad: { token: string; expiresOnTimestamp: number } | null;
    try {
      aad = await credential.getToken(scope, signal ? { abortSignal: signal } : {});
    } catch (error) {
      if (signal?.aborted) {
        throw new OciError("ABORTED", `getting a token for ${target.registry} was aborted`, { cause: error });
      }
      throw new OciError(
        "UNAUTHORIZED",
        `could not get an Azure AD token for registry ${target.registry}: ${(error as Error).message}; the push or pull was not attempted`,
        { cause: error },
      );
    }
    if (aad === null || aad.token === "") {
      throw new OciError(
        "UNAUTHORIZED",
        `the Azure identity gave no AAD token for registry ${target.registry}`,
      );
    }
    options.onSecret?.(aad.token);
    const refreshToken = await exchangeAadToken(target.registry, aad.token, tenantId, options, signal);
    options.onSecret?.(refreshToken);
    const expiry = jwtExpiryMs(refreshToken) ?? aad.expiresOnTimestamp;
    const expiresAtMs = Math.max(expiry - ACR_TOKEN_MARGIN_MS, Date.now() + 1_000);
    return { kind: "refresh-token", refreshToken, expiresAtMs };
  }

  return {
    kind: "provider",
    description: `ACR credentials exchanged from an Azure AD identity for ${target.registry}`,
    async get(signal) {
      if (cached !== undefined && cached.expiresAtMs > Date.now()) return cached;
      inFlight ??= exchange(signal).finally(() => {
        inFlight = undefined;
      });
      cached = await inFlight;
      return cached;
    },
  };
}

/** POSTs the AAD token to `https://<registry>/oauth2/exchange`; resolves the ACR refresh token. */
async function exchangeAadToken(
  registry: string,
  aadToken: string,
  tenantId: string | undefined,
  options: AcrCredentialsOptions,
  signal: AbortSignal | undefined,
): Promise<string> {
  const url = `https://${registry}/oauth2/exchange`;
  const form = new URLSearchParams({ grant_type: "access_token", service: registry, access_token: aadToken });
  if (tenantId !== undefined) form.set("tenant", tenantId);
  const timeoutMs = options.timeoutMs ?? 30_000;
  let status: number;
  let text: string;
  try {
    const res = await request(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: form.toString(),
      dispatcher: options.dispatcher ?? getGlobalDispatcher(),
      signal: signal ?? null,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    status = res.statusCode;
    text = await res.body.text();
  } catch (error) {
    if (signal?.aborted) {
      throw new OciError("ABORTED", `getting a token for ${registry} was aborted`, { cause: error });
    }
    throw new OciError(
      "NETWORK",
      `could not reach ${url} to exchange the Azure AD token: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (status === 401 || status === 403) {
    throw new OciError(
      "UNAUTHORIZED",
      `registry ${registry} rejected the Azure AD token at /oauth2/exchange (HTTP ${status}); check the identity's role on the registry (AcrPull/AcrPush)`,
      { status },
    );
  }
  if (status < 200 || status > 299) {
    throw new OciError("HTTP", `registry ${registry} answered HTTP ${status} to the token exchange`, {
      status,
    });
  }
  let refreshToken: unknown;
  try {
    refreshToken = (JSON.parse(text) as { refresh_token?: unknown }).refresh_token;
  } catch (error) {
    throw new OciError(
      "PROTOCOL",
      `registry ${registry} answered the token exchange with something that is not JSON`,
      {
        cause: error,
      },
    );
  }
  if (typeof refreshToken !== "string" || refreshToken === "") {
    throw new OciError(
      "PROTOCOL",
      `registry ${registry} answered the token exchange without a refresh_token`,
    );
  }
  return refreshToken;
}
