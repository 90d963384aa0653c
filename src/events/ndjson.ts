/**
 * The `--events FILE` subscriber: every event of the run as one JSON line (`{seq, time, type, data}`),
 * redacted, in the order emitted. The file is created 0600 and replaced if it exists.
 */
import { createWriteStream } from "node:fs";
import type { Redactor } from "../logs/redact.ts";
import type { EventBus } from "./bus.ts";

/** A running NDJSON writer. */
export interface EventsFileWriter {
  /** Unsubscribes and resolves once every line is written. */
  close(): Promise<void>;
}

/** Subscribes an NDJSON writer of `file` to the bus. */
export function createEventsFileWriter(file: string, bus: EventBus, redactor?: Redactor): EventsFileWriter {
  const out = createWriteStream(file, { flags: "w", mode: 0o600 });
  let failure: Error | undefined;
  out.on("error", (err) => {
    failure = err;
  });
  const unsubscribe = bus.onAny((event) => {
    if (failure !== undefined) throw failure;
    const value = redactor === undefined ? event : redactor.redactValue(event);
    out.write(`${JSON.stringify(value)}\n`);
  });
  return {
    close() {
      unsubscribe();
      return new Promise<void>((resolve) => {
        if (failure !== undefined || out.destroyed) resolve();
        else out.end(() => resolve());
      });
    },
  };
}
