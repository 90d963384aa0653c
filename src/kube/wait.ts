/**
 * Waiting on objects: `watchUntil` reads an object, then watches it from that resourceVersion until a
 * predicate holds (re-reading and re-watching whenever the server ends the stream, as watches do), and
 * `waitForReady` uses it to wait, within one timeout, for every applied workload to be ready (readiness.ts).
 * A timeout or a failed workload gives a KubeError naming each object that is not ready, what it waits for,
 * and what its pods report (ImagePullBackOff, crash exits).
 */
import type { KubeClient, KubeObject, ObjectRef } from "./client.ts";
import { describeRef } from "./client.ts";
import { isKubeError, KubeError } from "./errors.ts";
import { podProblems, type Readiness, readiness, WAITED_KINDS } from "./readiness.ts";

/** Seconds a single watch request asks the server to keep the stream open. */
const WATCH_SECONDS = 60;
/** Pause before re-watching after a broken stream, ms. */
const RETRY_MS = 500;

const TIMED_OUT = Symbol("timed out");

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * Resolves with the object (undefined once deleted) as soon as `done` holds for it. Rejects with the
 * signal's reason when `signal` aborts first; transient watch failures are retried.
 */
export async function watchUntil(
  client: KubeClient,
  ref: ObjectRef,
  done: (obj: KubeObject | undefined) => boolean,
  signal: AbortSignal,
): Promise<KubeObject | undefined> {
  for (;;) {
    if (signal.aborted) throw signal.reason;
    let obj: KubeObject | undefined;
    try {
      obj = await client.get(ref, signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (!isKubeError(err, "NETWORK") && !isKubeError(err, "SERVER_ERROR")) throw err;
      await sleep(RETRY_MS, signal);
      continue;
    }
    if (done(obj)) return obj;
    const inner = new AbortController();
    const forward = () => inner.abort(signal.reason);
    signal.addEventListener("abort", forward, { once: true });
    let found: { obj: KubeObject | undefined } | undefined;
    try {
      await client.watch(
        ref.apiVersion,
        ref.kind,
        {
          ...(ref.namespace !== undefined ? { namespace: ref.namespace } : {}),
          fieldSelector: `metadata.name=${ref.name}`,
          ...(obj?.metadata.resourceVersion !== undefined
            ? { resourceVersion: obj.metadata.resourceVersion }
            : {}),
          timeoutSeconds: WATCH_SECONDS,
        },
        (event) => {
          if (found !== undefined || event.type === "BOOKMARK") return;
          const current = event.type === "DELETED" ? undefined : event.object;
          if (done(current)) {
            found = { obj: current };
            inner.abort();
          }
        },
        inner.signal,
      );
    } catch (err) {
      if (found === undefined) {
        if (signal.aborted) throw signal.reason;
        // 410 Gone (history compacted), a dropped connection: read again and re-watch.
        if (!isKubeError(err)) throw err;
        await sleep(RETRY_MS, signal);
      }
    } finally {
      signal.removeEventListener("abort", forward);
    }
    if (found !== undefined) return found.obj;
  }
}

/** Options of waitForReady. */
export interface WaitForReadyOptions {
  /** Total time for all objects, ms. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called whenever an object's readiness message changes. */
  onProgress?: (ref: ObjectRef, readiness: Readiness) => void;
}

/** Waits until every object in `refs` whose kind has a readiness rule is ready; throws naming the others. */
export async function waitForReady(
  client: KubeClient,
  refs: readonly ObjectRef[],
  options: WaitForReadyOptions,
): Promise<void> {
  const waited = refs.filter((r) => WAITED_KINDS.has(r.kind));
  if (waited.length === 0) return;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(TIMED_OUT), options.timeoutMs);
  const onOuterAbort = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) onOuterAbort();
  options.signal?.addEventListener("abort", onOuterAbort, { once: true });
  const last = new Map<ObjectRef, Readiness>();
  const failures: Array<{ ref: ObjectRef; readiness: Readiness }> = [];
  try {
    await Promise.all(
      waited.map(async (ref) => {
        try {
          await watchUntil(
            client,
            ref,
            (obj) => {
              const r: Readiness =
                obj === undefined
                  ? { state: "pending", message: "the object does not exist" }
                  : readiness(obj);
              const previous = last.get(ref);
              if (previous === undefined || JSON.stringify(previous) !== JSON.stringify(r))
                options.onProgress?.(ref, r);
              last.set(ref, r);
              if (r.state === "failed") failures.push({ ref, readiness: r });
              return r.state !== "pending";
            },
            controller.signal,
          );
        } catch (err) {
          if (controller.signal.aborted && controller.signal.reason === TIMED_OUT) return;
          throw err;
        }
      }),
    );
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onOuterAbort);
  }
  if (options.signal?.aborted) throw options.signal.reason;
  const timedOut = controller.signal.reason === TIMED_OUT;
  const notReady = waited.filter((ref) => last.get(ref)?.state !== "ready");
  if (notReady.length === 0) return;
  const details: string[] = [];
  for (const ref of notReady) {
    const r = last.get(ref);
    const why = r === undefined || r.state === "ready" ? "not ready" : r.message;
    const pods = await podProblemsOf(client, ref, options.signal).catch(() => [] as string[]);
    details.push(`${describeRef(ref)}: ${why}${pods.length > 0 ? ` (${pods.join("; ")})` : ""}`);
  }
  const head =
    failures.length > 0 && !timedOut
      ? `${failures.length === 1 ? "an object" : `${failures.length} objects`} failed to become ready`
      : `timed out after ${Math.round(options.timeoutMs / 1000)}s waiting for ${notReady.length} of ${waited.length} objects to become ready`;
  throw new KubeError({
    code: timedOut ? "TIMEOUT" : "NOT_READY",
    message: `${head}: ${details.join("; ")}`,
  });
}

/** Problems reported by the pods a workload selects (at most three). */
async function podProblemsOf(client: KubeClient, ref: ObjectRef, signal?: AbortSignal): Promise<string[]> {
  if (ref.namespace === undefined || !["Deployment", "StatefulSet", "DaemonSet", "Job"].includes(ref.kind))
    return [];
  const obj = await client.get(ref, signal);
  const matchLabels =
    (obj?.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector
      ?.matchLabels ?? {};
  const selector = Object.entries(matchLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  if (selector === "") return [];
  const pods = await client.list("v1", "Pod", { namespace: ref.namespace, labelSelector: selector }, signal);
  return pods.items.flatMap((p) => podProblems(p).map((m) => `pod ${p.metadata.name}: ${m}`)).slice(0, 3);
}
