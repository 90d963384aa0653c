/**
 * The fake API server's "kubelet": runs pods. A pod goes Pending (ContainerCreating) → Running → (for pods
 * whose restartPolicy is not Always) Succeeded or Failed, printing the log lines its image is told to print.
 * An image told never to pull stays waiting in ErrImagePull / ImagePullBackOff, and its log request gets the
 * real server's 400 "is waiting to start". Behaviour is per image, set by the test.
 */

import type { ResourceDef } from "./fake-apiserver-resources.ts";
import type { Obj, Store } from "./fake-apiserver-store.ts";

/** How a container with a given image behaves. */
export interface ImageBehaviour {
  /** `never`: the image never pulls (ErrImagePull, then ImagePullBackOff, forever). Default `ok`. */
  pull?: "ok" | "never";
  /** Lines the container prints. */
  logs?: string[];
  /** Milliseconds between lines; default 5. */
  logIntervalMs?: number;
  /** Exit code when the container ends (pods with restartPolicy Never/OnFailure); default 0. */
  exitCode?: number;
  /** Milliseconds the container keeps running after its last line; default 0. */
  runMs?: number;
}

/** A container's log. */
export interface ContainerLog {
  lines: Array<{ ts: string; text: string }>;
  done: boolean;
  listeners: Set<() => void>;
}

const START_DELAY_MS = 10;

/** RFC 3339 with nanoseconds, as kubelet timestamps log lines. */
function nanoTimestamp(): string {
  const now = new Date();
  const ns = String(Math.floor((performance.timeOrigin + performance.now()) * 1e6) % 1e9).padStart(9, "0");
  return `${now.toISOString().slice(0, 19)}.${ns}Z`;
}

/** Runs pods stored in `store`. */
export class Kubelet {
  readonly images = new Map<string, ImageBehaviour>();
  private readonly logs = new Map<string, ContainerLog>();
  private readonly timers = new Map<string, Set<NodeJS.Timeout>>();
  private closed = false;

  private readonly store: Store;
  private readonly pods: ResourceDef;

  constructor(store: Store, pods: ResourceDef) {
    this.store = store;
    this.pods = pods;
  }

  /** The log of one container (created empty when unknown). */
  log(namespace: string, pod: string, container: string): ContainerLog {
    const k = `${namespace}/${pod}/${container}`;
    let entry = this.logs.get(k);
    if (entry === undefined) {
      entry = { lines: [], done: false, listeners: new Set() };
      this.logs.set(k, entry);
    }
    return entry;
  }

  /** Appends a line to a container's log now. */
  append(namespace: string, pod: string, container: string, text: string): void {
    const entry = this.log(namespace, pod, container);
    entry.lines.push({ ts: nanoTimestamp(), text });
    for (const l of entry.listeners) l();
  }

