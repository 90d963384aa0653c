/**
 * Idle compaction: once the runner has had no job for `delayMs` (after startup, and after each burst of jobs),
 * one full garbage collection returns to the system the memory that startup or the jobs left behind. V8 keeps
 * the young generation it grew and the old-space pages of garbage it has not marked yet; a runner is a daemon
 * that mostly waits, and without this it waits at the high-water mark of its last work (measured: ~4.5 MB
 * after startup, see docs/performance.md). One collection per idle period, on the main thread: a few ms on an
 * idle runner's small heap. Heartbeats run on their own thread and do not notice it; a job that arrives during
 * it waits that long.
 *
 * V8's collector is reachable from JavaScript only when exposed: `globalThis.gc` when node was started with
 * `--expose-gc`, else the function V8 installs in a new context while the flag is set for that moment (the
 * flag is turned off again at once, so no other context gets a `gc`; Jest's leak detector reaches it the same
 * way). When neither works, compaction is off.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * V8's `gc()` options for a full collection that also gives memory back: `last-resort` runs the collections
 * V8 runs before an out-of-memory error (with the flag to reduce the footprint: the young generation shrinks,
 * emptied pages are unmapped). A `regular` major collection frees the objects but keeps the pages: measured on
 * an idle runner, 9–11 ms and no change in RSS, where `last-resort` took 16 ms and returned ~4.5 MB.
 */
const FULL = { type: "major", execution: "sync", flavor: "last-resort" } as const;

/** A full, synchronous collection. */
export type Collect = () => void;

/** Where the collector was found. */
export type CollectorSource = "global" | "context";

/** Finds V8's collector; undefined when it cannot be reached. */
export function findCollector(): { collect: Collect; source: CollectorSource } | undefined {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === "function") {
    return {
      collect: () => (exposed as (o?: object) => void)(FULL),
      source: "global",
    };
  }
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("typeof gc === 'function' ? gc : undefined");
    if (typeof gc !== "function") return undefined;
    return {
      collect: () => (gc as (o?: object) => void)(FULL),
      source: "context",
    };
  } catch {
    return undefined;
  } finally {
    try {
      setFlagsFromString("--no-expose-gc");
    } catch {
      // the flag only matters for contexts made later; none are made with it on
    }
  }
}

/** What one compaction did. */
export interface Compaction {
  durationMs: number;
  /** Resident set size before and after, in bytes. */
  rssBefore: number;
  rssAfter: number;
}

/** Options of `createIdleGc`. */
export interface IdleGcOptions {
  /** Milliseconds without a job before the collection; 0 turns compaction off. */
  delayMs: number;
  /** The collector; default `findCollector()`'s (none: compaction is off). */
  collect?: Collect | undefined;
  /** Called after each compaction (a log line, tests). */
  onCompaction?: (compaction: Compaction) => void;
  /** Resident set size in bytes; default process.memoryUsage.rss. */
  rss?: () => number;
}

/** Tells the compactor when the runner works and when it waits. */
export interface IdleGc {
  /** A job started: no compaction until the runner is idle again. */
  busy(): void;
  /** No job runs any more: compact once after the delay, unless a job starts first. */
  idle(): void;
  /** Cancels a pending compaction; later calls do nothing. Idempotent. */
  stop(): void;
  /** True when a collector was found and the delay is not 0. */
  readonly enabled: boolean;
}

/** Creates the idle compactor. */
export function createIdleGc(options: IdleGcOptions): IdleGc {
  const collect =
    options.delayMs > 0 ? ("collect" in options ? options.collect : findCollector()?.collect) : undefined;
  const rss = options.rss ?? (() => process.memoryUsage.rss());
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const cancel = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  return {
    enabled: collect !== undefined,
    busy: cancel,
    idle() {
      if (collect === undefined || stopped) return;
      cancel();
      timer = setTimeout(() => {
        timer = undefined;
        const rssBefore = rss();
        const started = performance.now();
        try {
          collect();
        } catch {
          return; // a collector that throws changes nothing the runner relies on
        }
        options.onCompaction?.({ durationMs: performance.now() - started, rssBefore, rssAfter: rss() });
      }, options.delayMs);
      timer.unref();
    },
    stop() {
      stopped = true;
      cancel();
    },
  };
}
