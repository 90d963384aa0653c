/**
 * Ships job log spools to the control plane (PROTOCOL.md §3 "Logs"): for each spool it reads the records after
 * the last ack, batches them by count, size and time (a batch goes out at most `batchDelayMs` after its first
 * record, so a job's first line is visible within a second), copies the spool's frames into an OTLP
 * ExportLogsServiceRequest (frames.ts: nothing is parsed or encoded per record here) and POSTs it to the job's
 * log stream; a 2xx advances the ack, persisted in the spool. On failure the batch is kept and retried with
 * jittered backoff for as long as it takes: nothing is dropped. One shipper serves many executions, one request
 * in flight per execution (so records arrive in order). `resumePending` ships what a previous process left.
 *
 * Delivery: at least once on the wire, exactly once at a receiver that honours `runner.log.seq`. Records are
 * spooled before they are shipped and acknowledged only after a 2xx, so the only records ever sent twice are
 * those of the one request in flight when the answer was lost (a network failure, a control-plane restart, a
 * kill -9 of the runner: the restarted runner resumes from the persisted ack and sends that batch again, with
 * the same sequence numbers). The embedded control plane keeps one record per (`runner_job_execution.id`,
 * `runner.log.seq`) and drops the rest (mock-control-plane/log-store.ts); Nuon's control plane does not
 * de-duplicate, so there a lost answer shows at most one batch twice.
 */
import { rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { createBackoff } from "../backoff.ts";
import type { ControlPlaneApi } from "../control-plane/api.ts";
import { ControlPlaneError } from "../control-plane/errors.ts";
import { createLogsEncoder, type LogsEncoder } from "./logs-encoder.ts";
import type { ResourceInfo, StreamContext } from "./otlp-records.ts";
import { listSpoolDirs, Spool, type SpoolOptions } from "./spool.ts";

/** Defaults of the shipper. */
export const SHIPPER_DEFAULTS = {
  /**
   * Records per request. Bigger batches mean fewer round trips when a noisy job builds a backlog (a request costs
   * a round trip whatever its size; 4096 records ship 200 MB ~1.6× faster than 512 on loopback); a quiet job
   * still ships what it has every `batchDelayMs`.
   */
  maxBatchRecords: 4096,
  /** Spool bytes per request (2 MiB; about 3 MB of OTLP on the wire with the per-record constant attributes). */
  maxBatchBytes: 2 * 1024 ** 2,
  /** A batch waits at most this long for more records, in ms. */
  batchDelayMs: 200,
  /** Per-request deadline, in ms. */
  requestTimeoutMs: 10_000,
  /** First and largest backoff ceiling between failed requests, in ms. */
  retryBaseMs: 250,
  retryMaxMs: 10_000,
  /** How long `close()` lets requests in flight finish before aborting them, in ms. */
  closeGraceMs: 5_000,
} as const;

/** Options of `createShipper`. */
export interface ShipperOptions {
  client: Pick<ControlPlaneApi, "writeLogs">;
  /** Resource attributes of every request (see `runnerResource`). */
  resource: ResourceInfo;
  /** The runner's own logger (failures, recoveries). */
  logger: Logger;
  maxBatchRecords?: number;
  maxBatchBytes?: number;
  batchDelayMs?: number;
  requestTimeoutMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  closeGraceMs?: number;
}

/** Counters of a shipper. */
export interface ShipperStats {
  requests: number;
  failedRequests: number;
  /** Items (records and gap markers) delivered. */
  items: number;
  /** Protobuf bytes delivered. */
  bytes: number;
}

/** Ships spools; see the module comment. */
export interface Shipper {
  /** Starts shipping `spool` (idempotent); once it is sealed and fully acknowledged its directory is removed. */
  ship(spool: Spool): void;
  /** Sends what `spool` holds without waiting for a fuller batch; true once all of it is acknowledged. */
  flush(spool: Spool, timeoutMs: number): Promise<boolean>;
  /** The spools being shipped. */
  active(): Spool[];
  stats(): ShipperStats;
  /** Stops: no new requests; requests in flight get `closeGraceMs`. What is not acknowledged stays spooled. */
  close(): Promise<void>;
}

interface Shipment {
  spool: Spool;
  context: StreamContext;
  /** Wakes the loop early (flush, close). */
  wake: () => void;
  urgent: boolean;
  done: Promise<void>;
  /** The encoder this shipment's requests reuse (taken at its first request, given back when it ends). */
  encoder?: LogsEncoder;
  /** Largest request body it encoded, in bytes. */
  largestBody: number;
}

/** Encoders kept for reuse between requests (each holds a buffer of at least 64 KiB). */
const MAX_FREE_ENCODERS = 32;
/** An encoder whose buffer grew past this (a big batch) is not kept once its shipment ended. */
const MAX_KEPT_ENCODER_BYTES = 256 * 1024;

/** Creates a shipper. */
export function createShipper(opts: ShipperOptions): Shipper {
  const o = { ...SHIPPER_DEFAULTS, ...definedOnly(opts) };
  const log = opts.logger;
  const shipments = new Map<Spool, Shipment>();
  const stopping = new AbortController();
  const sleepers = new Set<() => void>();
  const hardStop = new AbortController();
  const stats: ShipperStats = { requests: 0, failedRequests: 0, items: 0, bytes: 0 };
  // One request in flight per spool, and its body is one encoder's buffer until it is acknowledged: a shipment
  // takes an encoder at its first request and reuses it (a noisy job's batches grow its buffer once, not per
  // request), and gives it back when it ends, so most short jobs allocate none.
  const freeEncoders: LogsEncoder[] = [];

  /** Resolves on the spool's next change, a wake-up, `timeoutMs`, or the stop. */
  function waitForChange(s: Shipment, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        unsubscribe();
        sleepers.delete(finish);
        resolve();
      };
      // Unreferenced: a waiting shipper does not keep the process alive (what is unshipped stays spooled).
      const timer = setTimeout(finish, timeoutMs).unref();
      const unsubscribe = s.spool.onChange(finish);
      s.wake = finish;
      sleepers.add(finish); // woken by close() (a plain set: an abort listener per wait costs more)
    });
  }

  /** Sends one encoded batch until it is acknowledged (true) or the shipper stops (false). */
  async function send(s: Shipment, body: Uint8Array, items: number): Promise<boolean> {
    const backoff = createBackoff({ initialMs: o.retryBaseMs, maxMs: o.retryMaxMs, jitterRatio: 0.5 });
    for (;;) {
      if (stopping.signal.aborted) return false;
      try {
        stats.requests++;
        await opts.client.writeLogs(s.context.logStreamId, body, {
          signal: hardStop.signal,
          timeoutMs: o.requestTimeoutMs,
        });
        const failures = backoff.attempts;
        if (failures > 0) {
          log.info({ executionId: s.context.executionId, failures }, "job log shipping recovered");
        }
        stats.items += items;
        stats.bytes += body.length;
        return true;
      } catch (err) {
        stats.failedRequests++;
        if (hardStop.signal.aborted) return false;
        const retryAfterMs = err instanceof ControlPlaneError ? err.retryAfterMs : undefined;
        const delayMs = Math.max(retryAfterMs ?? 0, backoff.next());
        const failures = backoff.attempts;
        if (failures === 1 || failures % 20 === 0) {
          log.warn(
            {
              err,
              executionId: s.context.executionId,
              logStreamId: s.context.logStreamId,
              failures,
              retryInMs: delayMs,
            },
            "job logs could not be shipped; they stay in the spool and are sent again",
          );
        }
        try {
          await sleep(delayMs, undefined, { signal: stopping.signal, ref: false });
        } catch {
          return false;
        }
      }
    }
  }

  async function run(s: Shipment): Promise<void> {
    const { spool } = s;
    while (!stopping.signal.aborted) {
      if (spool.done) {
        spool.remove();
        return;
      }
      if (spool.unread === 0) {
        await waitForChange(s, 60_000);
        continue;
      }
      // Give a small batch up to batchDelayMs to fill, unless it is full, flushed, or the spool is sealed.
      const deadline = performance.now() + o.batchDelayMs;
      while (
        !stopping.signal.aborted &&
        !s.urgent &&
        !spool.sealed &&
        spool.unread < o.maxBatchRecords &&
        performance.now() < deadline
      ) {
        await waitForChange(s, deadline - performance.now());
      }
      if (stopping.signal.aborted) return;
      const batch = spool.readFrames(o.maxBatchRecords, o.maxBatchBytes);
      if (batch.items === 0) {
        if (batch.lastSeq > spool.ackedSeq)
          spool.ack(batch.lastSeq); // only unreadable records: step over
        else await waitForChange(s, 1_000);
        continue;
      }
      // The spool's frames are copied into the request as they are (frames.ts): nothing is parsed.
      s.encoder ??= freeEncoders.pop() ?? createLogsEncoder();
      const body = s.encoder.encode(opts.resource, s.context, batch.parts);
      s.largestBody = Math.max(s.largestBody, body.byteLength);
      const sent = await send(s, body, batch.items);
      if (!sent) {
        spool.rewind();
        return;
      }
      spool.ack(batch.lastSeq);
      if (spool.unread === 0 && spool.ackedSeq >= spool.lastSeq) s.urgent = false;
    }
  }

  return {
    ship(spool) {
      if (shipments.has(spool) || stopping.signal.aborted || !spool.meta.ship) return;
      const s: Shipment = {
        spool,
        context: spool.meta,
        wake: () => {},
        urgent: false,
        done: Promise.resolve(),
        largestBody: 0,
      };
      shipments.set(spool, s);
      s.done = run(s)
        .catch((err: unknown) =>
          log.error(
            { err, executionId: spool.meta.executionId },
            "the job log shipper failed; the records stay in the spool for the next start",
          ),
        )
        .finally(() => {
          shipments.delete(spool);
          const encoder = s.encoder;
          s.encoder = undefined;
          if (encoder && freeEncoders.length < MAX_FREE_ENCODERS && s.largestBody <= MAX_KEPT_ENCODER_BYTES)
            freeEncoders.push(encoder);
        });
    },

    async flush(spool, timeoutMs) {
      spool.flushWrites();
      const target = spool.lastSeq;
      if (spool.ackedSeq >= target || !spool.meta.ship) return true;
      const s = shipments.get(spool);
      if (s === undefined) return false;
      s.urgent = true;
      s.wake();
      await new Promise<void>((resolve) => {
        const finish = () => {
          clearTimeout(timer);
          unsubscribe();
          resolve();
        };
        const check = () => {
          if (spool.ackedSeq < target && !stopping.signal.aborted && shipments.has(spool)) return;
          finish();
        };
        // At the deadline give up waiting whatever is left: the spool keeps it and shipping goes on.
        const timer = setTimeout(finish, timeoutMs);
        const unsubscribe = spool.onChange(check);
        void s.done.then(check);
      });
      return spool.ackedSeq >= target;
    },

    active: () => [...shipments.keys()],
    stats: () => ({ ...stats }),

    async close() {
      if (stopping.signal.aborted) return;
      stopping.abort(new Error("the log shipper is closing"));
      for (const wake of [...sleepers]) wake();
      const all = Promise.all([...shipments.values()].map((s) => s.done));
      const grace = setTimeout(() => hardStop.abort(new Error("the log shipper closed")), o.closeGraceMs);
      await all;
      clearTimeout(grace);
    },
  };
}

