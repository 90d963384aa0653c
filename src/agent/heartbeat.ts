/**
 * Heartbeats on a wall-clock grid: beat k is due at `anchor + k × interval` (anchor = start + a random offset
 * in [0, interval)), so a slow request or a busy moment never makes the cadence drift; a missed slot is
 * skipped, not queued. Each send is fire-and-forget with its own deadline, so a hanging request never delays
 * the next beat. The worst gap between two sends is recorded (the benchmark reports it).
 *
 * This file is the scheduler; heartbeat-thread.ts runs it on a worker thread so that CPU or log floods on the
 * main thread cannot delay a beat.
 */

/** What a heartbeat loop has done so far. */
export interface HeartbeatStats {
  /** Beats sent (requests started). */
  sent: number;
  /** Beats whose request failed. */
  failed: number;
  /** Largest time between two consecutive sends, in milliseconds (0 before the second send). */
  worstGapMs: number;
  /** performance.now() of the last send, or undefined before the first. */
  lastSentAtMs: number | undefined;
}

/** Options of a heartbeat loop. */
export interface HeartbeatOptions {
  /** Milliseconds between beats (settings.heart_beat_timeout; default 5000). */
  intervalMs: number;
  /** Milliseconds before the first beat; default random in [0, intervalMs). */
  initialOffsetMs?: number;
  /** Sends one beat; should apply its own per-request deadline. */
  send(): Promise<void>;
  /** Called with each failed send (errors are only reported, never fatal). */
  onError?(err: unknown): void;
  /** Called after each send settles, with the current stats. */
  onStats?(stats: HeartbeatStats): void;
  /** Monotonic clock in ms; default performance.now. */
  now?: () => number;
  /** Random in [0, 1); default Math.random. */
  random?: () => number;
}

/** A running heartbeat loop. */
export interface HeartbeatLoop {
  stats(): HeartbeatStats;
  /** Stops scheduling beats (a beat already sent is not awaited). Idempotent. */
  stop(): void;
}

/** Nanoseconds since this process started: the truthful `alive_time` (also right inside a worker thread). */
export function aliveTimeNs(): number {
  return Math.round(process.uptime() * 1e9);
}

/**
 * The next grid slot to beat in after slot `firedSlot` fired: the following slot, or — when the event loop
 * was blocked past it — the first slot still in the future (missed slots are skipped, not queued). Timers
 * may fire a little early, so the slot that fired never counts as the future.
 */
export function nextSlot(anchorMs: number, intervalMs: number, nowMs: number, firedSlot: number): number {
  const current = nowMs < anchorMs ? -1 : Math.floor((nowMs - anchorMs) / intervalMs);
  return Math.max(firedSlot + 1, current + 1);
}

/** Starts a heartbeat loop. */
export function startHeartbeatLoop(options: HeartbeatOptions): HeartbeatLoop {
  const now = options.now ?? (() => performance.now());
  const random = options.random ?? Math.random;
  const intervalMs = Math.max(1, options.intervalMs);
  const offsetMs = options.initialOffsetMs ?? Math.floor(random() * intervalMs);
  const anchorMs = now() + offsetMs;
  const stats: HeartbeatStats = { sent: 0, failed: 0, worstGapMs: 0, lastSentAtMs: undefined };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  function beat(slot: number): void {
    if (stopped) return;
    const at = now();
    if (stats.lastSentAtMs !== undefined)
      stats.worstGapMs = Math.max(stats.worstGapMs, at - stats.lastSentAtMs);
    stats.lastSentAtMs = at;
    stats.sent += 1;
    schedule(nextSlot(anchorMs, intervalMs, now(), slot));
    options.send().then(
      () => options.onStats?.({ ...stats }),
      (err: unknown) => {
        stats.failed += 1;
        options.onError?.(err);
        options.onStats?.({ ...stats });
      },
    );
  }

  function schedule(slot: number): void {
    if (stopped) return;
    timer = setTimeout(() => beat(slot), Math.max(0, anchorMs + slot * intervalMs - now()));
  }

  schedule(0);
  return {
    stats: () => ({ ...stats }),
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
