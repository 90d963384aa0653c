/**
 * Answering a registry's 401 challenges, as the distribution token protocol describes: `Basic` gets the
 * configured username and password; `Bearer realm,service,scope` gets a token from the realm (a GET with
 * Basic credentials or none; with a refresh token, a POST `grant_type=refresh_token` as ACR and the OAuth2
 * flavour of the protocol expect), cached per scope set until shortly before it expires. Credentials from a
 * provider (ECR, ACR: registry-config.ts) are fetched at the first challenge and again once they expire.
 * Credentials go only to the registry's origin and its token realm, and never into a message.
 */
import { type Dispatcher, request } from "undici";
import type { AuthChallenge } from "./challenge.ts";
import { OciError } from "./errors.ts";
import type { RegistryCredentials, StaticRegistryCredentials } from "./registry-config.ts";

/** Options of createAuthorizer. */
export interface AuthorizerOptions {
  /** Registry host, for messages. */
  registry: string;
  /** The registry's scheme: credentials go to a plain-HTTP realm only when the registry is plain HTTP too. */
  scheme: "https" | "http";
  credentials: RegistryCredentials;
  dispatcher: Dispatcher;
  /** Deadline of one token request, in ms. */
  timeoutMs: number;
  userAgent: string;
}

/** Turns challenges into Authorization headers, remembering what worked. */
export interface Authorizer {
  /** The header to send for a request needing `scopes`, when one is already known. */
  headerFor(scopes: readonly string[]): string | undefined;
  /** Answers the 401 `challenges` of a request needing `scopes`; throws OciError UNAUTHORIZED when it cannot. */
  answer(
    challenges: readonly AuthChallenge[],
    scopes: readonly string[],
    signal?: AbortSignal,
  ): Promise<string>;
}

/** Seconds a token is assumed to live when the token service does not say: 60 (the protocol's default). */
const DEFAULT_TOKEN_LIFETIME_SECONDS = 60;
/** Tokens are dropped this long before they expire, in ms. */
const TOKEN_EXPIRY_MARGIN_MS = 10_000;

/** Creates an authorizer for one registry and one set of credentials. */
export function createAuthorizer(options: AuthorizerOptions): Authorizer {
  let basic: { header: string; expiresAtMs: number } | undefined;
  const tokens = new Map<string, { header: string; expiresAtMs: number }>();
  const keyOf = (scopes: readonly string[]) => [...scopes].sort().join(" ");

  return {
    headerFor(scopes) {
      if (basic !== undefined) {
        if (basic.expiresAtMs > Date.now()) return basic.header;
        basic = undefined;
      }
      const cached = tokens.get(keyOf(scopes));
      if (cached === undefined) return undefined;
      if (cached.expiresAtMs <= Date.now()) {
        tokens.delete(keyOf(scopes));
        return undefined;
      }
      return cached.header;
    },

    async answer(challenges, scopes, signal) {
      const { credentials, expiresAtMs } = await resolveRegistryCredentials(options.credentials, signal);
      const bearer = challenges.find((challenge) => challenge.scheme === "bearer" && challenge.params.realm);
      if (bearer !== undefined) {
        const wanted = new Set(scopes);
        for (const scope of (bearer.params.scope ?? "").split(" ")) if (scope !== "") wanted.add(scope);
        const { token, lifetimeSeconds } = await fetchToken(
          options,
          credentials,
          bearer.params.realm as string,
          bearer.params.service,
          [...wanted],
          signal,
        );
        const header = `Bearer ${token}`;
        const lifetimeMs = lifetimeSeconds * 1000 - TOKEN_EXPIRY_MARGIN_MS;
        tokens.set(keyOf(scopes), { header, expiresAtMs: Date.now() + Math.max(lifetimeMs, 1000) });
        return header;
      }
      if (challenges.some((challenge) => challenge.scheme === "basic")) {
        if (credentials.kind !== "basic") {
          throw new OciError(
            "UNAUTHORIZED",
            `registry ${options.registry} asks for a username and password (Basic auth), but ${describeCredentials(credentials)} configured`,
            { status: 401 },
          );
        }
        const header = basicAuthorization(credentials.username, credentials.password);
        basic = { header, expiresAtMs };
        return header;
      }
      const schemes = challenges.map((challenge) => challenge.scheme).join(", ") || "none";
      throw new OciError(
        "UNAUTHORIZED",
        `registry ${options.registry} answered 401 with no challenge this client can answer (schemes: ${schemes})`,
        { status: 401 },
      );
    },
  };
}

