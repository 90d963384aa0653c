/**
 * The fake API server's controllers, reacting to store events the way kube-controller-manager does, in
 * miniature:
 *
 * - Deployment → one ReplicaSet per pod-template hash (old ones removed) → pods; status counts ready pods,
 *   `Progressing` turns False/ProgressDeadlineExceeded after `progressDeadlineSeconds` without completion;
 * - StatefulSet → pods `<name>-<i>`; currentRevision becomes updateRevision once every pod is updated and ready;
 * - DaemonSet → one pod (the fake cluster has one node);
 * - Job → one pod at a time; a failed pod counts against `backoffLimit` (then `Failed`/BackoffLimitExceeded),
 *   `activeDeadlineSeconds` ends it with `Failed`/DeadlineExceeded, a succeeded pod completes it;
 * - garbage collection by ownerReferences for Background and Foreground deletion, and namespace and CRD
 *   deletion that empty what they contain first.
 *
 * Rollouts replace pods all at once (no surge/unavailability accounting); restartPolicy OnFailure makes a
 * new pod instead of restarting the container.
 */
import { createHash, randomBytes } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type { Kubelet } from "./fake-apiserver-kubelet.ts";
import { groupVersion, type ResourceDef } from "./fake-apiserver-resources.ts";
import type { Obj, Store, StoreEvent } from "./fake-apiserver-store.ts";

type J = Record<string, unknown>;
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
const suffix = () =>
  Array.from(randomBytes(5), (b) => "bcdfghjklmnpqrstvwxz2456789"[b % 27])
    .join("")
    .slice(0, 5);

/** Options of the controllers. */
export interface ControllerOptions {
  /** Delay between a pod failing and the Job controller's next pod, ms; default 10. */
  jobBackoffMs?: number;
  /** Delay of garbage collection steps, ms; default 10. */
  gcDelayMs?: number;
}

/** The controllers. */
export class Controllers {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private closed = false;

  private readonly store: Store;
  private readonly kubelet: Kubelet;
  private readonly options: ControllerOptions;

  constructor(store: Store, kubelet: Kubelet, options: ControllerOptions = {}) {
    this.store = store;
    this.kubelet = kubelet;
    this.options = options;
    store.listeners.add((e) => this.onEvent(e));
  }

  private res(apiVersion: string, kind: string): ResourceDef {
    const r = this.store.resourceFor(apiVersion, kind);
    if (r === undefined) throw new Error(`fake apiserver: no resource for ${apiVersion} ${kind}`);
    return r;
  }

