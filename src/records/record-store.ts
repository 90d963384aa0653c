/**
 * Run records on disk: `<state-dir>/runs/<run-id>.json`, written atomically (temporary file, fsync, rename),
 * read back through the zod schema, listed oldest first; and the writer that subscribes to a run's events,
 * keeps the record current and saves it at the start, after each job and at the end.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { EventBus } from "../events/bus.ts";
import type { AnyRunEvent } from "../events/events.ts";
import { writeFileAtomic } from "../fs/atomic-file.ts";
import type { Redactor } from "../logs/redact.ts";
import { applyEvent, type RunRecord, RunRecordSchema } from "./run-record.ts";

/** Run ids: letters, digits, `.`, `_`, `-` (they name files). */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** `<state-dir>/runs`. */
export function runsDir(stateDir: string): string {
  return path.join(stateDir, "runs");
}

/** The record file of a run. */
export function recordPath(stateDir: string, runId: string): string {
  return path.join(runsDir(stateDir), `${runId}.json`);
}

/** A new run id: `YYYYMMDD-HHMMSS-<4 hex>` in UTC, so ids sort by start time. */
export function newRunId(now: Date = new Date(), random: () => number = Math.random): string {
  const iso = now.toISOString();
  const stamp = `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}`;
  const suffix = Math.floor(random() * 0x10000)
    .toString(16)
    .padStart(4, "0");
  return `${stamp}-${suffix}`;
}

/** Saves a record atomically (mode 0600). */
export async function writeRecord(stateDir: string, record: RunRecord): Promise<string> {
  const file = recordPath(stateDir, record.runId);
  await writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`, 0o600);
  return file;
}

/** A record could not be found or read; the commands exit 2 on it. */
export class RecordError extends Error {
  override readonly name = "RecordError";
  /** Bad input: 2. */
  readonly exitCode = 2;
}

/** Reads and checks one record file. */
export async function readRecordFile(file: string): Promise<RunRecord> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new RecordError(`cannot read the run record ${file}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RecordError(`the run record ${file} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = RunRecordSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RecordError(
      `the run record ${file} is not a run record: ${issue?.path.join(".") ?? ""}: ${issue?.message ?? ""}`,
    );
  }
  return parsed.data as unknown as RunRecord;
}

/** Every readable record, oldest first (by start time, then id); unreadable files are skipped. */
export async function listRecords(stateDir: string): Promise<RunRecord[]> {
  let names: string[];
  try {
    names = await readdir(runsDir(stateDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const records: RunRecord[] = [];
  for (const name of names.filter((n) => n.endsWith(".json") && !n.startsWith("."))) {
    try {
      records.push(await readRecordFile(path.join(runsDir(stateDir), name)));
    } catch {
      // not a record (or half of one from another tool): not listed
    }
  }
  return records.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.runId.localeCompare(b.runId));
}

/**
 * Finds a record by run id, `latest`, a unique id prefix, or a path to a record file; throws RecordError
 * naming what was looked for.
 */
export async function findRecord(stateDir: string, ref: string): Promise<RunRecord> {
  if (ref.endsWith(".json") && (ref.includes("/") || ref.includes(path.sep))) return readRecordFile(ref);
  const records = await listRecords(stateDir);
  if (ref === "latest") {
    const last = records.at(-1);
    if (last === undefined) throw new RecordError(`no runs are recorded in ${runsDir(stateDir)}`);
    return last;
  }
  const exact = records.find((r) => r.runId === ref);
  if (exact !== undefined) return exact;
  const matches = records.filter((r) => r.runId.startsWith(ref));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1)
    throw new RecordError(
      `run id prefix "${ref}" matches ${matches.length} runs: ${matches.map((r) => r.runId).join(", ")}`,
    );
  throw new RecordError(`no run "${ref}" in ${runsDir(stateDir)} (see runner runs list)`);
}

/** Options of createRecordWriter. */
export interface RecordWriterOptions {
  stateDir: string;
  bus: EventBus;
  /** Applied to every event before it is kept (outputs and errors are already redacted; log lines again). */
  redactor?: Redactor;
  /** Where a failed write is reported (the run goes on). */
  onError?: (err: unknown) => void;
  /** Save the record to disk; default true (false keeps it in memory only: `--no-record`). */
  write?: boolean;
}

/** The subscriber keeping the record. */
export interface RecordWriter {
  /** The record so far (undefined before `run:started`). */
  readonly record: RunRecord | undefined;
  /** Its file. */
  readonly path: string | undefined;
  /** Waits for every write to finish, writes the newest state, unsubscribes. */
  close(): Promise<void>;
}

/** Subscribes a record writer to the bus. */
export function createRecordWriter(opts: RecordWriterOptions): RecordWriter {
  let record: RunRecord | undefined;
  let chain: Promise<void> = Promise.resolve();
  let dirty = false;
  const save = () => {
    if (opts.write === false) return;
    dirty = true;
    chain = chain.then(async () => {
      if (!dirty || record === undefined) return;
      dirty = false;
      try {
        await writeRecord(opts.stateDir, record);
      } catch (err) {
        opts.onError?.(err);
      }
    });
  };
  const unsubscribe = opts.bus.onAny((event) => {
    const kept = opts.redactor === undefined ? event : (opts.redactor.redactValue(event) as AnyRunEvent);
    record = applyEvent(record, kept);
    if (
      event.type === "run:started" ||
      event.type === "job:finished" ||
      event.type === "job:snapshot" ||
      event.type === "run:finished"
    )
      save();
  });
  return {
    get record() {
      return record;
    },
    get path() {
      return record === undefined || opts.write === false
        ? undefined
        : recordPath(opts.stateDir, record.runId);
    },
    async close() {
      unsubscribe();
      save();
      await chain;
    },
  };
}
