/**
 * Runs the heartbeat loop (heartbeat.ts) either on its own worker thread with its own small HTTP sender
 * (heartbeat-sender.ts) — the default, so that a CPU-bound handler or a log flood on the main thread cannot
 * delay a beat — or inline on the main thread with the agent's client (tests, and the fallback when the
 * thread dies). The body's fixed fields can change while beating (`setBody`: the process id once registered).
 */
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { ControlPlaneApi } from "../control-plane/api.ts";
import { aliveTimeNs, type HeartbeatStats, startHeartbeatLoop } from "./heartbeat.ts";
import { errorFields } from "./log-fields.ts";

/** The fixed fields of every beat. */
export interface HeartbeatBody {
  version: string;
  /** Process type: "" (run), "install", "build", "org", "mng". */
  process: string;
  /** Set when the control plane registered a process. */
  process_id?: string;
}

/** A running heartbeat loop, wherever it runs. */
export interface HeartbeatHandle {
  stats(): HeartbeatStats;
  /** Replaces the fixed fields of the following beats. */
  setBody(body: HeartbeatBody): void;
  /** Stops beating; resolves once the thread (if any) exited. Idempotent. */
  stop(): Promise<void>;
}

/** What the worker thread needs to send beats itself. The token stays in memory. */
export interface HeartbeatClientOptions {
  baseUrl: string;
  token: string;
  runnerId: string;
  version?: string;
  tlsInsecure?: boolean;
}

/** Options shared by both ways of running heartbeats. */
export interface HeartbeatRunOptions {
  /** Milliseconds between beats. */
  intervalMs: number;
  /** Per-request deadline in milliseconds (default 5000). */
  requestTimeoutMs: number;
  body: HeartbeatBody;
  log: Logger;
  /** Milliseconds before the first beat; default random in [0, intervalMs). */
  initialOffsetMs?: number;
}

const EMPTY: HeartbeatStats = { sent: 0, failed: 0, worstGapMs: 0, lastSentAtMs: undefined };

/** Runs heartbeats on the main thread through `client`. */
export function startInlineHeartbeats(
  client: ControlPlaneApi,
  options: HeartbeatRunOptions,
): HeartbeatHandle {
  let body = options.body;
  const loop = startHeartbeatLoop({
    intervalMs: options.intervalMs,
    ...(options.initialOffsetMs !== undefined ? { initialOffsetMs: options.initialOffsetMs } : {}),
    send: () =>
      client
        .heartbeat({ alive_time: aliveTimeNs(), ...body }, { timeoutMs: options.requestTimeoutMs })
        .then(() => undefined),
    onError: (err) =>
      options.log.warn(errorFields(err), "heartbeat failed; the next one follows on schedule"),
  });
  return {
    stats: () => loop.stats(),
    setBody(next) {
      body = next;
    },
    stop: async () => loop.stop(),
  };
}

/** Messages the worker posts. */
export type HeartbeatWorkerMessage =
  | { type: "stats"; stats: HeartbeatStats }
  | { type: "error"; message: string; code?: string };

/** Messages the main thread posts to the worker. */
export type HeartbeatMainMessage = { type: "body"; body: HeartbeatBody } | { type: "stop" };

/**
 * Runs heartbeats on a worker thread with its own sender. When the thread fails, `onThreadError` is called
 * (the agent falls back to inline heartbeats).
 */
export function startHeartbeatThread(
  clientOptions: HeartbeatClientOptions,
  options: HeartbeatRunOptions & { onThreadError?: (err: unknown) => void },
): HeartbeatHandle {
  let stats: HeartbeatStats = { ...EMPTY };
  const worker = new Worker(new URL("./heartbeat-worker.ts", import.meta.url), {
    workerData: {
      client: clientOptions,
      intervalMs: options.intervalMs,
      requestTimeoutMs: options.requestTimeoutMs,
      body: options.body,
      initialOffsetMs: options.initialOffsetMs,
    },
    // the worker writes nothing itself; keep its stdio off the main streams
    stdout: false,
    stderr: false,
  });
  let stopping = false;
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  worker.on("message", (message: HeartbeatWorkerMessage) => {
    if (message.type === "stats") stats = message.stats;
    else
      options.log.warn(
        { code: message.code, error: message.message },
        "heartbeat failed; the next one follows on schedule",
      );
  });
  worker.on("error", (err) => {
    if (stopping) return;
    options.log.error({ err }, "the heartbeat thread failed; heartbeats continue on the main thread");
    options.onThreadError?.(err);
  });
  const send = (message: HeartbeatMainMessage) => worker.postMessage(message);
  return {
    stats: () => ({ ...stats }),
    setBody(body) {
      if (!stopping) send({ type: "body", body });
    },
    async stop() {
      if (stopping) return exited;
      stopping = true;
      send({ type: "stop" });
      const timer = setTimeout(() => void worker.terminate(), 2_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Starts heartbeats: on a worker thread when `threadClient` is given (falling back to the main thread if
 * the thread dies), else inline through `client`.
 */
export function startHeartbeats(
  client: ControlPlaneApi,
  threadClient: HeartbeatClientOptions | undefined,
  options: HeartbeatRunOptions,
): HeartbeatHandle {
  if (threadClient === undefined) return startInlineHeartbeats(client, options);
  let fallback: HeartbeatHandle | undefined;
  let stopped = false;
  let body = options.body;
  const thread = startHeartbeatThread(threadClient, {
    ...options,
    onThreadError: () => {
      if (!stopped) fallback ??= startInlineHeartbeats(client, { ...options, body });
    },
  });
  return {
    stats: () => fallback?.stats() ?? thread.stats(),
    setBody(next) {
      body = next;
      thread.setBody(next);
      fallback?.setBody(next);
    },
    async stop() {
      stopped = true;
      await Promise.all([thread.stop(), fallback?.stop()]);
    },
  };
}
