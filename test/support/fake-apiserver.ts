/**
 * A fake Kubernetes API server on a real loopback HTTPS socket (certificate from tls.ts, so clients keep TLS
 * verification on), following the API's documented behaviour closely enough for @kubernetes/client-node and
 * kubectl to work against it:
 *
 * - bearer-token authentication (401), and per-verb refusals set by the test (403, with the real message);
 * - discovery (`/version`, `/api`, `/apis`, `/api/v1`, `/apis/<g>/<v>`), including kinds added by CRDs;
 * - get / list (label and field selectors; list items carry no kind, as for built-in types) / watch (from a
 *   resourceVersion, replaying what happened since, or from now with ADDED for what exists);
 * - create (AlreadyExists, namespace must exist and not be terminating, status reset, Job defaulting),
 *   update with resourceVersion preconditions, JSON merge patch, status subresources;
 * - server-side apply (`application/apply-patch+yaml`): fieldManager required, ownership and 409 conflicts
 *   with `force` (fake-apiserver-ssa.ts), dryRun=All;
 * - delete with Foreground / Background / Orphan propagation, namespace and CRD finalization;
 * - controllers for Deployment, ReplicaSet, StatefulSet, DaemonSet and Job status, a kubelet running pods with
 *   per-image behaviour, and pod log streaming (`follow`, `timestamps`, `sinceTime`, `container`).
 *
 * Not modelled: admission webhooks, schema validation of objects, keyed list merges in apply, quotas,
 * aggregated discovery (clients fall back to the per-group documents), protobuf.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { isDeepStrictEqual } from "node:util";
import { stringify } from "yaml";
import { type ControllerOptions, Controllers } from "./fake-apiserver-controllers.ts";
import {
  ApiError,
  fieldSelector,
  labelSelector,
  mergePatch,
  notFound,
  parseBody,
  qualified,
  readBody,
  sendJson,
  sendStatus,
} from "./fake-apiserver-http.ts";
import { type ImageBehaviour, Kubelet } from "./fake-apiserver-kubelet.ts";
import {
  apiGroupListDoc,
  apiResourceListDoc,
  apiVersionsDoc,
  groupVersion,
  type ResourceDef,
  resourcesOfCrd,
} from "./fake-apiserver-resources.ts";
import { applyConfig, conflictMessage, type ManagerEntry, recordUpdate } from "./fake-apiserver-ssa.ts";
import { type Obj, Store, type Watcher } from "./fake-apiserver-store.ts";
import { testCertificates } from "./tls.ts";

export type { ImageBehaviour } from "./fake-apiserver-kubelet.ts";
export type { Obj } from "./fake-apiserver-store.ts";

/** A refusal: requests with this verb on this resource (optionally in one namespace) get 403. */
export interface ForbidRule {
  verb: "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";
  /** Plural resource name, e.g. `secrets`. */
  resource: string;
  namespace?: string;
}

/** One request the server saw. */
export interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string;
  userAgent: string;
}

/** Options of startFakeApiServer. */
export interface FakeApiServerOptions {
  /** Bearer token clients must send; default a random one. */
  token?: string;
  /** The user 403 messages name; default `system:serviceaccount:runner:runner`. */
  user?: string;
  controllers?: ControllerOptions;
}

/** A running fake API server. */
export interface FakeApiServer {
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  /** Base64 PEM of the CA that signed the server certificate. */
  readonly caData: string;
  readonly token: string;
  readonly store: Store;
  /** Per-image container behaviour (logs, exit code, pull failures). */
  readonly images: Map<string, ImageBehaviour>;
  /** Every request so far. */
  readonly requests: SeenRequest[];
  /** A kubeconfig for this server (token auth, CA data), e.g. for kubectl or cluster_info.kube_config. */
  kubeconfig(options?: { namespace?: string; token?: string }): string;
  /** Adds a 403 rule. */
  forbid(rule: ForbidRule): void;
  /** Stores an object directly (as an Update by `manager`, default "seed"), creating its namespace's entry as given. */
  seed(obj: Obj, manager?: string): Obj;
  /** Reads an object, or undefined. */
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Obj | undefined;
  /** Appends a line to a container's log. */
  appendLog(namespace: string, pod: string, container: string, line: string): void;
  /** Ends every open watch stream (as an apiserver restart or a load balancer would). */
  dropWatches(): void;
  close(): Promise<void>;
}

