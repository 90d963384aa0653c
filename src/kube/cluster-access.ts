/**
 * Cluster access from a plan's `cluster_info`, in this order:
 *
 * 1. `kube_config`: an inline kubeconfig (its current context). Users may carry a token, client certificate
 *    data or basic auth; `exec` plugins, auth providers and file references (`tokenFile`,
 *    `certificate-authority`, `client-key`, …) are refused: a plan must not make the runner run programs or
 *    send files from its own disk (its service-account token, say) to a server the plan names.
 * 2. `endpoint` with `token` (Runner extension), `aws_auth` (EKS token, cloud-tokens.ts) or `azure_auth`
 *    (AKS token through kubelogin); `ca_data` (base64 PEM) is the trusted CA, else the system's.
 * 3. Nothing: the in-cluster service account (`KUBERNETES_SERVICE_HOST`/`_PORT` and the files under
 *    /var/run/secrets/kubernetes.io/serviceaccount; the token file is re-read every minute, as client-go does).
 *
 * TLS verification stays on in every mode; only a kubeconfig that itself says insecure-skip-tls-verify
 * turns it off. Credentials go through @kubernetes/client-node's KubeConfig (TLS options, auth headers);
 * the module is imported lazily because it takes more than half a second to load.
 */
import { readFileSync } from "node:fs";
import { isIPv6 } from "node:net";
import path from "node:path";
import type { KubeConfig, User } from "@kubernetes/client-node";
import type { Dispatcher } from "undici";
import { parse as parseYaml, stringify } from "yaml";
import { baseEnv } from "../exec/env.ts";
import type { KubeTransport } from "./client.ts";
import {
  type AwsCredentialsProvider,
  type ExpiringToken,
  makeAksToken,
  makeEksToken,
  regionFromEksEndpoint,
} from "./cloud-tokens.ts";
import { type ClusterInfo, isEmptyClusterInfo } from "./cluster-info.ts";

/** How the cluster is reached. */
export type ClusterAccessMode = "kubeconfig" | "token" | "eks" | "aks" | "in-cluster";

/** Where an in-cluster pod finds its service account. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** A resolved way to talk to one cluster. */
export interface ClusterAccess extends KubeTransport {
  readonly mode: ClusterAccessMode;
  /** Secrets in play (tokens, keys), for redactors. Never log them. */
  secrets(): string[];
  /** A kubeconfig (YAML) for CLIs like helm and kubectl, carrying a token valid now. Write it with mode 0600. */
  kubeconfigYaml(): Promise<string>;
}

/** Dependencies of resolveClusterAccess. */
export interface ClusterAccessDeps {
  /** The runner's environment; default process.env. `cluster_info.env_vars` are laid over it. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Directory of the in-cluster service account files; default SERVICE_ACCOUNT_DIR. */
  serviceAccountDir?: string;
  /** AWS credentials beyond static and environment ones (assume-role, instance profile). */
  awsCredentials?: AwsCredentialsProvider;
  /** Gets an AKS token; default runs kubelogin. */
  aksToken?: (info: ClusterInfo, env: Record<string, string>) => Promise<ExpiringToken>;
  /** Aborts credential helper processes. */
  signal?: AbortSignal;
  killGraceMs?: number;
  /** Clock, epoch ms; default Date.now. */
  now?: () => number;
  /** Called with every credential in play (static ones at once, tokens as they are made), for redactors. */
  onSecret?: (secret: string) => void;
}

type ClientNode = typeof import("@kubernetes/client-node");
let clientNode: Promise<ClientNode> | undefined;
/** Loads @kubernetes/client-node once. */
function loadClientNode(): Promise<ClientNode> {
  clientNode ??= import("@kubernetes/client-node");
  return clientNode;
}