/** What `resumePending` did. */
export interface ResumeResult {
  /** Spools handed to the shipper (their records were not all acknowledged). */
  resumed: Spool[];
  /** Spool directories deleted: fully acknowledged, or never meant to be shipped (`enable_logging` off). */
  removed: number;
}

/**
 * At runner startup, before any job starts: opens every spool under `<stateDir>/spool` that this shipper is not
 * shipping, ships the unacknowledged ones (after a crash or restart) and deletes the rest (fully acknowledged,
 * local-only, or created but never written). An unreadable spool is logged and left on disk.
 */
export function resumePending(input: {
  stateDir: string;
  shipper: Shipper;
  logger: Logger;
  /** Spool options (the cap). */
  spool?: SpoolOptions;
}): ResumeResult {
  const live = new Set(input.shipper.active().map((s) => s.dir));
  const result: ResumeResult = { resumed: [], removed: 0 };
  for (const dir of listSpoolDirs(input.stateDir)) {
    if (live.has(dir)) continue;
    let spool: Spool;
    try {
      spool = Spool.open(dir, input.spool);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        rmSync(dir, { recursive: true, force: true }); // created, then killed before its first record
        result.removed++;
      } else input.logger.warn({ err, dir }, "a job log spool could not be read; it is left on disk");
      continue;
    }
    if (spool.done || !spool.meta.ship) {
      spool.remove();
      result.removed++;
      continue;
    }
    input.logger.info(
      {
        executionId: spool.meta.executionId,
        records: spool.lastSeq - spool.ackedSeq,
      },
      "shipping job logs a previous run left unshipped",
    );
    input.shipper.ship(spool);
    result.resumed.push(spool);
  }
  return result;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
