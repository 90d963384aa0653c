/**
 * EKS bearer tokens, made the way aws-iam-authenticator (and `aws eks get-token`) make them: a SigV4
 * query-string presigned `GET https://sts.<region>.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15`
 * whose signed headers include `x-k8s-aws-id: <cluster name>`, valid 60 s as a URL, base64url-encoded
 * without padding and prefixed with `k8s-aws-v1.`. EKS accepts such a token for 15 minutes after X-Amz-Date.
 *
 * Pure node:crypto, no AWS SDK. The signing follows the SigV4 specification (canonical request → string to
 * sign → HMAC chain of date/region/service/"aws4_request"); test/kube/eks-token.test.ts checks it against
 * AWS's documented presigned-URL example and against tokens produced by botocore.
 */
import { createHash, createHmac } from "node:crypto";

/** AWS credentials (never logged). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** What a presigned request needs. */
export interface PresignInput {
  method: string;
  /** Host header value, e.g. `sts.eu-west-1.amazonaws.com`. */
  host: string;
  /** Absolute path, already URI-encoded as it will be sent, e.g. `/` or `/test.txt`. */
  path: string;
  /** Query parameters besides the X-Amz-* ones. */
  query: Record<string, string>;
  /** Extra headers to sign (lower-case names); `host` is always signed. */
  headers?: Record<string, string>;
  region: string;
  service: string;
  credentials: AwsCredentials;
  /** Signing time. */
  date: Date;
  /** Seconds the URL stays valid (X-Amz-Expires). */
  expiresSeconds: number;
  /** Hex SHA-256 of the payload, or `UNSIGNED-PAYLOAD` (S3); default the hash of an empty body. */
  payloadHash?: string;
}

/** Token prefix aws-iam-authenticator checks for. */
export const EKS_TOKEN_PREFIX = "k8s-aws-v1.";
/** Seconds the presigned URL inside a token is valid: 60 (what aws-iam-authenticator uses). */
export const EKS_PRESIGN_EXPIRES_SECONDS = 60;
/** How long EKS accepts a token after its X-Amz-Date: 15 minutes. Refresh before that. */
export const EKS_TOKEN_LIFETIME_MS = 15 * 60_000;

const EMPTY_SHA256 = createHash("sha256").update("").digest("hex");

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters percent-encoded, upper-case hex. */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** `20130524T000000Z` */
export function amzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

/** The SigV4 signing key for one day, region and service. */
export function signingKey(secretAccessKey: string, day: string, region: string, service: string): Buffer {
  const kDate = createHmac("sha256", `AWS4${secretAccessKey}`).update(day).digest();
  const kRegion = createHmac("sha256", kDate).update(region).digest();
  const kService = createHmac("sha256", kRegion).update(service).digest();
  return createHmac("sha256", kService).update("aws4_request").digest();
}

/**
 * Returns the query string of a SigV4 query-presigned request: the parameters in the order given, then the
 * X-Amz-* ones, signature last (the order botocore emits; the signature covers the sorted canonical form).
 */
export function presignQuery(input: PresignInput): string {
  const stamp = amzDate(input.date);
  const day = stamp.slice(0, 8);
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const headers: Record<string, string> = { host: input.host };
  for (const [name, value] of Object.entries(input.headers ?? {})) headers[name.toLowerCase()] = value.trim();
  const headerNames = Object.keys(headers).sort();
  const signedHeaders = headerNames.join(";");

  const params: Record<string, string> = {
    ...input.query,
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": `${input.credentials.accessKeyId}/${scope}`,
    "X-Amz-Date": stamp,
    "X-Amz-Expires": String(input.expiresSeconds),
    "X-Amz-SignedHeaders": signedHeaders,
  };
  if (input.credentials.sessionToken) params["X-Amz-Security-Token"] = input.credentials.sessionToken;
  const encoded = Object.keys(params).map((k) => [uriEncode(k), uriEncode(params[k] ?? "")] as const);
  const canonicalQuery = [...encoded]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");

  const canonicalRequest = [
    input.method,
    input.path,
    canonicalQuery,
    headerNames.map((h) => `${h}:${headers[h]}\n`).join(""),
    signedHeaders,
    input.payloadHash ?? EMPTY_SHA256,
  ].join("\n");
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    stamp,
    scope,
    createHash("sha256").update(canonicalRequest).digest("hex"),
  ].join("\n");
  const signature = createHmac(
    "sha256",
    signingKey(input.credentials.secretAccessKey, day, input.region, input.service),
  )
    .update(stringToSign)
    .digest("hex");
  return `${encoded.map(([k, v]) => `${k}=${v}`).join("&")}&X-Amz-Signature=${signature}`;
}

/** Options of eksToken. */
export interface EksTokenInput {
  /** The EKS cluster name (ClusterInfo.id). */
  clusterName: string;
  /** Region of the STS endpoint; the regional endpoint is what aws-iam-authenticator uses. */
  region: string;
  credentials: AwsCredentials;
  /** Signing time; default now. */
  date?: Date;
}

/** The presigned STS GetCallerIdentity URL inside an EKS token. */
export function presignedCallerIdentityUrl(input: EksTokenInput): string {
  const host = `sts.${input.region}.amazonaws.com`;
  const query = presignQuery({
    method: "GET",
    host,
    path: "/",
    query: { Action: "GetCallerIdentity", Version: "2011-06-15" },
    headers: { "x-k8s-aws-id": input.clusterName },
    region: input.region,
    service: "sts",
    credentials: input.credentials,
    date: input.date ?? new Date(),
    expiresSeconds: EKS_PRESIGN_EXPIRES_SECONDS,
  });
  return `https://${host}/?${query}`;
}

/** An EKS bearer token: `k8s-aws-v1.` + base64url(presigned URL) without padding. */
export function eksToken(input: EksTokenInput): string {
  return EKS_TOKEN_PREFIX + Buffer.from(presignedCallerIdentityUrl(input), "utf8").toString("base64url");
}
