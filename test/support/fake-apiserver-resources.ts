/**
 * The resource table of the fake API server: the built-in kinds it serves, plus kinds that
 * CustomResourceDefinitions add while it runs, and the discovery documents (`/api`, `/apis`, `/api/v1`,
 * `/apis/<group>/<version>`) built from it, shaped like the real ones.
 */

/** One served resource. */
export interface ResourceDef {
  group: string;
  version: string;
  /** Plural, as in paths. */
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  /** Has a /status subresource (status is ignored on the main resource). */
  status: boolean;
  shortNames?: string[];
  /** Propagation used when DELETE names none. */
  defaultPropagation?: "Background" | "Orphan";
  /** Set when a CRD defined it. */
  crd?: string;
}

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

function def(
  gv: string,
  plural: string,
  kind: string,
  namespaced: boolean,
  extra: Partial<ResourceDef> = {},
): ResourceDef {
  const [group, version] = gv.includes("/") ? (gv.split("/") as [string, string]) : ["", gv];
  return { group, version, plural, singular: kind.toLowerCase(), kind, namespaced, status: false, ...extra };
}

/** The kinds every fake server starts with. */
export function builtinResources(): ResourceDef[] {
  return [
    def("v1", "namespaces", "Namespace", false, { status: true, shortNames: ["ns"] }),
    def("v1", "configmaps", "ConfigMap", true, { shortNames: ["cm"] }),
    def("v1", "secrets", "Secret", true),
    def("v1", "services", "Service", true, { status: true, shortNames: ["svc"] }),
    def("v1", "serviceaccounts", "ServiceAccount", true, { shortNames: ["sa"] }),
    def("v1", "pods", "Pod", true, { status: true, shortNames: ["po"] }),
    def("v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, { status: true, shortNames: ["pvc"] }),
    def("v1", "events", "Event", true, { shortNames: ["ev"] }),
    def("apps/v1", "deployments", "Deployment", true, { status: true, shortNames: ["deploy"] }),
    def("apps/v1", "statefulsets", "StatefulSet", true, { status: true, shortNames: ["sts"] }),
    def("apps/v1", "daemonsets", "DaemonSet", true, { status: true, shortNames: ["ds"] }),
    def("apps/v1", "replicasets", "ReplicaSet", true, { status: true, shortNames: ["rs"] }),
    def("batch/v1", "jobs", "Job", true, { status: true, defaultPropagation: "Orphan" }),
    def("batch/v1", "cronjobs", "CronJob", true, { status: true, shortNames: ["cj"] }),
    def("networking.k8s.io/v1", "ingresses", "Ingress", true, { status: true, shortNames: ["ing"] }),
    def("rbac.authorization.k8s.io/v1", "roles", "Role", true),
    def("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", true),
    def("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", false),
    def("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", false),
    def("apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", false, {
      status: true,
      shortNames: ["crd", "crds"],
    }),
  ];
}

/** Resources defined by a CRD object (one per served version). */
export function resourcesOfCrd(crd: {
  metadata: { name?: string };
  spec?: {
    group?: string;
    scope?: string;
    names?: { plural?: string; singular?: string; kind?: string; shortNames?: string[] };
    versions?: Array<{ name?: string; served?: boolean; subresources?: { status?: unknown } }>;
  };
}): ResourceDef[] {
  const spec = crd.spec ?? {};
  const names = spec.names ?? {};
  if (!spec.group || !names.plural || !names.kind) return [];
  return (spec.versions ?? [])
    .filter((v) => v.served !== false && v.name)
    .map((v) => ({
      group: spec.group as string,
      version: v.name as string,
      plural: names.plural as string,
      singular: names.singular ?? (names.kind as string).toLowerCase(),
      kind: names.kind as string,
      namespaced: spec.scope !== "Cluster",
      status: v.subresources?.status !== undefined,
      ...(names.shortNames ? { shortNames: names.shortNames } : {}),
      crd: crd.metadata.name ?? "",
    }));
}

/** `apps/v1` or `v1`. */
export function groupVersion(r: { group: string; version: string }): string {
  return r.group === "" ? r.version : `${r.group}/${r.version}`;
}

/** GET /api */
export function apiVersionsDoc(serverAddress: string): unknown {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

/** GET /apis */
export function apiGroupListDoc(resources: ResourceDef[]): unknown {
  const groups = new Map<string, string[]>();
  for (const r of resources) {
    if (r.group === "") continue;
    const versions = groups.get(r.group) ?? [];
    if (!versions.includes(r.version)) versions.push(r.version);
    groups.set(r.group, versions);
  }
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [...groups].map(([name, versions]) => ({
      name,
      versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })),
      preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
    })),
  };
}

/** GET /api/v1 or /apis/<group>/<version>; undefined when that group/version is not served. */
export function apiResourceListDoc(resources: ResourceDef[], gv: string): unknown {
  const served = resources.filter((r) => groupVersion(r) === gv);
  if (served.length === 0) return undefined;
  const list: unknown[] = [];
  for (const r of served) {
    list.push({
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: VERBS,
      ...(r.shortNames ? { shortNames: r.shortNames } : {}),
    });
    if (r.status) {
      list.push({
        name: `${r.plural}/status`,
        singularName: "",
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: ["get", "patch", "update"],
      });
    }
    if (r.kind === "Pod") {
      list.push({ name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] });
    }
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: gv, resources: list };
}
