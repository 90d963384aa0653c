/**
 * A small Kubernetes REST client for arbitrary objects. Credentials and TLS come from @kubernetes/client-node's
 * KubeConfig (see cluster-access.ts, which hands over a `KubeTransport`); requests go through undici's fetch
 * with the dispatcher the KubeConfig built, so TLS verification is whatever the cluster entry says (on unless
 * the kubeconfig itself sets insecure-skip-tls-verify).
 *
 * Objects travel as plain JSON. client-node's typed serializer is not used for them on purpose: it drops
 * every field its generated models do not know (a typo in a manifest, or a field newer than the library),
 * which would make a server-side apply silently apply less than the manifest says.
 */
import { type Dispatcher, fetch } from "undici";
import { asStatus, codeForStatus, describeStatus, KubeError } from "./errors.ts";

/** What the client needs from cluster access: the server URL and per-request credentials. */
export interface KubeTransport {
  /** Base URL of the API server, e.g. `https://10.0.0.1:6443` (no trailing slash). */
  readonly server: string;
  /** Namespace for namespaced objects that name none (the kubeconfig context's, else `default`). */
  readonly defaultNamespace: string;
  /** Headers (Authorization, …) and the TLS dispatcher for one request; tokens are refreshed here. */
  prepare(url: string, method: string): Promise<{ headers: Record<string, string>; dispatcher?: Dispatcher }>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** A Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    deletionTimestamp?: string;
    ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string }>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** Identifies one object. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  /** Omit for cluster-scoped kinds; namespaced kinds without one use the transport's default. */
  namespace?: string;
}

/** One resource from discovery (`APIResourceList.resources[]`). */
export interface ApiResource {
  /** Plural name used in paths, e.g. `deployments`. */
  name: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
}

/** A watch event. */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubeObject;
}

/** Options of a list or watch. */
export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** Options of createKubeClient. */
export interface KubeClientOptions {
  /** Longest a non-streaming request may take, in ms; default 60 000. */
  requestTimeoutMs?: number;
}

