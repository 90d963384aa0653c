/**
 * Worker-thread entry of heartbeat-thread.ts: a slim HTTP sender (heartbeat-sender.ts, node:http only, so the
 * thread's isolate stays small) and the heartbeat loop, until told to stop. The main thread may replace the
 * body's fixed fields (the process id, once registered) with a `body` message.
 */
import { parentPort, workerData } from "node:worker_threads";
import { aliveTimeNs, startHeartbeatLoop } from "./heartbeat.ts";
import { createHeartbeatSender } from "./heartbeat-sender.ts";
import type {
  HeartbeatBody,
  HeartbeatClientOptions,
  HeartbeatMainMessage,
  HeartbeatWorkerMessage,
} from "./heartbeat-thread.ts";

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

const sender = createHeartbeatSender(input.client);
let body = input.body;

const post = (message: HeartbeatWorkerMessage) => port.postMessage(message);

const loop = startHeartbeatLoop({
  intervalMs: input.intervalMs,
  ...(input.initialOffsetMs !== undefined ? { initialOffsetMs: input.initialOffsetMs } : {}),
  send: () => sender.send({ alive_time: aliveTimeNs(), ...body }, input.requestTimeoutMs),
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

port.on("message", (message: HeartbeatMainMessage) => {
  if (message.type === "body") {
    body = message.body;
    return;
  }
  loop.stop();
  sender.close();
  port.close();
});
