/**
 * Following pods and their logs as they come:
 *
 * - `watchObjects` lists objects matching a selector, then watches from the list's resourceVersion,
 *   re-listing whenever the server ends the stream, and hands every version of every object to a callback.
 * - `followContainerLog` streams one container's log with `follow=true&timestamps=true` until the container
 *   ends. A container still starting (the server's 400 "is waiting to start") is retried; a dropped stream
 *   resumes from the last timestamp with `sinceTime`, skipping lines already delivered.
 * - `startPodLogs` combines them: every pod the selector matches gets its containers followed.
 */
import type { KubeClient, KubeObject } from "./client.ts";
import { isKubeError } from "./errors.ts";

/** Pause between attempts while a container is starting or after a dropped stream, ms. */
export const LOG_RETRY_MS = 1000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Lists, then watches, objects matching `options`; returns when `signal` aborts. */
export async function watchObjects(
  client: KubeClient,
  apiVersion: string,
  kind: string,
  options: { namespace?: string; labelSelector?: string },
  onObject: (obj: KubeObject, deleted: boolean) => void,
  signal: AbortSignal,
  retryMs = LOG_RETRY_MS,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const list = await client.list(apiVersion, kind, options, signal);
      for (const item of list.items) onObject({ ...item, apiVersion, kind }, false);
      await client.watch(
        apiVersion,
        kind,
        { ...options, resourceVersion: list.resourceVersion, timeoutSeconds: 60 },
        (e) => {
          if (e.type === "ADDED" || e.type === "MODIFIED") onObject(e.object, false);
          else if (e.type === "DELETED") onObject(e.object, true);
        },
        signal,
      );
    } catch (err) {
      if (signal.aborted) return;
      if (!isKubeError(err)) throw err;
      await sleep(retryMs, signal);
    }
  }
}

/** Sortable key of an RFC 3339 timestamp with up to nanosecond fractions (kubelet trims trailing zeros). */
export function timestampKey(ts: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (m === null) return ts;
  return `${m[1]}.${(m[2] ?? "").padEnd(9, "0")}${m[3]}`;
}

/** Splits a `timestamps=true` log line into its timestamp and text. */
export function splitTimestamp(line: string): { ts: string | undefined; text: string } {
  const space = line.indexOf(" ");
  const head = space === -1 ? line : line.slice(0, space);
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(head))
    return { ts: head, text: space === -1 ? "" : line.slice(space + 1) };
  return { ts: undefined, text: line };
}

type ContainerState = "waiting" | "running" | "terminated" | "unknown";

/** The state of one container of a pod. */
export function containerState(pod: KubeObject | undefined, container: string): ContainerState {
  const statuses = ((
    pod?.status as
      | { containerStatuses?: Array<{ name?: string; state?: Record<string, unknown> }> }
      | undefined
  )?.containerStatuses ?? []) as Array<{ name?: string; state?: Record<string, unknown> }>;
  const state = statuses.find((c) => c.name === container)?.state ?? {};
  if (state.terminated !== undefined) return "terminated";
  if (state.running !== undefined) return "running";
  if (state.waiting !== undefined) return "waiting";
  return "unknown";
}

/**
 * Streams one container's log until the container has terminated and its log is read to the end, the pod
 * is gone, or `signal` aborts. `onLine` receives each line once, without the timestamp.
 */
export async function followContainerLog(
  client: KubeClient,
  namespace: string,
  pod: string,
  container: string,
  onLine: (text: string) => void,
  signal: AbortSignal,
  retryMs = LOG_RETRY_MS,
): Promise<void> {
  let lastKey: string | undefined;
  let lastTs: string | undefined;
  while (!signal.aborted) {
    try {
      await client.streamLog(
        namespace,
        pod,
        {
          container,
          follow: true,
          timestamps: true,
          ...(lastTs !== undefined ? { sinceTime: lastTs.replace(/\.\d+/, "") } : {}),
        },
        (line) => {
          const { ts, text } = splitTimestamp(line);
          if (ts !== undefined) {
            const key = timestampKey(ts);
            if (lastKey !== undefined && key <= lastKey) return; // already delivered before a reconnect
            lastKey = key;
            lastTs = ts;
          }
          onLine(text);
        },
        signal,
      );
    } catch (err) {
      if (signal.aborted) return;
      if (isKubeError(err, "NOT_FOUND")) return; // the pod is gone
      if (!isKubeError(err)) throw err;
      await sleep(retryMs, signal); // still starting (400 "waiting to start"), or the stream broke
      continue;
    }
    // The stream ended: the container stopped, or the connection dropped while it runs.
    const current = await client
      .get({ apiVersion: "v1", kind: "Pod", name: pod, namespace }, signal)
      .catch(() => undefined);
    if (current === undefined || containerState(current, container) === "terminated") return;
    await sleep(retryMs, signal);
  }
}

/** Options of startPodLogs. */
export interface PodLogsOptions {
  namespace: string;
  labelSelector: string;
  /** Receives each line with the pod and container it came from. */
  onLine: (text: string, pod: string, container: string) => void;
  /** Called with every version of every matching pod (e.g. to spot image pull failures). */
  onPod?: (pod: KubeObject) => void;
  retryMs?: number;
}

/** A running log follower. */
export interface PodLogs {
  /**
   * Starts followers for containers not seen yet (one last list), waits up to `timeoutMs` for every
   * follower to reach the end of its log, then stops everything.
   */
  settle(timeoutMs: number): Promise<void>;
  /** Stops at once. */
  stop(): Promise<void>;
}

/** Follows the logs of every container of every pod matching the selector, as pods come and go. */
export function startPodLogs(client: KubeClient, options: PodLogsOptions, signal: AbortSignal): PodLogs {
  const controller = new AbortController();
  const forward = () => controller.abort(signal.reason);
  if (signal.aborted) forward();
  else signal.addEventListener("abort", forward, { once: true });
  const following = new Map<string, Promise<void>>();
  const onPod = (pod: KubeObject, deleted: boolean) => {
    if (deleted || controller.signal.aborted) return;
    options.onPod?.(pod);
    const name = pod.metadata.name ?? "";
    const containers = (
      (pod.spec as { containers?: Array<{ name: string }> } | undefined)?.containers ?? []
    ).map((c) => c.name);
    for (const container of containers) {
      const key = `${name}/${container}`;
      if (following.has(key)) continue;
      const state = containerState(pod, container);
      if (state !== "running" && state !== "terminated") continue;
      const onLine = (text: string) => options.onLine(text, name, container);
      following.set(
        key,
        followContainerLog(
          client,
          options.namespace,
          name,
          container,
          onLine,
          controller.signal,
          options.retryMs,
        ).catch(() => undefined),
      );
    }
  };
  const selector = { namespace: options.namespace, labelSelector: options.labelSelector };
  const watching = watchObjects(
    client,
    "v1",
    "Pod",
    selector,
    onPod,
    controller.signal,
    options.retryMs,
  ).catch(() => undefined);
  const stop = async () => {
    controller.abort();
    signal.removeEventListener("abort", forward);
    await watching;
    await Promise.all(following.values());
  };
  return {
    async settle(timeoutMs) {
      const list = await client.list("v1", "Pod", selector, controller.signal).catch(() => undefined);
      for (const pod of list?.items ?? []) onPod({ ...pod, apiVersion: "v1", kind: "Pod" }, false);
      await Promise.race([Promise.all(following.values()), sleep(timeoutMs, controller.signal)]);
      await stop();
    },
    stop,
  };
}
