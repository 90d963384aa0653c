/**
 * Worker-thread entry of heartbeat-thread.ts: builds its own control-plane client (no retries: the next beat
 * is the retry) and runs the heartbeat loop until told to stop.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createControlPlaneClient } from "../control-plane/client.ts";
import { aliveTimeNs, startHeartbeatLoop } from "./heartbeat.ts";
import type { HeartbeatBody, HeartbeatClientOptions, HeartbeatWorkerMessage } from "./heartbeat-thread.ts";

interface WorkerInput {
  client: HeartbeatClientOptions;
  intervalMs: number;
  requestTimeoutMs: number;
  body: HeartbeatBody;
  initialOffsetMs?: number;
}

const input = workerData as WorkerInput;
const port = parentPort;
if (port === null) throw new Error("heartbeat-worker.ts must run as a worker thread");

const client = createControlPlaneClient({
  baseUrl: input.client.baseUrl,
  token: input.client.token,
  runnerId: input.client.runnerId,
  ...(input.client.version !== undefined ? { version: input.client.version } : {}),
  ...(input.client.tlsInsecure !== undefined ? { tlsInsecure: input.client.tlsInsecure } : {}),
  requestTimeoutMs: input.requestTimeoutMs,
  retry: { maxAttempts: 1 },
});

const post = (message: HeartbeatWorkerMessage) => port.postMessage(message);

const loop = startHeartbeatLoop({
  intervalMs: input.intervalMs,
  ...(input.initialOffsetMs !== undefined ? { initialOffsetMs: input.initialOffsetMs } : {}),
  send: () =>
    client
      .heartbeat({ alive_time: aliveTimeNs(), ...input.body }, { timeoutMs: input.requestTimeoutMs })
      .then(() => undefined),
  onError: (err) => {
    const code =
      typeof (err as { code?: unknown }).code === "string" ? (err as { code: string }).code : undefined;
    post({
      type: "error",
      message: err instanceof Error ? err.message : String(err),
      ...(code ? { code } : {}),
    });
  },
  onStats: (stats) => post({ type: "stats", stats }),
});

port.on("message", (message: { type?: string }) => {
  if (message.type !== "stop") return;
  loop.stop();
  void client.close().finally(() => port.close());
});