/** `Basic base64(username:password)`. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

/**
 * The credentials to use now: static ones as they are (never expiring), a provider's fetched (the provider
 * caches them). Throws what the provider throws (an OciError naming the cloud call, never a secret).
 */
export async function resolveRegistryCredentials(
  credentials: RegistryCredentials,
  signal?: AbortSignal,
): Promise<{ credentials: StaticRegistryCredentials; expiresAtMs: number }> {
  if (credentials.kind !== "provider") return { credentials, expiresAtMs: Number.POSITIVE_INFINITY };
  const { expiresAtMs, ...provided } = await credentials.get(signal);
  return { credentials: provided, expiresAtMs };
}

function describeCredentials(credentials: StaticRegistryCredentials): string {
  if (credentials.kind === "refresh-token") return "only a refresh token is";
  return "no credentials are";
}

function describeAsker(credentials: StaticRegistryCredentials): string {
  if (credentials.kind === "basic") return `the credentials of user ${JSON.stringify(credentials.username)}`;
  if (credentials.kind === "refresh-token") return "the refresh token";
  return "an anonymous token request";
}

async function fetchToken(
  options: AuthorizerOptions,
  credentials: StaticRegistryCredentials,
  realm: string,
  service: string | undefined,
  scopes: readonly string[],
  signal: AbortSignal | undefined,
): Promise<{ token: string; lifetimeSeconds: number }> {
  let url: URL;
  try {
    url = new URL(realm);
  } catch (error) {
    throw new OciError(
      "PROTOCOL",
      `registry ${options.registry} named an invalid token realm ${JSON.stringify(realm)}`,
      { cause: error },
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new OciError(
      "PROTOCOL",
      `registry ${options.registry} named a token realm that is not HTTP(S): ${url.origin}`,
    );
  }
  if (url.protocol === "http:" && options.scheme === "https" && credentials.kind !== "anonymous") {
    throw new OciError(
      "UNAUTHORIZED",
      `registry ${options.registry} wants credentials sent to a plain-HTTP token realm (${url.origin}); refusing to send them unencrypted`,
    );
  }
  const headers: Record<string, string> = { "user-agent": options.userAgent, accept: "application/json" };
  let method: "GET" | "POST" = "GET";
  let body: string | undefined;
  if (credentials.kind === "refresh-token") {
    method = "POST";
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: credentials.refreshToken,
      client_id: "runner",
    });
    if (service !== undefined) form.set("service", service);
    if (scopes.length > 0) form.set("scope", scopes.join(" "));
    body = form.toString();
    headers["content-type"] = "application/x-www-form-urlencoded";
  } else {
    if (service !== undefined) url.searchParams.set("service", service);
    for (const scope of scopes) url.searchParams.append("scope", scope);
    if (credentials.kind === "basic")
      headers.authorization = basicAuthorization(credentials.username, credentials.password);
  }
  let status: number;
  let text: string;
  try {
    const res = await request(url, {
      method,
      headers,
      body: body ?? null,
      dispatcher: options.dispatcher,
      signal: signal ?? null,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    status = res.statusCode;
    text = await res.body.text();
  } catch (error) {
    if (signal?.aborted)
      throw new OciError("ABORTED", `getting a token for ${options.registry} was aborted`, { cause: error });
    throw new OciError(
      "NETWORK",
      `could not reach the token service ${url.origin} of registry ${options.registry}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (status === 401 || status === 403) {
    throw new OciError(
      "UNAUTHORIZED",
      `the token service ${url.origin} of registry ${options.registry} rejected ${describeAsker(credentials)} (HTTP ${status})`,
      { status },
    );
  }
  if (status < 200 || status > 299) {
    throw new OciError(
      "HTTP",
      `the token service ${url.origin} of registry ${options.registry} answered HTTP ${status}`,
      { status },
    );
  }
  let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (error) {
    throw new OciError(
      "PROTOCOL",
      `the token service ${url.origin} answered with something that is not JSON`,
      { cause: error },
    );
  }
  const token = typeof parsed.token === "string" && parsed.token !== "" ? parsed.token : parsed.access_token;
  if (typeof token !== "string" || token === "") {
    throw new OciError("PROTOCOL", `the token service ${url.origin} answered without a token`);
  }
  const lifetimeSeconds =
    typeof parsed.expires_in === "number" && parsed.expires_in > 0
      ? parsed.expires_in
      : DEFAULT_TOKEN_LIFETIME_SECONDS;
  return { token, lifetimeSeconds };
}
