import { describe, expect, it } from "vitest";
import { type AgentState, ALLOWED_TRANSITIONS, createLifecycle } from "../../src/agent/lifecycle.ts";
import { recordingLog } from "./support/silent-log.ts";

const STATES: AgentState[] = ["starting", "running", "draining", "stopped"];

describe("agent lifecycle", () => {
  it("walks starting → running → draining → stopped and logs every transition", () => {
    const { log, lines } = recordingLog();
    const lifecycle = createLifecycle(log);
    const seen: string[] = [];
    lifecycle.onChange((to, from) => seen.push(`${from}>${to}`));
    lifecycle.transition("running", "started");
    lifecycle.transition("draining", "SIGTERM");
    lifecycle.transition("stopped", "drained");
    expect(lifecycle.state).toBe("stopped");
    expect(seen).toEqual(["starting>running", "running>draining", "draining>stopped"]);
    expect(lines.map((l) => [l.from, l.to, l.reason])).toEqual([
      ["starting", "running", "started"],
      ["running", "draining", "SIGTERM"],
      ["draining", "stopped", "drained"],
    ]);
  });

  const cases = STATES.flatMap((from) =>
    STATES.map((to) => ({ from, to, legal: ALLOWED_TRANSITIONS[from].includes(to) })),
  );

  it.each(cases)("transition $from → $to is legal: $legal", ({ from, to, legal }) => {
    const lifecycle = createLifecycle(recordingLog().log);
    const path: Record<AgentState, AgentState[]> = {
      starting: [],
      running: ["running"],
      draining: ["running", "draining"],
      stopped: ["stopped"],
    };
    for (const step of path[from]) lifecycle.transition(step, "setup");
    if (legal) {
      lifecycle.transition(to, "test");
      expect(lifecycle.state).toBe(to);
    } else {
      expect(() => lifecycle.transition(to, "test")).toThrow(
        `illegal agent state transition from ${from} to ${to}`,
      );
      expect(lifecycle.state).toBe(from);
    }
  });
});
