/**
 * The restart journal: what executions this runner holds, in the state directory. An entry is written after
 * the claim succeeds and before any step runs, and removed once the terminal status is acknowledged. Entries
 * found at startup belong to a process that died (kill -9, OOM, power loss): the agent reports them failed
 * (or with the outcome they already had) and never runs them again.
 *
 * On disk: two slot files, `<name>.0` and `<name>.1`, written in turn and in place (journal-slots.ts: a
 * header with a sequence number and a checksum, then the JSON body). A write goes to the slot that does not
 * hold the newest state, so a write cut short spoils only that slot and the other still holds the state
 * before it; the newest valid slot wins at startup. Writes are serialized and group-committed
 * (group-commit.ts): changes made while a write is in flight go out together in the next one, and each call
 * resolves once the write holding its change is done. No file is created or renamed per write.
 *
 * Two durabilities (`sync`): with `background` (the default) a call resolves once its change is written,
 * which survives the end of the process (kill -9, OOM: the kernel keeps the written pages), and the slots
 * written are fdatasynced together at most BACKGROUND_SYNC_DELAY_MS later, off the job's path, so a machine
 * crash can lose at most the last few milliseconds of changes. An execution missing from the journal after a power loss is not run
 * twice (its claim is at the control plane), it is only reported late: by the control plane's own timeouts
 * instead of at the next start. With `always`, each call resolves only once its change is fdatasynced. Slots
 * that exist but of which none is valid (empty or torn: what a power loss can leave of unsynced writes; every
 * start writes and syncs a first state, so this never happens otherwise) read as "nothing held": the torn
 * ones are kept aside as `<slot>.spoiled-<time>` and `onLostWrites` says why, so an unattended runner starts
 * again. A valid slot whose body is not a journal stops the start, naming the file.
 *
 * A lock file (`<name>.lock`, holding the pid) refuses a second live process on the same journal, which
 * would otherwise report the first one's jobs as orphans.
 */
