/**
 * The restart journal: a small file in the state directory listing the executions this runner holds. An
 * entry is written after the claim succeeds and before any step runs, and removed once the terminal status is
 * acknowledged. Entries found at startup belong to a process that died (kill -9, OOM, power loss): the agent
 * reports them failed (or with the outcome they already had) and never runs them again.
 *
 * Writes are atomic (temporary file, rename) and serialized, so a crash leaves either the old or the new
 * journal, never a torn one. They are group-committed (group-commit.ts): changes made while a write is in
 * flight go out together in the next one, and each call resolves once the write holding its change is done.
 *
 * Two durabilities (`sync`): with `background` (the default) a call resolves once its change is renamed into
 * place, which survives the end of the process (kill -9, OOM: the kernel keeps the written pages), and the
 * file and its directory are fsynced right after, off the job's path (also group-committed), so a machine
 * crash can lose at most the last few milliseconds of changes. An execution missing from the journal after a
 * power loss is not run twice (its claim is at the control plane), it is only reported late: by the control
 * plane's own timeouts instead of at the next start. With `always`, each call resolves only once its change
 * is fsynced (about 2 ms more per write on a virtual disk). An empty journal file — what an unsynced rename
 * can leave after a power loss on some filesystems — is read as "nothing held", with a warning.
 *
 * A lock file (`<name>.lock`, holding the pid) refuses a second live process on the same journal, which
 * would otherwise report the first one's jobs as orphans.
 */
import { type FileHandle, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import * as z from "zod/mini";
import "../zod-locale.ts";
import type { TerminalStatus } from "../jobs/run-job.ts";
import { createGroupCommit } from "./group-commit.ts";

/** A terminal outcome that was computed but maybe not yet acknowledged by the control plane. */
export const PendingOutcome = z.object({
  status: z.enum(["finished", "failed", "timed-out", "cancelled"] satisfies TerminalStatus[]),
  result: z.object({
    success: z.boolean(),
    errorCode: z.optional(z.number().check(z.int())),
    errorMetadata: z.optional(z.record(z.string(), z.unknown())),
  }),
});
export type PendingOutcome = z.infer<typeof PendingOutcome>;

/** One held execution. */
export const JournalEntry = z.object({
  jobId: z.string(),
  executionId: z.string(),
  jobType: z.optional(z.string()),
  /** ISO time of the claim. */
  startedAt: z.string(),
  /** The process that held it. */
  pid: z.number().check(z.int()),
  /** Set once the pipeline ended, before the outcome is delivered. */
  outcome: z.optional(PendingOutcome),
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
  /** Records the outcome of a held execution (resolves once durable). */
  setOutcome(executionId: string, outcome: PendingOutcome): Promise<void>;
  /** Forgets an execution (its terminal status was acknowledged); resolves once durable. */
  remove(executionId: string): Promise<void>;
  /** The entries held now. */
  entries(): JournalEntry[];
  /** Writes started so far (each may carry several changes). */
  readonly writes: number;
  /** fsyncs of the journal started so far (with `background`, each may cover several writes). */
  readonly syncs: number;
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
  /** When a call resolves: `background` (renamed into place; fsync follows off the path) or `always`
   * (fsynced); default `background`. */
  sync?: JournalSync;
  /** Told when the journal was found empty at open (a torn write after a machine crash). */
  onEmptyFile?: (path: string) => void;
}

/** When a journal change counts as done (see the module comment). */
export type JournalSync = "background" | "always";

/** Writes `text` to `path` atomically (temporary file, rename); fsyncs the file first when `durable`. */
async function writeAtomic(path: string, text: string, durable: boolean): Promise<void> {
  // one writer per journal (the lock), so a fixed temporary name is safe; a crash's leftover is overwritten
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(text);
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** fsyncs the directory holding the journal (the rename); some filesystems refuse, the rename stays atomic. */
async function syncDir(dir: FileHandle): Promise<void> {
  try {
    await dir.sync();
  } catch {
    // refused on this filesystem
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
  let locked = false;
  let opened: Promise<FileHandle> | undefined;

  const mode: JournalSync = options.sync ?? "background";
  const dirHandle = () => {
    opened ??= open(options.dir, "r");
    return opened.catch((err: unknown) => {
      opened = undefined;
      throw err;
    });
  };
  // each write snapshots `entries` as it starts: every change made before is in it
  const writer = createGroupCommit(async () => {
    const text = `${JSON.stringify({ version: 1, entries }, null, 2)}\n`;
    if (mode === "always") {
      const dir = await dirHandle();
      await writeAtomic(path, text, true);
      await syncDir(dir);
      return;
    }
    await writeAtomic(path, text, false);
    void syncer.commit().catch(() => undefined); // the next start reads whatever is there; nothing to undo
  });
  // with `background`: makes the file in place (whichever write renamed it last) and its directory durable
  const syncer = createGroupCommit(async () => {
    const dir = await dirHandle();
    const fh = await open(path, "r").catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    });
    try {
      await fh?.datasync();
    } finally {
      await fh?.close();
    }
    await syncDir(dir);
  });
  const persist = () => writer.commit();

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
      if (text.trim() === "") {
        options.onEmptyFile?.(path);
        return [];
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
      return entries.length === before ? writer.settled() : persist();
    },
    entries() {
      return [...entries];
    },
    get writes() {
      return writer.writes;
    },
    get syncs() {
      return mode === "always" ? writer.writes : syncer.writes;
    },
    async close() {
      await writer.settled();
      await syncer.settled();
      const dir = opened;
      opened = undefined;
      await dir?.then((h) => h.close()).catch(() => undefined);
      if (locked) {
        locked = false;
        await rm(lockPath, { force: true });
      }
    },
  };
}