/** Default per-request deadline: 60 s. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/** The client. Every method takes the caller's AbortSignal. */
export interface KubeClient {
  readonly server: string;
  readonly defaultNamespace: string;
  /** Discovery: the resource serving `kind` in `apiVersion`; throws KubeError UNKNOWN_KIND when none does. */
  resource(apiVersion: string, kind: string, signal?: AbortSignal): Promise<ApiResource>;
  /** Forgets cached discovery (after a CRD was created or removed). */
  invalidateDiscovery(): void;
  /** The namespace an object of this kind lives in: its own, the default for namespaced kinds, or undefined. */
  namespaceOf(ref: ObjectRef, signal?: AbortSignal): Promise<string | undefined>;
  /** GET one object; undefined on 404. */
  get(ref: ObjectRef, signal?: AbortSignal): Promise<KubeObject | undefined>;
  /** LIST objects of a kind. */
  list(
    apiVersion: string,
    kind: string,
    options: ListOptions,
    signal?: AbortSignal,
  ): Promise<{ items: KubeObject[]; resourceVersion: string }>;
  /** POST a new object. */
  create(
    obj: KubeObject,
    options: { fieldManager?: string; dryRun?: boolean },
    signal?: AbortSignal,
  ): Promise<KubeObject>;
  /** Server-side apply (PATCH application/apply-patch+yaml) under `fieldManager`. */
  apply(
    obj: KubeObject,
    options: { fieldManager: string; force?: boolean; dryRun?: boolean },
    signal?: AbortSignal,
  ): Promise<KubeObject>;
  /** DELETE; resolves false when the object was already gone. */
  delete(
    ref: ObjectRef,
    options: { propagationPolicy?: "Foreground" | "Background" | "Orphan"; dryRun?: boolean },
    signal?: AbortSignal,
  ): Promise<boolean>;
  /** Watches from `resourceVersion` until the server ends the stream or `signal` aborts; resolves then. */
  watch(
    apiVersion: string,
    kind: string,
    options: ListOptions & { resourceVersion?: string; timeoutSeconds?: number },
    onEvent: (event: WatchEvent) => void,
    signal?: AbortSignal,
  ): Promise<void>;
  /** Streams a container's log, line by line, until it ends (follow) or `signal` aborts. */
  streamLog(
    namespace: string,
    pod: string,
    options: { container?: string; follow?: boolean; timestamps?: boolean; sinceTime?: string },
    onLine: (line: string) => void,
    signal?: AbortSignal,
  ): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** Path prefix of an apiVersion: `/api/v1` or `/apis/apps/v1`. */
export function apiPrefix(apiVersion: string): string {
  return apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** "Deployment default/web" or "Namespace team-a": how objects are named in messages. */
export function describeRef(ref: { kind: string; name?: string; namespace?: string }): string {
  const name = ref.name ?? "(unnamed)";
  return ref.namespace ? `${ref.kind} ${ref.namespace}/${name}` : `${ref.kind} ${name}`;
}

/** Creates a client over `transport`. */
export function createKubeClient(transport: KubeTransport, options: KubeClientOptions = {}): KubeClient {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  let discovery = new Map<string, Promise<ApiResource[]>>();

  async function send(
    method: string,
    path: string,
    init: {
      query?: Record<string, string | undefined>;
      body?: string;
      contentType?: string;
      stream?: boolean;
    },
    signal: AbortSignal | undefined,
  ) {
    const url = new URL(transport.server + path);
    for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const { headers, dispatcher } = await transport.prepare(url.toString(), method);
    const allHeaders: Record<string, string> = { ...headers, Accept: "application/json" };
    if (init.contentType !== undefined) allHeaders["Content-Type"] = init.contentType;
    const signals = [signal, init.stream ? undefined : AbortSignal.timeout(requestTimeoutMs)].filter(
      (s): s is AbortSignal => s !== undefined,
    );
    const what = `${method} ${url.pathname}`;
    try {
      return await fetch(url, {
        method,
        headers: allHeaders,
        body: init.body,
        signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
        ...(dispatcher !== undefined ? { dispatcher } : {}),
      });
    } catch (err) {
      if (signal?.aborted) {
        throw new KubeError({ code: "ABORTED", message: `${what} was aborted`, cause: signal.reason });
      }
      throw new KubeError({
        code: "NETWORK",
        message: `cannot reach the Kubernetes API server at ${transport.server} (${what}): ${networkReason(err)}`,
        cause: err,
      });
    }
  }

  async function call(
    method: string,
    path: string,
    init: { query?: Record<string, string | undefined>; body?: string; contentType?: string },
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const res = await send(method, path, init, signal);
    const text = await res.text();
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (res.status >= 200 && res.status < 300) return body;
    const status = asStatus(body);
    throw new KubeError({
      code: codeForStatus(res.status, status?.reason),
      status: res.status,
      message: describeStatus(
        status,
        `${method} ${path} answered HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`,
      ),
      ...(status !== undefined ? { body: status } : {}),
    });
  }

  function resources(apiVersion: string, signal?: AbortSignal): Promise<ApiResource[]> {
    let entry = discovery.get(apiVersion);
    if (entry === undefined) {
      entry = (call("GET", apiPrefix(apiVersion), {}, signal) as Promise<{ resources?: ApiResource[] }>).then(
        (list) => list?.resources ?? [],
      );
      discovery.set(apiVersion, entry);
      entry.catch(() => discovery.delete(apiVersion));
    }
    return entry;
  }

  async function resource(apiVersion: string, kind: string, signal?: AbortSignal): Promise<ApiResource> {
    let list: ApiResource[];
    try {
      list = await resources(apiVersion, signal);
    } catch (err) {
      if (err instanceof KubeError && err.code === "NOT_FOUND") list = [];
      else throw err;
    }
    let found = list.find((r) => r.kind === kind && !r.name.includes("/"));
    if (found === undefined) {
      // The kind may be new (a CRD created a moment ago): ask once more before giving up.
      discovery.delete(apiVersion);
      const fresh = await resources(apiVersion, signal).catch(() => [] as ApiResource[]);
      found = fresh.find((r) => r.kind === kind && !r.name.includes("/"));
    }
    if (found === undefined) {
      throw new KubeError({
        code: "UNKNOWN_KIND",
        message: `the cluster does not serve kind ${kind} in ${apiVersion} (is its CustomResourceDefinition installed?)`,
      });
    }
    return found;
  }

  async function pathOf(
    ref: { apiVersion: string; kind: string; name?: string; namespace?: string },
    signal?: AbortSignal,
  ) {
    const res = await resource(ref.apiVersion, ref.kind, signal);
    const ns = res.namespaced ? ref.namespace || transport.defaultNamespace : undefined;
    const base = `${apiPrefix(ref.apiVersion)}${ns !== undefined ? `/namespaces/${encodeURIComponent(ns)}` : ""}/${res.name}`;
    return ref.name === undefined ? base : `${base}/${encodeURIComponent(ref.name)}`;
  }

  async function streamLines(res: Awaited<ReturnType<typeof send>>, onLine: (line: string) => void) {
    if (res.body === null) return;
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of res.body) {
      pending += decoder.decode(chunk as Uint8Array, { stream: true });
      let nl = pending.indexOf("\n");
      while (nl >= 0) {
        onLine(pending.slice(0, nl).replace(/\r$/, ""));
        pending = pending.slice(nl + 1);
        nl = pending.indexOf("\n");
      }
    }
    pending += decoder.decode();
    if (pending !== "") onLine(pending);
  }

  async function failFromResponse(res: Awaited<ReturnType<typeof send>>, what: string): Promise<never> {
    const text = await res.text();
    let status: ReturnType<typeof asStatus>;
    try {
      status = asStatus(JSON.parse(text));
    } catch {
      status = undefined;
    }
    throw new KubeError({
      code: codeForStatus(res.status, status?.reason),
      status: res.status,
      message: describeStatus(status, `${what} answered HTTP ${res.status}`),
      ...(status !== undefined ? { body: status } : {}),
    });
  }

  return {
    server: transport.server,
    defaultNamespace: transport.defaultNamespace,
    resource,
    invalidateDiscovery() {
      discovery = new Map();
    },
    async namespaceOf(ref, signal) {
      const res = await resource(ref.apiVersion, ref.kind, signal);
      return res.namespaced ? ref.namespace || transport.defaultNamespace : undefined;
    },
    async get(ref, signal) {
      try {
        return (await call("GET", await pathOf(ref, signal), {}, signal)) as KubeObject;
      } catch (err) {
        if (err instanceof KubeError && err.code === "NOT_FOUND") return undefined;
        throw err;
      }
    },
    async list(apiVersion, kind, opts, signal) {
      const path = await pathOf(
        { apiVersion, kind, ...(opts.namespace ? { namespace: opts.namespace } : {}) },
        signal,
      );
      const body = (await call(
        "GET",
        path,
        { query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector } },
        signal,
      )) as { items?: KubeObject[]; metadata?: { resourceVersion?: string } };
      return { items: body.items ?? [], resourceVersion: body.metadata?.resourceVersion ?? "" };
    },
    async create(obj, opts, signal) {
      const path = await pathOf({ ...obj, name: undefined, namespace: obj.metadata.namespace }, signal);
      return (await call(
        "POST",
        path,
        {
          query: { fieldManager: opts.fieldManager, dryRun: opts.dryRun ? "All" : undefined },
          body: JSON.stringify(obj),
          contentType: "application/json",
        },
        signal,
      )) as KubeObject;
    },
    async apply(obj, opts, signal) {
      const path = await pathOf(
        {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.metadata.name ?? "",
          namespace: obj.metadata.namespace,
        },
        signal,
      );
      return (await call(
        "PATCH",
        path,
        {
          query: {
            fieldManager: opts.fieldManager,
            force: opts.force ? "true" : undefined,
            dryRun: opts.dryRun ? "All" : undefined,
          },
          // JSON is YAML, and what kubectl sends with this content type.
          body: JSON.stringify(obj),
          contentType: "application/apply-patch+yaml",
        },
        signal,
      )) as KubeObject;
    },
    async delete(ref, opts, signal) {
      try {
        await call(
          "DELETE",
          await pathOf(ref, signal),
          {
            query: { propagationPolicy: opts.propagationPolicy, dryRun: opts.dryRun ? "All" : undefined },
          },
          signal,
        );
        return true;
      } catch (err) {
        if (err instanceof KubeError && err.code === "NOT_FOUND") return false;
        throw err;
      }
    },
    async watch(apiVersion, kind, opts, onEvent, signal) {
      const path = await pathOf(
        { apiVersion, kind, ...(opts.namespace ? { namespace: opts.namespace } : {}) },
        signal,
      );
      const query = {
        watch: "true",
        allowWatchBookmarks: "true",
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        resourceVersion: opts.resourceVersion,
        timeoutSeconds: opts.timeoutSeconds === undefined ? undefined : String(opts.timeoutSeconds),
      };
      const res = await send("GET", path, { query, stream: true }, signal);
      if (res.status !== 200) await failFromResponse(res, `watch ${path}`);
      try {
        await streamLines(res, (line) => {
          if (line.trim() === "") return;
          const event = JSON.parse(line) as WatchEvent;
          if (event.type === "ERROR") {
            const status = asStatus(event.object);
            throw new KubeError({
              code: codeForStatus(status?.code ?? 500, status?.reason),
              ...(status?.code !== undefined ? { status: status.code } : {}),
              message: describeStatus(status, `watch ${path} reported an error`),
            });
          }
          onEvent(event);
        });
      } catch (err) {
        if (signal?.aborted) return;
        throw err;
      }
    },
    async streamLog(namespace, pod, opts, onLine, signal) {
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`;
      const query = {
        container: opts.container,
        follow: opts.follow ? "true" : undefined,
        timestamps: opts.timestamps ? "true" : undefined,
        sinceTime: opts.sinceTime,
      };
      const res = await send("GET", path, { query, stream: true }, signal);
      if (res.status !== 200) await failFromResponse(res, `GET ${path}`);
      try {
        await streamLines(res, onLine);
      } catch (err) {
        if (signal?.aborted) return;
        throw new KubeError({
          code: "NETWORK",
          message: `the log stream of pod ${namespace}/${pod} broke`,
          cause: err,
        });
      }
    },
    close: () => transport.close(),
  };
}

function networkReason(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  if (cause instanceof Error) {
    const code = (cause as { code?: string }).code;
    return code !== undefined ? `${code}: ${cause.message}` : cause.message;
  }
  return String(cause);
}