  /** Stops all timers. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const t of this.pending.values()) clearTimeout(t);
  }

  /** Runs `fn` after `ms` unless closed. */
  later(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  private schedule(kind: string, ns: string | undefined, name: string, ms = 2): void {
    const k = `${kind}|${ns ?? ""}|${name}`;
    if (this.pending.has(k) || this.closed) return;
    this.pending.set(
      k,
      setTimeout(() => {
        this.pending.delete(k);
        if (!this.closed) this.reconcile(kind, ns, name);
      }, ms),
    );
  }

  private onEvent(e: StoreEvent): void {
    const o = e.object;
    const ns = o.metadata.namespace;
    if (e.resource.kind === "Pod") {
      if (e.type === "ADDED") this.kubelet.start(o);
      if (e.type === "DELETED") this.kubelet.stop(o);
    }
    if (
      ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"].includes(e.resource.kind) &&
      e.resource.group !== ""
    ) {
      if (e.type !== "DELETED") this.schedule(e.resource.kind, ns, o.metadata.name);
    }
    for (const ref of (o.metadata.ownerReferences as Array<{ kind: string; name: string }> | undefined) ??
      []) {
      this.schedule(ref.kind, ns, ref.name);
    }
  }

  private reconcile(kind: string, ns: string | undefined, name: string): void {
    const gv = {
      Deployment: "apps/v1",
      ReplicaSet: "apps/v1",
      StatefulSet: "apps/v1",
      DaemonSet: "apps/v1",
      Job: "batch/v1",
    }[kind];
    if (gv === undefined) return;
    const r = this.res(gv, kind);
    const obj = this.store.get(r, ns, name);
    if (obj === undefined || obj.metadata.deletionTimestamp !== undefined) return;
    if (kind === "Deployment") this.deployment(r, obj);
    else if (kind === "ReplicaSet") this.replicaSet(r, obj);
    else if (kind === "StatefulSet") this.statefulSet(r, obj);
    else if (kind === "DaemonSet") this.daemonSet(r, obj);
    else this.job(r, obj);
  }

  private ownerRef(obj: Obj): J {
    return {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      name: obj.metadata.name,
      uid: obj.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    };
  }

  private podsOf(owner: Obj): Obj[] {
    const pods = this.res("v1", "Pod");
    return this.store
      .list(pods, owner.metadata.namespace)
      .filter((p) =>
        ((p.metadata.ownerReferences as J[] | undefined) ?? []).some((ref) => ref.uid === owner.metadata.uid),
      );
  }

  private createPod(owner: Obj, name: string, template: J, extraLabels: Record<string, string> = {}): void {
    const meta = (template.metadata ?? {}) as J;
    const pod: Obj = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: owner.metadata.namespace as string,
        labels: { ...((meta.labels as Record<string, string>) ?? {}), ...extraLabels },
        ownerReferences: [this.ownerRef(owner)],
      },
      spec: structuredClone(template.spec ?? {}),
    };
    this.store.put(this.res("v1", "Pod"), pod);
  }

  private setStatus(r: ResourceDef, obj: Obj, status: J): void {
    const current = this.store.get(r, obj.metadata.namespace, obj.metadata.name);
    if (current === undefined || isDeepStrictEqual(current.status, status)) return;
    this.store.put(r, { ...current, status });
  }

  private static ready(p: Obj): boolean {
    const s = (p.status ?? {}) as { phase?: string; conditions?: Array<{ type: string; status: string }> };
    return (
      s.phase === "Running" && (s.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
    );
  }

  private static hash(template: unknown): string {
    return createHash("sha256")
      .update(JSON.stringify(template ?? {}))
      .digest("hex")
      .slice(0, 10);
  }

  private deployment(r: ResourceDef, d: Obj): void {
    const spec = (d.spec ?? {}) as { replicas?: number; template?: J; progressDeadlineSeconds?: number };
    const desired = spec.replicas ?? 1;
    const hash = Controllers.hash(spec.template);
    const rsRes = this.res("apps/v1", "ReplicaSet");
    const rsName = `${d.metadata.name}-${hash}`;
    const owned = this.store
      .list(rsRes, d.metadata.namespace)
      .filter((rs) =>
        ((rs.metadata.ownerReferences as J[] | undefined) ?? []).some((ref) => ref.uid === d.metadata.uid),
      );
    for (const old of owned) {
      if (old.metadata.name !== rsName) this.deleteCascade(rsRes, old, "Background");
    }
    const template = structuredClone(spec.template ?? {}) as J;
    const tmeta = (template.metadata ?? {}) as J;
    template.metadata = { ...tmeta, labels: { ...((tmeta.labels as J) ?? {}), "pod-template-hash": hash } };
    const existing = owned.find((rs) => rs.metadata.name === rsName);
    if (existing === undefined) {
      this.store.put(rsRes, {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: {
          name: rsName,
          namespace: d.metadata.namespace as string,
          labels: (template.metadata as J).labels as J,
          ownerReferences: [this.ownerRef(d)],
        },
        spec: { replicas: desired, selector: (d.spec as J).selector, template },
      });
      return;
    }
    if ((existing.spec as J).replicas !== desired) {
      this.store.put(rsRes, { ...existing, spec: { ...(existing.spec as J), replicas: desired } });
      return;
    }
    const pods = this.podsOf(existing);
    const ready = pods.filter(Controllers.ready).length;
    const complete = pods.length === desired && ready === desired;
    const previous = (d.status ?? {}) as { conditions?: J[]; observedGeneration?: number };
    const generation = d.metadata.generation as number;
    const progressing = previous.conditions?.find((c) => c.type === "Progressing");
    let progressCondition: J;
    if (complete) {
      progressCondition = {
        type: "Progressing",
        status: "True",
        reason: "NewReplicaSetAvailable",
        message: `ReplicaSet "${rsName}" has successfully progressed.`,
      };
    } else {
      const since =
        progressing?.reason === "ReplicaSetUpdated" && previous.observedGeneration === generation
          ? Date.parse(progressing.lastUpdateTime as string)
          : Date.now();
      const deadlineMs = (spec.progressDeadlineSeconds ?? 600) * 1000;
      const exceeded = progressing?.reason === "ProgressDeadlineExceeded" || Date.now() - since >= deadlineMs;
      progressCondition = exceeded
        ? {
            type: "Progressing",
            status: "False",
            reason: "ProgressDeadlineExceeded",
            message: `ReplicaSet "${rsName}" has timed out progressing.`,
            lastUpdateTime: progressing?.lastUpdateTime ?? now(),
          }
        : {
            type: "Progressing",
            status: "True",
            reason: "ReplicaSetUpdated",
            message: `ReplicaSet "${rsName}" is progressing.`,
            lastUpdateTime: new Date(since).toISOString(),
          };
      if (!exceeded)
        this.later(Math.max(1, since + deadlineMs - Date.now() + 5), () =>
          this.schedule("Deployment", d.metadata.namespace, d.metadata.name),
        );
    }
    this.setStatus(r, d, {
      observedGeneration: generation,
      replicas: pods.length,
      updatedReplicas: pods.length,
      readyReplicas: ready,
      availableReplicas: ready,
      ...(pods.length - ready > 0 ? { unavailableReplicas: pods.length - ready } : {}),
      conditions: [
        {
          type: "Available",
          status: ready >= desired ? "True" : "False",
          reason: ready >= desired ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
        },
        progressCondition,
      ],
    });
  }

  private replicaSet(r: ResourceDef, rs: Obj): void {
    const spec = (rs.spec ?? {}) as { replicas?: number; template?: J };
    const desired = spec.replicas ?? 1;
    const pods = this.podsOf(rs).filter((p) => p.metadata.deletionTimestamp === undefined);
    for (let i = pods.length; i < desired; i++)
      this.createPod(rs, `${rs.metadata.name}-${suffix()}`, spec.template ?? {});
    for (const extra of pods.slice(desired)) this.deleteCascade(this.res("v1", "Pod"), extra, "Background");
    const ready = pods.slice(0, desired).filter(Controllers.ready).length;
    this.setStatus(r, rs, {
      replicas: Math.min(pods.length, desired),
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: rs.metadata.generation,
    });
  }

  private statefulSet(r: ResourceDef, s: Obj): void {
    const spec = (s.spec ?? {}) as { replicas?: number; template?: J };
    const desired = spec.replicas ?? 1;
    const revision = `${s.metadata.name}-${Controllers.hash(spec.template)}`;
    const podRes = this.res("v1", "Pod");
    const pods = this.podsOf(s);
    for (const p of pods) {
      const idx = Number(p.metadata.name.slice(s.metadata.name.length + 1));
      const rev = ((p.metadata.labels ?? {}) as J)["controller-revision-hash"];
      if (idx >= desired || rev !== revision) this.deleteCascade(podRes, p, "Background");
    }
    const current = this.podsOf(s);
    for (let i = 0; i < desired; i++) {
      const name = `${s.metadata.name}-${i}`;
      if (!current.some((p) => p.metadata.name === name)) {
        this.createPod(s, name, spec.template ?? {}, {
          "controller-revision-hash": revision,
          "statefulset.kubernetes.io/pod-name": name,
        });
      }
    }
    const updated = current.filter(
      (p) => ((p.metadata.labels ?? {}) as J)["controller-revision-hash"] === revision,
    );
    const ready = updated.filter(Controllers.ready).length;
    const previous = (s.status ?? {}) as { currentRevision?: string };
    this.setStatus(r, s, {
      observedGeneration: s.metadata.generation,
      replicas: current.length,
      readyReplicas: ready,
      availableReplicas: ready,
      currentReplicas: ready === desired ? desired : current.length - updated.length,
      updatedReplicas: updated.length,
      updateRevision: revision,
      currentRevision:
        ready === desired && updated.length === desired ? revision : (previous.currentRevision ?? revision),
    });
  }

  private daemonSet(r: ResourceDef, ds: Obj): void {
    const spec = (ds.spec ?? {}) as { template?: J };
    const hash = Controllers.hash(spec.template);
    const podRes = this.res("v1", "Pod");
    const pods = this.podsOf(ds);
    for (const p of pods) {
      if (((p.metadata.labels ?? {}) as J)["controller-revision-hash"] !== hash)
        this.deleteCascade(podRes, p, "Background");
    }
    const current = this.podsOf(ds);
    if (current.length === 0)
      this.createPod(ds, `${ds.metadata.name}-${suffix()}`, spec.template ?? {}, {
        "controller-revision-hash": hash,
      });
    const ready = current.filter(Controllers.ready).length;
    this.setStatus(r, ds, {
      observedGeneration: ds.metadata.generation,
      desiredNumberScheduled: 1,
      currentNumberScheduled: 1,
      updatedNumberScheduled: current.length,
      numberReady: ready,
      numberAvailable: ready,
      ...(ready < 1 ? { numberUnavailable: 1 } : {}),
    });
  }

  private job(r: ResourceDef, job: Obj): void {
    const spec = (job.spec ?? {}) as {
      backoffLimit?: number;
      activeDeadlineSeconds?: number;
      template?: J;
      suspend?: boolean;
    };
    const status = structuredClone((job.status ?? {}) as J) as {
      startTime?: string;
      active?: number;
      succeeded?: number;
      failed?: number;
      conditions?: J[];
      completionTime?: string;
    };
    if (
      (status.conditions ?? []).some(
        (c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True",
      )
    )
      return;
    const podRes = this.res("v1", "Pod");
    const pods = this.podsOf(job);
    const phase = (p: Obj) => ((p.status ?? {}) as { phase?: string }).phase;
    const succeeded = pods.filter((p) => phase(p) === "Succeeded").length;
    const failed = pods.filter((p) => phase(p) === "Failed").length;
    const active = pods.filter(
      (p) => phase(p) !== "Succeeded" && phase(p) !== "Failed" && p.metadata.deletionTimestamp === undefined,
    );
    status.startTime ??= now();
    const finish = (type: "Complete" | "Failed", reason: string, message: string) => {
      for (const p of active) this.deleteCascade(podRes, p, "Background");
      const at = now();
      this.setStatus(r, job, {
        ...status,
        active: 0,
        succeeded,
        failed,
        ...(type === "Complete" ? { completionTime: at } : {}),
        conditions: [
          ...(type === "Complete"
            ? [
                {
                  type: "SuccessCriteriaMet",
                  status: "True",
                  reason: "CompletionsReached",
                  message: "Reached expected number of succeeded pods",
                  lastTransitionTime: at,
                },
              ]
            : [{ type: "FailureTarget", status: "True", reason, message, lastTransitionTime: at }]),
          {
            type,
            status: "True",
            ...(type === "Complete"
              ? { reason: "CompletionsReached", message: "Reached expected number of succeeded pods" }
              : { reason, message }),
            lastTransitionTime: at,
          },
        ],
      });
    };
    if (succeeded >= 1) {
      finish("Complete", "", "");
      return;
    }
    const backoffLimit = spec.backoffLimit ?? 6;
    if (failed > backoffLimit) {
      finish("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit");
      return;
    }
    if (spec.activeDeadlineSeconds !== undefined) {
      const deadline = Date.parse(status.startTime) + spec.activeDeadlineSeconds * 1000;
      if (Date.now() >= deadline) {
        finish("Failed", "DeadlineExceeded", "Job was active longer than specified deadline");
        return;
      }
      this.later(deadline - Date.now() + 5, () =>
        this.schedule("Job", job.metadata.namespace, job.metadata.name),
      );
    }
    if (active.length === 0 && !spec.suspend) {
      const uid = job.metadata.uid as string;
      const labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": job.metadata.name,
        "controller-uid": uid,
        "job-name": job.metadata.name,
      };
      const delay = failed === 0 ? 0 : (this.options.jobBackoffMs ?? 10);
      const expectedFailed = failed;
      this.later(delay, () => {
        const fresh = this.store.get(r, job.metadata.namespace, job.metadata.name);
        if (fresh === undefined || fresh.metadata.deletionTimestamp !== undefined) return;
        const stillIdle = this.podsOf(fresh).every((p) => phase(p) === "Succeeded" || phase(p) === "Failed");
        const failedNow = this.podsOf(fresh).filter((p) => phase(p) === "Failed").length;
        if (stillIdle && failedNow === expectedFailed)
          this.createPod(fresh, `${fresh.metadata.name}-${suffix()}`, spec.template ?? {}, labels);
      });
    }
    this.setStatus(r, job, {
      ...status,
      active: active.length,
      ...(failed > 0 ? { failed } : {}),
      ...(succeeded > 0 ? { succeeded } : {}),
    });
  }

  /**
   * Deletes `obj` with a propagation policy: Foreground marks it and removes it once its dependents are
   * gone, Background removes it and then its dependents, Orphan removes it and strips the owner references.
   */
  deleteCascade(r: ResourceDef, obj: Obj, policy: "Foreground" | "Background" | "Orphan"): void {
    const gcDelay = this.options.gcDelayMs ?? 10;
    const ns = obj.metadata.namespace;
    const uid = obj.metadata.uid as string;
    if (r.kind === "Namespace" || r.kind === "CustomResourceDefinition") {
      this.markDeleting(r, obj, r.kind === "Namespace" ? { phase: "Terminating" } : undefined, [
        "kubernetes",
      ]);
      this.later(gcDelay, () => this.finalizeContainer(r, obj));
      return;
    }
    if (policy === "Foreground") {
      this.markDeleting(r, obj, undefined, ["foregroundDeletion"]);
      this.later(gcDelay, () => this.foregroundStep(r, ns, obj.metadata.name, uid));
      return;
    }
    this.store.remove(r, ns, obj.metadata.name);
    const dependents = this.store.dependentsOf(uid);
    if (policy === "Orphan") {
      for (const d of dependents) {
        const refs = ((d.object.metadata.ownerReferences as J[] | undefined) ?? []).filter(
          (ref) => ref.uid !== uid,
        );
        const meta = { ...d.object.metadata } as Obj["metadata"];
        if (refs.length > 0) meta.ownerReferences = refs;
        else delete meta.ownerReferences;
        this.store.put(d.resource, { ...d.object, metadata: meta });
      }
      return;
    }
    this.later(gcDelay, () => {
      for (const d of this.store.dependentsOf(uid)) this.deleteCascade(d.resource, d.object, "Background");
    });
  }

  private markDeleting(r: ResourceDef, obj: Obj, status: J | undefined, finalizers: string[]): void {
    const current = this.store.get(r, obj.metadata.namespace, obj.metadata.name);
    if (current === undefined || current.metadata.deletionTimestamp !== undefined) return;
    const meta = {
      ...current.metadata,
      deletionTimestamp: now(),
      deletionGracePeriodSeconds: 0,
    } as Obj["metadata"];
    meta.finalizers = [...new Set([...((meta.finalizers as string[] | undefined) ?? []), ...finalizers])];
    this.store.put(r, {
      ...current,
      metadata: meta,
      ...(status !== undefined ? { status: { ...((current.status as J) ?? {}), ...status } } : {}),
    });
  }

  private foregroundStep(r: ResourceDef, ns: string | undefined, name: string, uid: string): void {
    const dependents = this.store.dependentsOf(uid);
    if (dependents.length === 0) {
      this.store.remove(r, ns, name);
      return;
    }
    for (const d of dependents) {
      if (d.object.metadata.deletionTimestamp === undefined)
        this.deleteCascade(d.resource, d.object, "Foreground");
    }
    this.later(this.options.gcDelayMs ?? 10, () => this.foregroundStep(r, ns, name, uid));
  }

  private finalizeContainer(r: ResourceDef, obj: Obj): void {
    const contents =
      r.kind === "Namespace"
        ? this.store.inNamespace(obj.metadata.name)
        : this.store
            .uniqueResources()
            .filter((x) => x.crd === obj.metadata.name)
            .flatMap((x) => this.store.list(x).map((o) => ({ resource: x, object: o })));
    if (contents.length === 0) {
      if (r.kind === "CustomResourceDefinition") {
        this.store.resources = this.store.resources.filter((x) => x.crd !== obj.metadata.name);
      }
      this.store.remove(r, undefined, obj.metadata.name);
      return;
    }
    for (const c of contents) {
      if (c.object.metadata.deletionTimestamp === undefined)
        this.deleteCascade(c.resource, c.object, "Background");
    }
    this.later(this.options.gcDelayMs ?? 10, () => this.finalizeContainer(r, obj));
  }
}

/** `apps/v1` for a resource. */
export { groupVersion };