import { type FileHandle, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import * as z from "zod/mini";
import "../zod-locale.ts";
import { fsyncDir } from "../fs/fsync-dir.ts";
import type { TerminalStatus } from "../jobs/run-job.ts";
import { createGroupCommit } from "./group-commit.ts";
import { decodeSlot, encodeSlot, newestSlot, type SlotRead } from "./journal-slots.ts";

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

const JournalBody = z.object({ entries: z.array(JournalEntry) });

/** The journal of one runner process. */
export interface Journal {
  /** The journal's base path: its slots are `<path>.0` and `<path>.1`, its lock `<path>.lock`. */
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
  /** Base file name; default `journal`. */
  fileName?: string;
  /** When a call resolves: `background` (written; fdatasync follows off the path) or `always` (fdatasynced);
   * default `background`. */
  sync?: JournalSync;
  /** Told when slots were found but none valid (writes lost to a machine crash before their sync), with what
   * was found in each; the journal starts empty. */
  onLostWrites?: (path: string, detail: string) => void;
}

/** With `background`, milliseconds a write waits for others to share its fdatasync (10 ms). */
export const BACKGROUND_SYNC_DELAY_MS = 10;

/** When a journal change counts as done (see the module comment). */
export type JournalSync = "background" | "always";

/** Reads the entries a journal at `path` (its base path) holds; [] when no slot is valid. */
export async function readJournal(path: string): Promise<JournalEntry[]> {
  const reads = await Promise.all([0, 1].map((i) => readSlot(`${path}.${i}`)));
  return parseNewest(path, reads)?.entries ?? [];
}

async function readSlot(file: string): Promise<SlotRead | undefined> {
  try {
    return decodeSlot(await readFile(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** The newest valid slot parsed, with its index and sequence; undefined when no slot is valid. */
function parseNewest(
  path: string,
  reads: ReadonlyArray<SlotRead | undefined>,
): { index: number; seq: number; entries: JournalEntry[] } | undefined {
  const newest = newestSlot(reads.map((r) => r ?? ({ kind: "empty" } as const)));
  if (newest === undefined) return undefined;
  try {
    const body = JournalBody.parse(JSON.parse(newest.content.body));
    return { index: newest.index, seq: newest.content.seq, entries: body.entries };
  } catch (err) {
    throw new Error(
      `the journal ${path}.${newest.index} is unreadable; move its files away to start without it`,
      {
        cause: err,
      },
    );
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
  const fileName = options.fileName ?? "journal";
  const path = join(options.dir, fileName);
  const lockPath = `${path}.lock`;
  const mode: JournalSync = options.sync ?? "background";
  let entries: JournalEntry[] = [];
  let locked = false;
  /** The two slot files, open for writing in place (after open()). */
  let slots: FileHandle[] = [];
  /** The slot holding the newest state, and its sequence number. */
  let current = 1;
  let seq = 0;
  /** Slots written since their last fdatasync. */
  const unsynced = new Set<number>();

  // each write snapshots `entries` as it starts: every change made before is in it
  const writer = createGroupCommit(async () => {
    const slot = slots[1 - current];
    if (slot === undefined) throw new Error(`the journal ${path} is not open`);
    const data = encodeSlot(seq + 1, JSON.stringify({ entries }));
    await slot.write(data, 0, data.length, 0);
    seq += 1;
    current = 1 - current;
    if (mode === "always") {
      await slot.datasync();
      return;
    }
    unsynced.add(current);
    scheduleSync();
  });
  let syncTimer: NodeJS.Timeout | undefined;
  /** One fdatasync per slot for every write made within BACKGROUND_SYNC_DELAY_MS (hundreds per second at
   * concurrency 16, where each sync costs the main thread ~0.1 ms). */
  function scheduleSync(): void {
    if (syncTimer !== undefined) return;
    syncTimer = setTimeout(() => {
      syncTimer = undefined;
      void syncer.commit().catch(() => undefined); // the next start reads whatever is there; nothing to undo
    }, BACKGROUND_SYNC_DELAY_MS);
    syncTimer.unref(); // close() syncs what is left
  }
  // with `background`: makes the slots written since their last sync durable
  const syncer = createGroupCommit(async () => {
    const dirty = [...unsynced];
    unsynced.clear();
    await Promise.all(dirty.map((i) => slots[i]?.datasync()));
  });
  const persist = () => writer.commit();

  async function takeLock(): Promise<void> {
    const me = JSON.stringify({ pid: process.pid, hostname: hostname() });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(lockPath, "wx", 0o600);
        try {
          await fh.writeFile(me);
        } finally {
          await fh.close();
        }
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
      let reads = await Promise.all([0, 1].map((i) => readSlot(`${path}.${i}`)));
      const found = parseNewest(path, reads);
      // slot files that exist but hold nothing valid: every start writes one (below), so they were lost
      if (found === undefined && reads.some((r) => r !== undefined)) {
        // slots exist but none is valid: writes lost to a machine crash (every start writes a first state)
        const detail = await Promise.all(
          reads.map(async (r, i) => {
            const slot = `${path}.${i}`;
            if (r === undefined) return `${slot}: missing`;
            if (r.kind !== "spoiled") return `${slot}: empty`;
            const aside = `${slot}.spoiled-${new Date().toISOString().replaceAll(":", "-")}`;
            await rename(slot, aside);
            return `${slot}: ${r.reason} (kept as ${aside})`;
          }),
        );
        options.onLostWrites?.(path, detail.join("; "));
        reads = [
          reads[0]?.kind === "spoiled" ? undefined : reads[0],
          reads[1]?.kind === "spoiled" ? undefined : reads[1],
        ];
      }
      const opening = await Promise.allSettled(
        [0, 1].map((i) => open(`${path}.${i}`, reads[i] ? "r+" : "w+", 0o600)),
      );
      slots = opening.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
      try {
        const refused = opening.find((o) => o.status === "rejected");
        if (refused !== undefined) throw refused.reason;
        if (found === undefined) {
          // a first durable state, so that two empty slots at a later start mean lost writes
          const first = slots[0] as FileHandle;
          const data = encodeSlot(1, JSON.stringify({ entries: [] }));
          await first.write(data, 0, data.length, 0);
          await first.datasync();
        }
        if (reads.some((r) => r === undefined)) {
          // new slot files: make their directory entries durable once (no file is created after this)
          await fsyncDir(options.dir);
        }
      } catch (err) {
        const opened = slots;
        slots = [];
        await Promise.all(opened.map((h) => h.close().catch(() => undefined)));
        throw err;
      }
      entries = found?.entries ?? [];
      current = found?.index ?? 0;
      seq = found?.seq ?? 1;
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
      if (syncTimer !== undefined) {
        clearTimeout(syncTimer);
        syncTimer = undefined;
        await syncer.commit().catch(() => undefined);
      }
      await syncer.settled();
      const open = slots;
      slots = [];
      await Promise.all(open.map((h) => h.close().catch(() => undefined)));
      if (locked) {
        locked = false;
        await rm(lockPath, { force: true });
      }
    },
  };
}
