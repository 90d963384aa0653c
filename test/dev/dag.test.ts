import { describe, expect, it } from "vitest";
import { checkDag, type DagNode, type NodeState, nextSteps } from "../../src/dev/dag.ts";

const n = (name: string, ...dependsOn: string[]): DagNode => ({ name, dependsOn });

describe("checkDag", () => {
  it.each([
    { nodes: [n("a"), n("b", "a"), n("c", "a", "b")], problems: [] },
    { nodes: [n("a", "ghost")], problems: ['job "a" depends on "ghost", which is not a job of this run'] },
    { nodes: [n("a", "a")], problems: ["depends_on forms a cycle: a → a"] },
    { nodes: [n("a", "c"), n("b", "a"), n("c", "b")], problems: ["depends_on forms a cycle: a → c → b → a"] },
    { nodes: [n("a"), n("a")], problems: ['job name "a" is used twice'] },
  ])("reports $problems", ({ nodes, problems }) => {
    expect(checkDag(nodes).map((p) => p.message)).toEqual(problems);
  });
});

describe("nextSteps", () => {
  const nodes = [n("a"), n("b", "a"), n("c", "b"), n("d")];
  const states = (entries: Record<string, NodeState>) => new Map(Object.entries(entries));

  it.each([
    {
      name: "starts the jobs without dependencies",
      s: { a: "waiting", b: "waiting", c: "waiting", d: "waiting" },
      start: ["a", "d"],
      skip: [],
    },
    {
      name: "starts a job once its dependency finished",
      s: { a: "finished", b: "waiting", c: "waiting", d: "running" },
      start: ["b"],
      skip: [],
    },
    {
      name: "waits while a dependency runs",
      s: { a: "running", b: "waiting", c: "waiting", d: "finished" },
      start: [],
      skip: [],
    },
    {
      name: "skips a job whose dependency failed",
      s: { a: "failed", b: "waiting", c: "waiting", d: "finished" },
      start: [],
      skip: [{ name: "b", because: "a" }],
    },
    {
      name: "skips a job whose dependency was skipped",
      s: { a: "failed", b: "skipped", c: "waiting", d: "finished" },
      start: [],
      skip: [{ name: "c", because: "b" }],
    },
    {
      name: "skips a job whose dependency was cancelled",
      s: { a: "cancelled", b: "waiting", c: "waiting", d: "finished" },
      start: [],
      skip: [{ name: "b", because: "a" }],
    },
  ] as const)("$name", ({ s, start, skip }) => {
    expect(nextSteps(nodes, states(s))).toEqual({ start, skip });
  });
});
