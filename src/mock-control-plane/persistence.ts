/**
 * Persists the control plane's state in one JSON file under `stateDir`: written atomically (a temporary file
 * then rename), at most once per `debounceMs` while changes keep coming, and flushed on close.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { writeFileAtomic } from "../fs/atomic-file.ts";
import { parseSnapshot, type StoreSnapshot } from "./store.ts";

/** The state file's name inside the state directory. */
export const STATE_FILE_NAME = "control-plane-state.json";

/** Reads the snapshot in `dir`; undefined when there is none yet. Throws when the file is not a snapshot. */
export async function loadSnapshot(dir: string): Promise<StoreSnapshot | undefined> {
  const file = join(dir, STATE_FILE_NAME);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    return parseSnapshot(text);
  } catch (err) {
    throw new Error(`cannot load control-plane state from ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Debounced, serialized, atomic writer of snapshots. */
export class StatePersister {
  readonly #dir: string;
  readonly #debounceMs: number;
  readonly #snapshot: () => StoreSnapshot;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #dirty = false;

  constructor(opts: { dir: string; debounceMs: number; snapshot: () => StoreSnapshot; logger: Logger }) {
    this.#dir = opts.dir;
    this.#debounceMs = opts.debounceMs;
    this.#snapshot = opts.snapshot;
    this.#logger = opts.logger;
  }

  /** Notes a change; a write follows within `debounceMs`. */
  schedule(): void {
    this.#dirty = true;
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch((err: unknown) => {
        this.#logger.error({ err }, "control-plane state write failed; it is retried on the next change");
      });
    }, this.#debounceMs);
    this.#timer.unref();
  }

  /** Writes pending changes now (after any write in progress). */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#writing = this.#writing.catch(() => {}).then(() => this.#write());
    return this.#writing;
  }

  async #write(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    const text = JSON.stringify(this.#snapshot());
    try {
      await writeFileAtomic(join(this.#dir, STATE_FILE_NAME), text, 0o600);
    } catch (err) {
      this.#dirty = true;
      throw err;
    }
  }
}