type Verb = ForbidRule["verb"];

interface Route {
  resource: ResourceDef;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

const nowStamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Starts a fake API server on 127.0.0.1 (random port). Close it in afterEach/afterAll. */
export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const certs = testCertificates();
  const token = options.token ?? randomBytes(16).toString("hex");
  const user = options.user ?? "system:serviceaccount:runner:runner";
  const store = new Store();
  const kubelet = new Kubelet(store, store.resourceFor("v1", "Pod") as ResourceDef);
  const controllers = new Controllers(store, kubelet, options.controllers);
  const rules: ForbidRule[] = [];
  const requests: SeenRequest[] = [];
  const openStreams = new Set<ServerResponse>();
  let address = "127.0.0.1:0";

  // CRDs add and remove kinds in discovery.
  store.listeners.add((e) => {
    if (e.resource.kind !== "CustomResourceDefinition" || e.type === "DELETED") return;
    const defs = resourcesOfCrd(e.object as Parameters<typeof resourcesOfCrd>[0]);
    store.resources = [...store.resources.filter((r) => r.crd !== e.object.metadata.name), ...defs];
    const status = (e.object.status ?? {}) as { conditions?: Array<{ type: string }> };
    if (defs.length > 0 && !(status.conditions ?? []).some((c) => c.type === "Established")) {
      const crdRes = e.resource;
      controllers.later(5, () => {
        const current = store.get(crdRes, undefined, e.object.metadata.name);
        if (current === undefined || current.metadata.deletionTimestamp !== undefined) return;
        store.put(crdRes, {
          ...current,
          status: {
            acceptedNames: (current.spec as { names?: unknown }).names,
            conditions: [
              { type: "NamesAccepted", status: "True", reason: "NoConflicts" },
              { type: "Established", status: "True", reason: "InitialNamesAccepted" },
            ],
          },
        });
      });
    }
  });

  const managerFrom = (req: IncomingMessage, query: URLSearchParams): string =>
    query.get("fieldManager") ?? (req.headers["user-agent"] ?? "unknown").split("/")[0] ?? "unknown";

  function checkAllowed(verb: Verb, route: Route): void {
    const rule = rules.find(
      (r) =>
        r.verb === verb &&
        r.resource === route.resource.plural &&
        (r.namespace === undefined || r.namespace === route.namespace),
    );
    if (rule === undefined) return;
    const r = route.resource;
    const where =
      r.namespaced && route.namespace !== undefined
        ? `in the namespace "${route.namespace}"`
        : "at the cluster scope";
    const subject =
      route.name !== undefined ? `${qualified(r, route.name)} is forbidden` : `${qualified(r)} is forbidden`;
    throw new ApiError(
      403,
      "Forbidden",
      `${subject}: User "${user}" cannot ${verb} resource "${r.plural}" in API group "${r.group}" ${where}`,
      { ...(route.name !== undefined ? { name: route.name } : {}), group: r.group, kind: r.plural },
    );
  }

  function parseRoute(gv: string, segments: string[]): Route | undefined {
    let namespace: string | undefined;
    let rest = segments;
    if (rest[0] === "namespaces" && rest.length >= 3) {
      const candidate = store.resourceByPlural(gv, rest[2] as string);
      if (candidate?.namespaced) {
        namespace = rest[1];
        rest = rest.slice(2);
      }
    }
    const resource = store.resourceByPlural(gv, rest[0] ?? "");
    if (resource === undefined) return undefined;
    return { resource, namespace, name: rest[1], subresource: rest[2] };
  }

