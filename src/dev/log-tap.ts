/**
 * The in-process agent's log stream: every JSON line goes to the run's log file, and lines that belong to a
 * job of the run (pino fields `jobId` and `msg`, set by the job runner's child logger) also become `job:log`
 * events, so the live view shows a job's last line while it runs.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { Writable } from "node:stream";
import type { EventBus } from "../events/bus.ts";

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

/** Options of createLogTap. */
export interface LogTapOptions {
  /** The run's log file (appended, 0600). */
  file: string;
  bus: EventBus;
  /** Control-plane job id → job name, filled as jobs are enqueued. */
  jobNames: ReadonlyMap<string, string>;
}

/** The stream to give the logger, and how to close the file. */
export interface LogTap {
  stream: Writable;
  /** Ends the file; resolves once it is written. */
  close(): Promise<void>;
}

/** Creates the tap. */
export function createLogTap(opts: LogTapOptions): LogTap {
  const file: WriteStream = createWriteStream(opts.file, { flags: "a", mode: 0o600 });
  file.on("error", () => undefined); // a log file that cannot be written must not stop the run
  let partial = "";
  const handle = (line: string) => {
    if (line.trim() === "") return;
    let entry: { jobId?: unknown; msg?: unknown; level?: unknown; stream?: unknown };
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    const name = typeof entry.jobId === "string" ? opts.jobNames.get(entry.jobId) : undefined;
    if (name === undefined || typeof entry.msg !== "string") return;
    opts.bus.emit("job:log", {
      job: name,
      jobId: entry.jobId as string,
      level: LEVEL_NAMES[entry.level as number] ?? "info",
      line: entry.msg,
      ...(entry.stream === "stdout" || entry.stream === "stderr" ? { stream: entry.stream } : {}),
      source: "agent",
    });
  };
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      const text = partial + chunk.toString();
      const lines = text.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) handle(line);
      file.write(chunk, () => callback());
    },
  });
  return {
    stream,
    close: () =>
      new Promise<void>((resolve) => {
        if (partial !== "") handle(partial);
        partial = "";
        file.end(() => resolve());
      }),
  };
}
