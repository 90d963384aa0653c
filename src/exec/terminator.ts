/**
 * Stopping one command's process tree: a polite signal, `killGraceMs`, then SIGKILL — once — and, after the
 * command itself exited, waiting until nothing of its tree is alive any more.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ProcessTree } from "./kill-tree.ts";

/** How often leftovers are re-checked while waiting for them to die, in ms. */
export const REAP_POLL_MS = 50;
/** After SIGKILL, how long to wait for processes to vanish before giving up on them (stuck in D state), in ms. */
export const GIVE_UP_AFTER_SIGKILL_MS = 5_000;

/** The one escalation of a command's tree; `terminate` may be called from several places, it acts once. */
export class Terminator {
  readonly #tree: ProcessTree;
  readonly #killGraceMs: number;
  #started = false;
  #sigkillAtMs: number | undefined;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(tree: ProcessTree, killGraceMs: number) {
    this.#tree = tree;
    this.#killGraceMs = killGraceMs;
  }

  /** Whether termination has begun (by cancel, timeout, an output failure, or leftovers). */
  get started(): boolean {
    return this.#started;
  }

  /** Sends `signal` to the whole tree now and SIGKILL after killGraceMs; later calls do nothing. */
  terminate(signal: NodeJS.Signals): void {
    if (this.#started) return;
    this.#started = true;
    this.#tree.signal(signal);
    this.#killTimer = setTimeout(() => this.#kill(), this.#killGraceMs);
  }

  /**
   * Call after the command itself exited: resolves once nothing of its tree is alive. Leftovers get SIGTERM
   * (unless termination already began), SIGKILL after the grace; anything that appears later is SIGKILLed
   * once the grace is over. Gives up GIVE_UP_AFTER_SIGKILL_MS after SIGKILL on processes that will not die.
   */
  async reap(): Promise<void> {
    for (;;) {
      const living = this.#tree.members();
      const anyAlive = this.#tree.hasProcfs ? living.length > 0 : this.#tree.isAlive();
      if (!anyAlive) return;
      if (!this.#started) this.terminate("SIGTERM");
      else if (this.#sigkillAtMs !== undefined) {
        this.#tree.signal("SIGKILL", living);
        if (performance.now() - this.#sigkillAtMs > GIVE_UP_AFTER_SIGKILL_MS) return;
      }
      await sleep(REAP_POLL_MS);
    }
  }

  /** SIGKILLs the whole tree at once, e.g. when the runner itself is exiting. Synchronous. */
  killNow(): void {
    this.#kill();
  }

  /** Stops the pending SIGKILL timer (call when done). */
  dispose(): void {
    if (this.#killTimer !== undefined) clearTimeout(this.#killTimer);
  }

  #kill(): void {
    this.#started = true;
    this.#sigkillAtMs ??= performance.now();
    this.#tree.signal("SIGKILL");
  }
}
