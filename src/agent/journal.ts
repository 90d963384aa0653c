/**
 * The restart journal: a small file in the state directory listing the executions this runner holds. An
 * entry is written after the claim succeeds and before any step runs, and removed once the terminal status is
 * acknowledged. Entries found at startup belong to a process that died (kill -9, OOM, power loss): the agent
 * reports them failed (or with the outcome they already had) and never runs them again.
 *
 * Writes are atomic (temporary file, fsync, rename, fsync of the directory) and serialized, so a crash leaves
 * either the old or the new journal, never a torn one. A lock file (`<name>.lock`, holding the pid) refuses a
 * second live process on the same journal, which would otherwise report the first one's jobs as orphans.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import type { TerminalStatus } from "../jobs/run-job.ts";

/** A terminal outcome that was computed but maybe not yet acknowledged by the control plane. */
export const PendingOutcome = z.object({
  status: z.enum(["finished", "failed", "timed-out", "cancelled"] satisfies TerminalStatus[]),
  result: z.object({
    success: z.boolean(),
    errorCode: z.number().int().optional(),
    errorMetadata: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type PendingOutcome = z.infer<typeof PendingOutcome>;

/** One held execution. */
export const JournalEntry = z.object({
  jobId: z.string(),
  executionId: z.string(),
  jobType: z.string().optional(),
  /** ISO time of the claim. */
  startedAt: z.string(),
  /** The process that held it. */
  pid: z.number().int(),
  /** Set once the pipeline ended, before the outcome is delivered. */
  outcome: PendingOutcome.optional(),
});
export type JournalEntry = z.infer<typeof JournalEntry>;

const JournalFile = z.object({ version: z.literal(1), entries: z.array(JournalEntry) });

/** The journal of one runner process. */
export interface Journal {
  /** The journal file path. */
  readonly path: string;
  /** Takes the lock and reads what a previous process left; call once before any add. */
  open(): Promise<JournalEntry[]>;
  /** Records a held execution (resolves once durable). */
  add(entry: JournalEntry): Promise<void>;
  /** Records the outcome of a held execution. */
  setOutcome(executionId: string, outcome: PendingOutcome): Promise<void>;
  /** Forgets an execution (its terminal status was acknowledged). */
  remove(executionId: string): Promise<void>;
  /** The entries held now. */
  entries(): JournalEntry[];
  /** Waits for pending writes and releases the lock. */
  close(): Promise<void>;
}

/** Thrown by `open()` when another live process holds the journal. */
export class JournalLockedError extends Error {
  override readonly name = "JournalLockedError";
}

/** Options of a journal. */
export interface JournalOptions {
  /** The state directory (created 0700 when missing). */
  dir: string;
  /** File name; default `journal.json`. */
  fileName?: string;
}

async function writeAtomic(path: string, dir: string, text: string): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const dh = await open(dir, "r");
  try {
    await dh.sync();
  } catch {
    // some filesystems refuse fsync on a directory; the rename is still atomic
  } finally {
    await dh.close();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Creates a journal in `dir`. */
export function createJournal(options: JournalOptions): Journal {
  const fileName = options.fileName ?? "journal.json";
  const path = join(options.dir, fileName);
  const lockPath = `${path}.lock`;
  let entries: JournalEntry[] = [];
  let chain: Promise<void> = Promise.resolve();
  let locked = false;

  function persist(): Promise<void> {
    const text = `${JSON.stringify({ version: 1, entries }, null, 2)}\n`;
    const write = chain.then(() => writeAtomic(path, options.dir, text));
    chain = write.catch(() => undefined);
    return write;
  }

  async function takeLock(): Promise<void> {
    const me = JSON.stringify({ pid: process.pid, hostname: hostname() });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(lockPath, "wx", 0o600);
        await fh.writeFile(me);
        await fh.close();
        locked = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const holder = await readFile(lockPath, "utf8").then(
        (text) => JSON.parse(text) as { pid?: number; hostname?: string },
        () => ({}) as { pid?: number; hostname?: string },
      );
      const live =
        typeof holder.pid === "number" &&
        holder.pid !== process.pid &&
        holder.hostname === hostname() &&
        isAlive(holder.pid);
      if (live) {
        throw new JournalLockedError(
          `the state directory ${options.dir} is in use by process ${holder.pid}; give each runner process its own state directory`,
        );
      }
      await rm(lockPath, { force: true });
    }
    throw new JournalLockedError(`could not take the lock ${lockPath}`);
  }

  return {
    path,
    async open() {
      await mkdir(options.dir, { recursive: true, mode: 0o700 });
      await takeLock();
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw err;
      }
      let parsed: z.infer<typeof JournalFile>;
      try {
        parsed = JournalFile.parse(JSON.parse(text));
      } catch (err) {
        throw new Error(`the journal ${path} is unreadable; move it away to start without it`, {
          cause: err,
        });
      }
      entries = parsed.entries;
      return [...entries];
    },
    add(entry) {
      entries = [...entries.filter((e) => e.executionId !== entry.executionId), entry];
      return persist();
    },
    setOutcome(executionId, outcome) {
      entries = entries.map((e) => (e.executionId === executionId ? { ...e, outcome } : e));
      return persist();
    },
    remove(executionId) {
      const before = entries.length;
      entries = entries.filter((e) => e.executionId !== executionId);
      return entries.length === before ? chain : persist();
    },
    entries() {
      return [...entries];
    },
    async close() {
      await chain;
      if (locked) {
        locked = false;
        await rm(lockPath, { force: true });
      }
    },
  };
}