/** Resolves how to reach the cluster `info` describes; throws a message naming the missing or bad field. */
export async function resolveClusterAccess(
  info: ClusterInfo | null | undefined,
  deps: ClusterAccessDeps = {},
): Promise<ClusterAccess> {
  const k8s = await loadClientNode();
  const env = { ...(deps.env ?? process.env), ...(info?.env_vars ?? {}) };
  const now = deps.now ?? Date.now;

  if (info?.kube_config) {
    const kc = new k8s.KubeConfig();
    try {
      // Checked before client-node loads it: loading already reads `token-file`.
      checkInlineKubeconfig(parseYaml(info.kube_config) as unknown);
      kc.loadFromString(info.kube_config);
    } catch (err) {
      if (err instanceof RefusedKubeconfig) throw err;
      throw new Error(`cluster_info.kube_config is not a valid kubeconfig: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const cluster = kc.getCurrentCluster();
    const user = kc.getCurrentUser();
    if (cluster === null) throw new Error("cluster_info.kube_config has no current context with a cluster");
    const context = kc.getContextObject(kc.getCurrentContext());
    const secrets = [user?.token, user?.keyData, user?.password].filter((s): s is string => Boolean(s));
    for (const s of secrets) deps.onSecret?.(s);
    return makeAccess(k8s, kc, "kubeconfig", context?.namespace || "default", secrets, async () =>
      kc.exportConfig(),
    );
  }

  if (isEmptyClusterInfo(info))
    return inCluster(k8s, env, deps.serviceAccountDir ?? SERVICE_ACCOUNT_DIR, deps.onSecret);

  const endpoint = (info?.endpoint ?? "").replace(/\/+$/, "");
  try {
    new URL(endpoint);
  } catch {
    throw new Error(`cluster_info.endpoint is not a URL: ${JSON.stringify(endpoint)}`);
  }
  const caData = info?.ca_data ? normalizeCaData(info.ca_data) : undefined;
  let getToken: () => Promise<ExpiringToken>;
  let mode: ClusterAccessMode;
  if (info?.token) {
    mode = "token";
    const token = info.token;
    getToken = async () => ({ token, expiresAtMs: Number.POSITIVE_INFINITY });
  } else if (info?.aws_auth) {
    mode = "eks";
    const clusterName = info.id;
    if (!clusterName)
      throw new Error("cluster_info.id (the EKS cluster name) is empty; an EKS token needs it");
    const region =
      info.aws_auth.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || regionFromEksEndpoint(endpoint);
    if (!region)
      throw new Error(
        "cannot make an EKS token: no region in cluster_info.aws_auth.region, AWS_REGION or the endpoint",
      );
    const auth = info.aws_auth;
    const roleArn = info.trusted_role_arn || undefined;
    getToken = () =>
      makeEksToken({ clusterName, region, auth, roleArn, env, provider: deps.awsCredentials, nowMs: now() });
  } else if (info?.azure_auth) {
    mode = "aks";
    const jobEnv = { ...baseEnv(env), ...(info.env_vars ?? {}) };
    const azure = info.azure_auth;
    getToken =
      deps.aksToken !== undefined
        ? () => deps.aksToken!(info, jobEnv)
        : () =>
            makeAksToken({
              auth: azure,
              env: jobEnv,
              nowMs: now(),
              ...(deps.signal !== undefined ? { signal: deps.signal } : {}),
              ...(deps.killGraceMs !== undefined ? { killGraceMs: deps.killGraceMs } : {}),
            });
  } else if (info?.gcp_auth) {
    throw new Error(
      "cluster_info.gcp_auth (GKE) is not supported by this runner; pass a kube_config or a token",
    );
  } else {
    throw new Error(
      "cluster_info has an endpoint but no credentials: set token, aws_auth or azure_auth, or pass kube_config",
    );
  }

  const cached = cachingToken(getToken, now, deps.onSecret);
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "cluster", server: endpoint, ...(caData ? { caData } : {}), skipTLSVerify: false }],
    users: [{ name: "runner", authProvider: { name: TOKEN_PROVIDER, config: {} } }],
    contexts: [{ name: "runner", cluster: "cluster", user: "runner" }],
    currentContext: "runner",
  });
  kc.addAuthenticator({
    isAuthProvider: (user: User) => user.authProvider?.name === TOKEN_PROVIDER,
    async applyAuthentication(_user, opts) {
      opts.headers = { ...(opts.headers ?? {}), Authorization: `Bearer ${(await cached.get()).token}` };
    },
  });
  const kubeconfig = async () =>
    stringify(tokenKubeconfig(endpoint, caData, (await cached.get()).token), { lineWidth: 0 });
  return makeAccess(k8s, kc, mode, "default", () => cached.current(), kubeconfig);
}

const TOKEN_PROVIDER = "runner-token";

function cachingToken(get: () => Promise<ExpiringToken>, now: () => number, onSecret?: (s: string) => void) {
  let entry: Promise<ExpiringToken> | undefined;
  let last: ExpiringToken | undefined;
  return {
    async get(): Promise<ExpiringToken> {
      if (entry !== undefined) {
        const value = await entry.catch(() => undefined);
        if (value !== undefined && value.expiresAtMs > now()) return value;
      }
      entry = get();
      entry.catch(() => {
        entry = undefined;
      });
      last = await entry;
      onSecret?.(last.token);
      return last;
    },
    current: (): string[] => (last !== undefined ? [last.token] : []),
  };
}

/** A kubeconfig document for a bearer token. */
function tokenKubeconfig(server: string, caData: string | undefined, token: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "cluster", cluster: { server, ...(caData ? { "certificate-authority-data": caData } : {}) } },
    ],
    users: [{ name: "runner", user: { token } }],
    contexts: [{ name: "runner", context: { cluster: "cluster", user: "runner" } }],
    "current-context": "runner",
  };
}

/** Accepts base64 of a PEM bundle (Nuon's form) or the PEM itself; returns base64. */
export function normalizeCaData(value: string): string {
  const text = value.trim();
  if (text.startsWith("-----BEGIN")) return Buffer.from(value.trimStart(), "utf8").toString("base64");
  const decoded = Buffer.from(text, "base64").toString("utf8");
  if (!decoded.includes("-----BEGIN CERTIFICATE-----")) {
    throw new Error("cluster_info.ca_data is not a base64-encoded PEM certificate bundle");
  }
  return text;
}

class RefusedKubeconfig extends Error {}

/** Refuses what would make the runner run programs or send its own files: exec, auth providers, file paths. */
function checkInlineKubeconfig(doc: unknown): void {
  const refused = new Set<string>();
  const entries = (key: string, inner: string): Array<Record<string, unknown>> => {
    const list = (doc as Record<string, unknown> | null)?.[key];
    return Array.isArray(list)
      ? list.map((e) => ((e as Record<string, unknown>)?.[inner] ?? {}) as Record<string, unknown>)
      : [];
  };
  for (const c of entries("clusters", "cluster")) {
    if (c["certificate-authority"] !== undefined)
      refused.add("certificate-authority (a file path; use certificate-authority-data)");
  }
  for (const u of entries("users", "user")) {
    if (u.exec !== undefined) refused.add("exec credential plugins");
    if (u["auth-provider"] !== undefined) refused.add("auth-provider");
    if (u["token-file"] !== undefined || u.tokenFile !== undefined)
      refused.add("token-file (a file path; use token)");
    if (u["client-certificate"] !== undefined || u["client-key"] !== undefined) {
      refused.add("client-certificate/client-key file paths (use the -data forms)");
    }
  }
  if (refused.size > 0) {
    throw new RefusedKubeconfig(
      `cluster_info.kube_config uses what an inline kubeconfig may not: ${[...refused].join(", ")}`,
    );
  }
}

function inCluster(
  k8s: ClientNode,
  env: Readonly<Record<string, string | undefined>>,
  dir: string,
  onSecret?: (s: string) => void,
): Promise<ClusterAccess> {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const tokenFile = path.join(dir, "token");
  let namespace = "default";
  try {
    readFileSync(tokenFile);
  } catch {
    return Promise.reject(
      new Error(
        "the plan has no cluster_info (no kube_config or endpoint) and the runner is not inside a cluster " +
          `(no service account token at ${tokenFile})`,
      ),
    );
  }
  if (!host || !port) {
    return Promise.reject(
      new Error("in-cluster access needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT"),
    );
  }
  try {
    namespace = readFileSync(path.join(dir, "namespace"), "utf8").trim() || "default";
  } catch {
    // no namespace file: "default"
  }
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "in-cluster", server, caFile: path.join(dir, "ca.crt"), skipTLSVerify: false }],
    users: [{ name: "in-cluster", authProvider: { name: "tokenFile", config: { tokenFile } } }],
    contexts: [{ name: "in-cluster", cluster: "in-cluster", user: "in-cluster", namespace }],
    currentContext: "in-cluster",
  });
  const readToken = () => readFileSync(tokenFile, "utf8").trim();
  onSecret?.(readToken());
  const kubeconfig = async () => {
    const ca = readFileSync(path.join(dir, "ca.crt")).toString("base64");
    return stringify(tokenKubeconfig(server, ca, readToken()), { lineWidth: 0 });
  };
  return Promise.resolve(makeAccess(k8s, kc, "in-cluster", namespace, () => [readToken()], kubeconfig));
}

function makeAccess(
  k8s: ClientNode,
  kc: KubeConfig,
  mode: ClusterAccessMode,
  defaultNamespace: string,
  secrets: string[] | (() => string[]),
  kubeconfigYaml: () => Promise<string>,
): ClusterAccess {
  const cluster = kc.getCurrentCluster();
  const server = (cluster?.server ?? "").replace(/\/+$/, "");
  let dispatcher: Dispatcher | undefined;
  let closed = false;
  return {
    mode,
    server,
    defaultNamespace,
    secrets: () => (typeof secrets === "function" ? secrets() : secrets),
    kubeconfigYaml,
    async prepare(url, method) {
      const rc = new k8s.RequestContext(url, method as import("@kubernetes/client-node").HttpMethod);
      await kc.applySecurityAuthentication(rc);
      // client-node builds a new undici Agent per call; keep the first so connections are reused.
      dispatcher ??= rc.getDispatcher() as Dispatcher | undefined;
      return { headers: rc.getHeaders(), ...(dispatcher !== undefined ? { dispatcher } : {}) };
    },
    async close() {
      if (closed) return;
      closed = true;
      // destroy, not close: close waits for open requests, and a forgotten watch never ends.
      await dispatcher?.destroy().catch(() => undefined);
    },
  };
}
