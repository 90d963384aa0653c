/**
 * The fake API server's storage: objects by resource and name, one resourceVersion counter for everything
 * (as etcd's revision is), an event log replayed to watches that start from a resourceVersion, live watchers,
 * field managers per object, and the resource table (built-ins plus CRD-defined kinds).
 */
import { randomUUID } from "node:crypto";
import { builtinResources, groupVersion, type ResourceDef } from "./fake-apiserver-resources.ts";
import type { ManagerEntry } from "./fake-apiserver-ssa.ts";
import { renderManagedFields } from "./fake-apiserver-ssa.ts";

/** A stored object (JSON). */
export type Obj = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
  };
};

/** A watch event. */
export interface StoreEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  resource: ResourceDef;
  object: Obj;
  rv: number;
}

/** A live watcher. */
export interface Watcher {
  resource: ResourceDef;
  namespace: string | undefined;
  matches(obj: Obj): boolean;
  send(event: StoreEvent): void;
}

/** Identity of a resource across versions: group + plural. */
export function resourceKey(r: { group: string; plural: string }): string {
  return `${r.group}/${r.plural}`;
}

function objectKey(r: ResourceDef, namespace: string | undefined, name: string): string {
  return `${resourceKey(r)}|${namespace ?? ""}|${name}`;
}

/** The store. */
export class Store {
  resources: ResourceDef[] = builtinResources();
  private rv = 100;
  private readonly objects = new Map<string, Obj>();
  private readonly managers = new Map<string, ManagerEntry[]>();
  private readonly log: StoreEvent[] = [];
  readonly watchers = new Set<Watcher>();
  /** Called after every change (the simulated controllers listen here). */
  readonly listeners = new Set<(event: StoreEvent) => void>();

  /** Current resourceVersion. */
  get resourceVersion(): number {
    return this.rv;
  }

  /** The resource serving `kind` in `apiVersion`. */
  resourceFor(apiVersion: string, kind: string): ResourceDef | undefined {
    return this.resources.find((r) => groupVersion(r) === apiVersion && r.kind === kind);
  }

  /** The resource with plural `plural` in `gv`. */
  resourceByPlural(gv: string, plural: string): ResourceDef | undefined {
    return this.resources.find((r) => groupVersion(r) === gv && r.plural === plural);
  }

  get(r: ResourceDef, namespace: string | undefined, name: string): Obj | undefined {
    const o = this.objects.get(objectKey(r, r.namespaced ? namespace : undefined, name));
    return o === undefined ? undefined : this.view(r, o);
  }

  /** Objects of a resource (all versions share storage), optionally in one namespace. */
  list(r: ResourceDef, namespace?: string): Obj[] {
    const prefix = `${resourceKey(r)}|`;
    const out: Obj[] = [];
    for (const [k, o] of this.objects) {
      if (!k.startsWith(prefix)) continue;
      if (namespace !== undefined && r.namespaced && o.metadata.namespace !== namespace) continue;
      out.push(this.view(r, o));
    }
    return out.sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace}/${b.metadata.name}`,
      ),
    );
  }

  /** Every object in a namespace, across resources. */
  inNamespace(namespace: string): Array<{ resource: ResourceDef; object: Obj }> {
    const out: Array<{ resource: ResourceDef; object: Obj }> = [];
    for (const r of this.uniqueResources()) {
      if (!r.namespaced) continue;
      for (const o of this.list(r, namespace)) out.push({ resource: r, object: o });
    }
    return out;
  }

  /** Objects whose ownerReferences name `uid`. */
  dependentsOf(uid: string): Array<{ resource: ResourceDef; object: Obj }> {
    const out: Array<{ resource: ResourceDef; object: Obj }> = [];
    for (const r of this.uniqueResources()) {
      for (const o of this.list(r)) {
        const refs = (o.metadata.ownerReferences as Array<{ uid?: string }> | undefined) ?? [];
        if (refs.some((ref) => ref.uid === uid)) out.push({ resource: r, object: o });
      }
    }
    return out;
  }

  managersOf(r: ResourceDef, namespace: string | undefined, name: string): ManagerEntry[] {
    return this.managers.get(objectKey(r, r.namespaced ? namespace : undefined, name)) ?? [];
  }

  /** Stores `obj` (create or update), bumping resourceVersion and notifying watchers. */
  put(r: ResourceDef, obj: Obj, managers?: ManagerEntry[]): Obj {
    const ns = r.namespaced ? obj.metadata.namespace : undefined;
    const k = objectKey(r, ns, obj.metadata.name);
    const existed = this.objects.has(k);
    this.rv += 1;
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(this.rv);
    stored.metadata.uid ??= randomUUID();
    stored.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    if (!r.namespaced) delete stored.metadata.namespace;
    if (managers !== undefined) this.managers.set(k, managers);
    delete stored.metadata.managedFields;
    this.objects.set(k, stored);
    const view = this.view(r, stored);
    this.emit({ type: existed ? "MODIFIED" : "ADDED", resource: r, object: view, rv: this.rv });
    return view;
  }

  /** Removes an object for good. */
  remove(r: ResourceDef, namespace: string | undefined, name: string): void {
    const k = objectKey(r, r.namespaced ? namespace : undefined, name);
    const o = this.objects.get(k);
    if (o === undefined) return;
    this.objects.delete(k);
    this.managers.delete(k);
    this.rv += 1;
    const view = this.view(r, { ...o, metadata: { ...o.metadata, resourceVersion: String(this.rv) } });
    this.emit({ type: "DELETED", resource: r, object: view, rv: this.rv });
  }

  /** Events after `rv` for resource `r`. */
  eventsSince(r: ResourceDef, rv: number): StoreEvent[] {
    return this.log.filter((e) => e.rv > rv && resourceKey(e.resource) === resourceKey(r));
  }

  private emit(event: StoreEvent): void {
    this.log.push(event);
    for (const w of this.watchers) {
      if (resourceKey(w.resource) !== resourceKey(event.resource)) continue;
      if (w.namespace !== undefined && event.object.metadata.namespace !== w.namespace) continue;
      if (!w.matches(event.object)) continue;
      w.send({ ...event, object: this.asVersion(w.resource, event.object) });
    }
    for (const l of this.listeners) l(event);
  }

  /** One entry per group+plural (versions share storage). */
  uniqueResources(): ResourceDef[] {
    const seen = new Set<string>();
    return this.resources.filter((r) => {
      const k = resourceKey(r);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }

  /** The object as the client sees it: managedFields rendered, apiVersion of the requested version. */
  private view(r: ResourceDef, o: Obj): Obj {
    const out = structuredClone(o);
    const managers = this.managers.get(
      objectKey(r, r.namespaced ? o.metadata.namespace : undefined, o.metadata.name),
    );
    if (managers !== undefined && managers.length > 0)
      out.metadata.managedFields = renderManagedFields(managers);
    return this.asVersion(r, out);
  }

  private asVersion(r: ResourceDef, o: Obj): Obj {
    return { ...o, apiVersion: groupVersion(r), kind: r.kind };
  }
}