  /** Starts a newly created pod. */
  start(pod: Obj): void {
    const uid = pod.metadata.uid as string;
    const ns = pod.metadata.namespace as string;
    const name = pod.metadata.name;
    const spec = (pod.spec ?? {}) as {
      containers?: Array<{ name: string; image: string }>;
      restartPolicy?: string;
    };
    const containers = spec.containers ?? [];
    const behaviours = containers.map((c) => this.images.get(c.image) ?? {});
    const runsToCompletion = spec.restartPolicy === "Never" || spec.restartPolicy === "OnFailure";
    this.setStatus(ns, name, {
      phase: "Pending",
      containerStatuses: containers.map((c) => ({
        name: c.name,
        image: c.image,
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: "ContainerCreating" } },
      })),
    });
    const neverPulls = containers.filter((_, i) => behaviours[i]?.pull === "never");
    if (neverPulls.length > 0) {
      const waiting = (reason: string, message: (image: string) => string) =>
        this.setStatus(ns, name, {
          phase: "Pending",
          containerStatuses: containers.map((c, i) => ({
            name: c.name,
            image: c.image,
            ready: false,
            restartCount: 0,
            state:
              behaviours[i]?.pull === "never"
                ? { waiting: { reason, message: message(c.image) } }
                : { waiting: { reason: "PodInitializing" } },
          })),
        });
      this.after(uid, START_DELAY_MS, () =>
        waiting(
          "ErrImagePull",
          (image) =>
            `rpc error: code = NotFound desc = failed to pull and unpack image "${image}": not found`,
        ),
      );
      this.after(uid, START_DELAY_MS * 3, () =>
        waiting("ImagePullBackOff", (image) => `Back-off pulling image "${image}"`),
      );
      return;
    }
    this.after(uid, START_DELAY_MS, () => {
      const startedAt = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
      this.setStatus(ns, name, {
        phase: "Running",
        startTime: startedAt,
        conditions: [{ type: "Ready", status: "True" }],
        containerStatuses: containers.map((c) => ({
          name: c.name,
          image: c.image,
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt } },
        })),
      });
      let remaining = containers.length;
      const exitCodes: number[] = [];
      containers.forEach((c, i) => {
        const b = behaviours[i] ?? {};
        const lines = b.logs ?? [];
        const interval = b.logIntervalMs ?? 5;
        lines.forEach((text, j) => {
          this.after(uid, interval * (j + 1), () => this.append(ns, name, c.name, text));
        });
        if (!runsToCompletion) return;
        this.after(uid, interval * (lines.length + 1) + (b.runMs ?? 0), () => {
          exitCodes[i] = b.exitCode ?? 0;
          const entry = this.log(ns, name, c.name);
          entry.done = true;
          for (const l of entry.listeners) l();
          remaining -= 1;
          if (remaining === 0) this.finish(ns, name, containers, exitCodes, startedAt);
        });
      });
    });
  }

  /** Stops a deleted pod: timers end, log streams close. */
  stop(pod: Obj): void {
    for (const t of this.timers.get(pod.metadata.uid as string) ?? []) clearTimeout(t);
    this.timers.delete(pod.metadata.uid as string);
    const prefix = `${pod.metadata.namespace}/${pod.metadata.name}/`;
    for (const [k, entry] of this.logs) {
      if (!k.startsWith(prefix)) continue;
      entry.done = true;
      for (const l of entry.listeners) l();
      this.logs.delete(k);
    }
  }

  /** Cancels every timer. */
  close(): void {
    this.closed = true;
    for (const set of this.timers.values()) for (const t of set) clearTimeout(t);
    this.timers.clear();
  }

  private finish(
    ns: string,
    name: string,
    containers: Array<{ name: string; image: string }>,
    exitCodes: number[],
    startedAt: string,
  ): void {
    const finishedAt = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    const failed = exitCodes.some((c) => c !== 0);
    this.setStatus(ns, name, {
      phase: failed ? "Failed" : "Succeeded",
      startTime: startedAt,
      conditions: [{ type: "Ready", status: "False", reason: "PodCompleted" }],
      containerStatuses: containers.map((c, i) => ({
        name: c.name,
        image: c.image,
        ready: false,
        started: false,
        restartCount: 0,
        state: {
          terminated: {
            exitCode: exitCodes[i] ?? 0,
            reason: (exitCodes[i] ?? 0) === 0 ? "Completed" : "Error",
            startedAt,
            finishedAt,
          },
        },
      })),
    });
  }

  private setStatus(ns: string, name: string, status: Record<string, unknown>): void {
    if (this.closed) return;
    const pod = this.store.get(this.pods, ns, name);
    if (pod === undefined || pod.metadata.deletionTimestamp !== undefined) return;
    this.store.put(this.pods, { ...pod, status });
  }

  private after(uid: string, ms: number, fn: () => void): void {
    if (this.closed) return;
    const set = this.timers.get(uid) ?? new Set<NodeJS.Timeout>();
    this.timers.set(uid, set);
    const t = setTimeout(() => {
      set.delete(t);
      fn();
    }, ms);
    set.add(t);
  }
}
