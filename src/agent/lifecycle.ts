/**
 * The agent's lifecycle: a documented string union with one setter that logs every transition and throws on
 * an illegal one.
 *
 * ```
 * starting ──► running ──► draining ──► stopped
 *     │                        ▲
 *     ├────────────────────────┘   (a signal during startup drains what little there is)
 *     └──────────────────────────────────────► stopped   (startup failed)
 * ```
 * - `starting`: settings are being fetched, the journal recovered, the process registered; no job is taken.
 * - `running`: heartbeats and one job loop per group; jobs are claimed and run.
 * - `draining`: no new work is asked for; running jobs finish (up to the drain timeout), heartbeats continue.
 * - `stopped`: everything is closed; the process may exit.
 */
import type { Logger } from "pino";

/** The agent's state; see the diagram above. */
export type AgentState = "starting" | "running" | "draining" | "stopped";

/** The transitions allowed out of each state. */
export const ALLOWED_TRANSITIONS: Readonly<Record<AgentState, readonly AgentState[]>> = {
  starting: ["running", "draining", "stopped"],
  running: ["draining"],
  draining: ["stopped"],
  stopped: [],
};

/** The lifecycle holder: read `state`, change it only through `transition`. */
export interface Lifecycle {
  readonly state: AgentState;
  /** Moves to `to`, logging `reason`; throws on a transition not in ALLOWED_TRANSITIONS. */
  transition(to: AgentState, reason: string): void;
  /** Registers a listener called after every transition. */
  onChange(listener: (to: AgentState, from: AgentState) => void): void;
}

/** Creates a lifecycle in `starting`. */
export function createLifecycle(log: Pick<Logger, "info">): Lifecycle {
  let state: AgentState = "starting";
  const listeners: Array<(to: AgentState, from: AgentState) => void> = [];
  return {
    get state() {
      return state;
    },
    transition(to, reason) {
      const from = state;
      if (!ALLOWED_TRANSITIONS[from].includes(to)) {
        throw new Error(`illegal agent state transition from ${from} to ${to} (${reason})`);
      }
      state = to;
      log.info({ from, to, reason }, "agent state changed");
      for (const listener of listeners) listener(to, from);
    },
    onChange(listener) {
      listeners.push(listener);
    },
  };
}