  function requireNamespace(r: ResourceDef, ns: string | undefined, forCreate: boolean): void {
    if (!r.namespaced) return;
    const nsRes = store.resourceFor("v1", "Namespace") as ResourceDef;
    const found = store.get(nsRes, undefined, ns ?? "");
    if (found === undefined) throw notFound(nsRes, ns ?? "");
    if (forCreate && found.metadata.deletionTimestamp !== undefined) {
      throw new ApiError(
        403,
        "Forbidden",
        `${qualified(r)} is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
      );
    }
  }

  function checkIdentity(body: Record<string, unknown>, route: Route): Obj {
    const r = route.resource;
    const obj = body as Obj;
    if (obj.apiVersion !== groupVersion(r) || obj.kind !== r.kind) {
      throw new ApiError(
        400,
        "BadRequest",
        `the API version in the data (${String(obj.apiVersion)}) and kind (${String(obj.kind)}) do not match the expected ${groupVersion(r)} ${r.kind}`,
      );
    }
    obj.metadata = (obj.metadata ?? {}) as Obj["metadata"];
    if (r.namespaced) {
      if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== route.namespace) {
        throw new ApiError(
          400,
          "BadRequest",
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      }
      obj.metadata.namespace = route.namespace as string;
    }
    return obj;
  }

  function validate(r: ResourceDef, obj: Obj): void {
    const causes: Array<{ field: string; message: string }> = [];
    if (!obj.metadata.name)
      causes.push({ field: "metadata.name", message: "Required value: name or generateName is required" });
    else if (!DNS_SUBDOMAIN.test(obj.metadata.name) || obj.metadata.name.length > 253) {
      causes.push({
        field: "metadata.name",
        message: `Invalid value: "${obj.metadata.name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
      });
    }
    if (r.kind === "Job") {
      const policy = (obj.spec as { template?: { spec?: { restartPolicy?: string } } } | undefined)?.template
        ?.spec?.restartPolicy;
      if (policy !== "Never" && policy !== "OnFailure") {
        causes.push({
          field: "spec.template.spec.restartPolicy",
          message: `Required value: valid values: "OnFailure", "Never"`,
        });
      }
    }
    if (causes.length > 0) {
      throw new ApiError(
        422,
        "Invalid",
        `${r.kind} "${obj.metadata.name ?? ""}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(", ")}`,
        {
          name: obj.metadata.name,
          group: r.group,
          kind: r.kind,
          causes: causes.map((c) => ({ reason: "FieldValueInvalid", ...c })),
        },
      );
    }
  }

  /** Defaulting the real server does on create. */
  function defaults(r: ResourceDef, obj: Obj): void {
    if (r.kind === "Job") {
      const spec = (obj.spec ?? {}) as Record<string, unknown> & {
        template?: { metadata?: { labels?: Record<string, string> } };
      };
      const uid = obj.metadata.uid as string;
      spec.backoffLimit ??= 6;
      spec.completions ??= 1;
      spec.parallelism ??= 1;
      spec.selector ??= { matchLabels: { "batch.kubernetes.io/controller-uid": uid } };
      spec.template ??= {};
      spec.template.metadata ??= {};
      spec.template.metadata.labels = {
        ...(spec.template.metadata.labels ?? {}),
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": obj.metadata.name,
        "controller-uid": uid,
        "job-name": obj.metadata.name,
      };
      obj.spec = spec;
    }
    if (r.kind === "Deployment" || r.kind === "StatefulSet") {
      const spec = (obj.spec ?? {}) as Record<string, unknown>;
      spec.replicas ??= 1;
      obj.spec = spec;
    }
    if (r.kind === "Namespace") obj.status = { phase: "Active" };
  }

  const specChanged = (a: Obj | undefined, b: Obj) => {
    const strip = (o: Obj | undefined) => {
      if (o === undefined) return undefined;
      const { metadata: _m, status: _s, ...rest } = o;
      return rest;
    };
    return !isDeepStrictEqual(strip(a), strip(b));
  };

  async function handleObject(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    query: URLSearchParams,
  ) {
    const r = route.resource;
    const method = req.method ?? "GET";
    const dryRun = query.get("dryRun") === "All";
    const contentType = String(req.headers["content-type"] ?? "");

    if (route.name === undefined) {
      if (method === "GET") {
        const watch = query.get("watch");
        checkAllowed(watch === "true" || watch === "1" ? "watch" : "list", route);
        // Listing in a namespace that does not exist gives an empty list, as on the real server.
        const match = and(
          labelSelector(query.get("labelSelector")),
          fieldSelector(query.get("fieldSelector")),
        );
        if (watch === "true" || watch === "1") return startWatch(req, res, route, query, match);
        const items = store.list(r, route.namespace).filter(match);
        return sendJson(res, 200, {
          kind: `${r.kind}List`,
          apiVersion: groupVersion(r),
          metadata: { resourceVersion: String(store.resourceVersion) },
          items: items.map((o) => (r.crd !== undefined ? o : withoutTypeMeta(o))),
        });
      }
      if (method === "POST") {
        checkAllowed("create", route);
        const obj = checkIdentity(parseBody(await readBody(req), contentType), route);
        const generateName = obj.metadata.generateName as string | undefined;
        if (!obj.metadata.name && generateName)
          obj.metadata.name = `${generateName}${randomBytes(3).toString("hex").slice(0, 5)}`;
        validate(r, obj);
        requireNamespace(r, route.namespace, true);
        if (store.get(r, route.namespace, obj.metadata.name) !== undefined) {
          throw new ApiError(409, "AlreadyExists", `${qualified(r, obj.metadata.name)} already exists`, {
            name: obj.metadata.name,
            group: r.group,
            kind: r.plural,
          });
        }
        const created = prepareNew(r, obj);
        const managers = recordUpdate({
          before: undefined,
          after: created,
          managers: [],
          manager: managerFrom(req, query),
          apiVersion: groupVersion(r),
          now: nowStamp(),
        });
        return sendJson(res, 201, dryRun ? created : store.put(r, created, managers));
      }
      throw new ApiError(
        405,
        "MethodNotAllowed",
        `the server does not allow this method on the requested resource`,
      );
    }

    if (route.subresource === "log" && r.kind === "Pod" && method === "GET") {
      checkAllowed("get", route);
      return streamLog(res, route, query);
    }
    if (route.subresource !== undefined && route.subresource !== "status") {
      throw new ApiError(404, "NotFound", `the server could not find the requested resource`);
    }
    const live = store.get(r, route.namespace, route.name);
    const verb: Verb =
      method === "GET"
        ? "get"
        : method === "PUT"
          ? "update"
          : method === "PATCH"
            ? "patch"
            : method === "DELETE"
              ? "delete"
              : "get";
    checkAllowed(verb, route);

    if (method === "GET") {
      if (live === undefined) throw notFound(r, route.name);
      return sendJson(res, 200, live);
    }

    if (method === "DELETE") {
      if (live === undefined) throw notFound(r, route.name);
      const text = await readBody(req);
      const bodyPolicy =
        text.trim() === "" ? undefined : (parseBody(text, "json").propagationPolicy as string | undefined);
      const policy = (query.get("propagationPolicy") ?? bodyPolicy ?? r.defaultPropagation ?? "Background") as
        | "Foreground"
        | "Background"
        | "Orphan";
      const success = {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        details: { name: route.name, group: r.group, kind: r.plural, uid: live.metadata.uid },
      };
      if (dryRun) return sendJson(res, 200, success);
      if (live.metadata.deletionTimestamp !== undefined) return sendJson(res, 202, live);
      controllers.deleteCascade(r, live, policy);
      const after = store.get(r, route.namespace, route.name);
      return after === undefined ? sendJson(res, 200, success) : sendJson(res, 202, after);
    }

    if (method === "PATCH" && contentType.startsWith("application/apply-patch")) {
      if (route.subresource === "status")
        throw new ApiError(
          415,
          "UnsupportedMediaType",
          "apply to the status subresource is not supported by this fake",
        );
      const fieldManager = query.get("fieldManager");
      if (!fieldManager) {
        throw new ApiError(
          422,
          "Invalid",
          `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch`,
        );
      }
      const config = checkIdentity(parseBody(await readBody(req), contentType), route);
      if (config.metadata.name !== route.name) {
        throw new ApiError(
          400,
          "BadRequest",
          `the name of the object (${config.metadata.name}) does not match the name on the URL (${route.name})`,
        );
      }
      validate(r, config);
      if (live === undefined) requireNamespace(r, route.namespace, true);
      delete config.metadata.managedFields;
      delete config.metadata.resourceVersion;
      if (r.status) delete config.status;
      const outcome = applyConfig({
        live,
        config,
        managers: live === undefined ? [] : store.managersOf(r, route.namespace, route.name),
        manager: fieldManager,
        apiVersion: groupVersion(r),
        force: query.get("force") === "true",
        now: nowStamp(),
      });
      if (!outcome.ok) {
        throw new ApiError(409, "Conflict", conflictMessage(outcome.conflicts), {
          causes: outcome.conflicts.map((c) => ({
            reason: "FieldManagerConflict",
            message: `conflict with "${c.manager}" using ${c.apiVersion}`,
            field: `.${c.path.join(".")}`,
          })),
        });
      }
      let result = outcome.object as Obj;
      result.metadata = {
        ...((result.metadata as Obj["metadata"] | undefined) ?? {}),
        name: route.name,
        ...(r.namespaced ? { namespace: route.namespace as string } : {}),
      };
      if (live === undefined) {
        result = prepareNew(r, result);
      } else if (specChanged(live, result)) {
        result.metadata.generation = ((live.metadata.generation as number | undefined) ?? 1) + 1;
      }
      if (dryRun)
        return sendJson(res, live === undefined ? 201 : 200, {
          ...result,
          metadata: { ...result.metadata, managedFields: undefined },
        });
      if (
        live !== undefined &&
        !outcome.changed &&
        sameOwnership(store.managersOf(r, route.namespace, route.name), outcome.managers)
      ) {
        return sendJson(res, 200, live); // a no-op apply writes nothing (resourceVersion unchanged)
      }
      return sendJson(res, live === undefined ? 201 : 200, store.put(r, result, outcome.managers));
    }

    if (method === "PATCH" || method === "PUT") {
      if (live === undefined) throw notFound(r, route.name);
      const body = parseBody(await readBody(req), contentType);
      let next: Obj;
      if (method === "PUT") {
        const obj = checkIdentity(body, route);
        const rv = obj.metadata.resourceVersion;
        if (rv !== undefined && rv !== live.metadata.resourceVersion) {
          throw new ApiError(
            409,
            "Conflict",
            `Operation cannot be fulfilled on ${qualified(r, route.name)}: the object has been modified; please apply your changes to the latest version and try again`,
          );
        }
        next = obj;
      } else if (
        contentType.startsWith("application/merge-patch+json") ||
        contentType.startsWith("application/strategic-merge-patch+json")
      ) {
        next = mergePatch(live, body) as Obj;
      } else {
        throw new ApiError(
          415,
          "UnsupportedMediaType",
          `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
        );
      }
      next.metadata = {
        ...live.metadata,
        ...next.metadata,
        name: live.metadata.name,
        uid: live.metadata.uid,
        creationTimestamp: live.metadata.creationTimestamp,
      } as Obj["metadata"];
      delete next.metadata.managedFields;
      if (route.subresource === "status") next = { ...live, status: next.status };
      else if (r.status) next.status = live.status;
      if (specChanged(live, next))
        next.metadata.generation = ((live.metadata.generation as number | undefined) ?? 1) + 1;
      const managers = recordUpdate({
        before: live,
        after: next,
        managers: store.managersOf(r, route.namespace, route.name),
        manager: managerFrom(req, query),
        apiVersion: groupVersion(r),
        now: nowStamp(),
      });
      return sendJson(res, 200, dryRun ? next : store.put(r, next, managers));
    }
    throw new ApiError(
      405,
      "MethodNotAllowed",
      "the server does not allow this method on the requested resource",
    );
  }

  function prepareNew(r: ResourceDef, obj: Obj): Obj {
    const created = structuredClone(obj);
    created.metadata.uid = created.metadata.uid ?? crypto.randomUUID();
    created.metadata.generation = 1;
    created.metadata.creationTimestamp = nowStamp();
    delete created.metadata.resourceVersion;
    delete created.metadata.managedFields;
    if (r.status) delete created.status;
    defaults(r, created);
    return created;
  }

  function startWatch(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    query: URLSearchParams,
    match: (o: Obj) => boolean,
  ) {
    const r = route.resource;
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    openStreams.add(res);
    const write = (type: string, object: Obj) => {
      if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    const rv = query.get("resourceVersion");
    if (rv !== null && rv !== "" && rv !== "0") {
      for (const e of store.eventsSince(r, Number(rv))) {
        if (route.namespace !== undefined && e.object.metadata.namespace !== route.namespace) continue;
        if (match(e.object)) write(e.type, { ...e.object, apiVersion: groupVersion(r), kind: r.kind });
      }
    } else {
      for (const o of store.list(r, route.namespace).filter(match)) write("ADDED", o);
    }
    const watcher: Watcher = {
      resource: r,
      namespace: route.namespace,
      matches: match,
      send: (e) => write(e.type, e.object),
    };
    store.watchers.add(watcher);
    const timeout = query.get("timeoutSeconds");
    const stop = () => {
      store.watchers.delete(watcher);
      openStreams.delete(res);
      if (timer !== undefined) clearTimeout(timer);
    };
    const timer =
      timeout === null
        ? undefined
        : setTimeout(() => {
            stop();
            res.end();
          }, Number(timeout) * 1000);
    req.on("close", stop);
    res.on("close", stop);
    res.on("finish", stop);
  }

  function streamLog(res: ServerResponse, route: Route, query: URLSearchParams) {
    const r = route.resource;
    const ns = route.namespace as string;
    const podName = route.name as string;
    const pod = store.get(r, ns, podName);
    if (pod === undefined) throw notFound(r, podName);
    const containers = (
      (pod.spec as { containers?: Array<{ name: string }> } | undefined)?.containers ?? []
    ).map((c) => c.name);
    let container = query.get("container") ?? undefined;
    if (container === undefined) {
      if (containers.length !== 1) {
        throw new ApiError(
          400,
          "BadRequest",
          `a container name must be specified for pod ${podName}, choose one of: [${containers.join(" ")}]`,
        );
      }
      container = containers[0] as string;
    }
    if (!containers.includes(container))
      throw new ApiError(400, "BadRequest", `container ${container} is not valid for pod ${podName}`);
    const cs = (
      (
        pod.status as
          | { containerStatuses?: Array<{ name: string; state?: { waiting?: { reason?: string } } }> }
          | undefined
      )?.containerStatuses ?? []
    ).find((c) => c.name === container);
    const waiting = cs === undefined ? { reason: "ContainerCreating" } : cs.state?.waiting;
    if (waiting !== undefined) {
      const why =
        waiting.reason === "ImagePullBackOff" || waiting.reason === "ErrImagePull"
          ? "trying and failing to pull image"
          : (waiting.reason ?? "PodInitializing");
      throw new ApiError(
        400,
        "BadRequest",
        `container "${container}" in pod "${podName}" is waiting to start: ${why}`,
      );
    }
    const log = kubelet.log(ns, podName, container);
    const timestamps = query.get("timestamps") === "true";
    const since = query.get("sinceTime");
    const follow = query.get("follow") === "true";
    res.writeHead(200, { "Content-Type": "text/plain", "Transfer-Encoding": "chunked" });
    openStreams.add(res);
    let sent = 0;
    const flush = () => {
      if (res.writableEnded) return;
      for (; sent < log.lines.length; sent++) {
        const line = log.lines[sent] as { ts: string; text: string };
        if (since !== null && Date.parse(line.ts) < Date.parse(since)) continue;
        res.write(`${timestamps ? `${line.ts} ` : ""}${line.text}\n`);
      }
      if (!follow || log.done) {
        log.listeners.delete(flush);
        openStreams.delete(res);
        res.end();
      }
    };
    log.listeners.add(flush);
    res.on("close", () => {
      log.listeners.delete(flush);
      openStreams.delete(res);
    });
    flush();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://fake");
    requests.push({
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType: String(req.headers["content-type"] ?? ""),
      userAgent: String(req.headers["user-agent"] ?? ""),
    });
    try {
      if (req.headers.authorization !== `Bearer ${token}`)
        throw new ApiError(401, "Unauthorized", "Unauthorized");
      const p = url.pathname.replace(/\/+$/, "") || "/";
      if (p === "/version") {
        return sendJson(res, 200, {
          major: "1",
          minor: "31",
          gitVersion: "v1.31.0-fake",
          platform: "linux/amd64",
        });
      }
      if (p === "/healthz" || p === "/readyz" || p === "/livez") {
        res.writeHead(200, { "Content-Type": "text/plain" });
        return void res.end("ok");
      }
      if (p === "/api") return sendJson(res, 200, apiVersionsDoc(address));
      if (p === "/apis") return sendJson(res, 200, apiGroupListDoc(store.resources));
      const segments = p
        .split("/")
        .filter((s) => s !== "")
        .map(decodeURIComponent);
      let gv: string | undefined;
      let rest: string[] = [];
      if (segments[0] === "api" && segments.length >= 2) {
        gv = segments[1] as string;
        rest = segments.slice(2);
      } else if (segments[0] === "apis" && segments.length >= 3) {
        gv = `${segments[1]}/${segments[2]}`;
        rest = segments.slice(3);
      }
      if (gv !== undefined && rest.length === 0) {
        const doc = apiResourceListDoc(store.resources, gv);
        if (doc === undefined)
          throw new ApiError(404, "NotFound", "the server could not find the requested resource");
        return sendJson(res, 200, doc);
      }
      const route = gv === undefined ? undefined : parseRoute(gv, rest);
      if (route === undefined)
        throw new ApiError(404, "NotFound", "the server could not find the requested resource");
      await handleObject(req, res, route, url.searchParams);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof ApiError) return sendStatus(res, err);
      sendStatus(
        res,
        new ApiError(500, "InternalError", `fake apiserver: ${(err as Error).stack ?? String(err)}`),
      );
    }
  }

  const server: Server = createServer({ key: certs.serverKey, cert: certs.serverCert }, (req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  address = `127.0.0.1:${port}`;
  const url = `https://127.0.0.1:${port}`;

  return {
    url,
    caData: certs.caData,
    token,
    store,
    images: kubelet.images,
    requests,
    kubeconfig(opts = {}) {
      return stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "fake", cluster: { server: url, "certificate-authority-data": certs.caData } }],
        users: [{ name: "fake", user: { token: opts.token ?? token } }],
        contexts: [
          {
            name: "fake",
            context: {
              cluster: "fake",
              user: "fake",
              ...(opts.namespace ? { namespace: opts.namespace } : {}),
            },
          },
        ],
        "current-context": "fake",
      });
    },
    forbid(rule) {
      rules.push(rule);
    },
    seed(obj, manager = "seed") {
      const r = store.resourceFor(obj.apiVersion, obj.kind);
      if (r === undefined) throw new Error(`fake apiserver: no resource for ${obj.apiVersion} ${obj.kind}`);
      const live = store.get(r, obj.metadata.namespace, obj.metadata.name);
      const next =
        live === undefined
          ? prepareNew(r, obj)
          : ({ ...obj, metadata: { ...live.metadata, ...obj.metadata } } as Obj);
      if (live !== undefined && specChanged(live, next))
        next.metadata.generation = ((live.metadata.generation as number) ?? 1) + 1;
      const managers = recordUpdate({
        before: live,
        after: next,
        managers: live === undefined ? [] : store.managersOf(r, obj.metadata.namespace, obj.metadata.name),
        manager,
        apiVersion: obj.apiVersion,
        now: nowStamp(),
      });
      return store.put(r, next, managers);
    },
    get(apiVersion, kind, namespace, name) {
      const r = store.resourceFor(apiVersion, kind);
      return r === undefined ? undefined : store.get(r, namespace, name);
    },
    appendLog(namespace, pod, container, line) {
      kubelet.append(namespace, pod, container, line);
    },
    dropWatches() {
      for (const w of [...store.watchers]) store.watchers.delete(w);
      for (const s of [...openStreams]) s.end();
    },
    async close() {
      controllers.close();
      kubelet.close();
      for (const s of openStreams) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sameOwnership(a: ManagerEntry[], b: ManagerEntry[]): boolean {
  const view = (m: ManagerEntry[]) =>
    JSON.stringify(m.map((e) => [e.manager, e.operation, [...e.fields].sort()]));
  return view(a) === view(b);
}

function and(a: (o: Obj) => boolean, b: (o: Obj) => boolean): (o: Obj) => boolean {
  return (o) => a(o) && b(o);
}

function withoutTypeMeta(o: Obj): Obj {
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest as Obj;
}
