/**
 * The order of a run's jobs (`depends_on`): checking the graph (unknown names, cycles) and, while the run
 * goes, deciding which jobs may start and which can no longer run. Pure, so it is table-tested.
 */

/** A job as the graph sees it. */
export interface DagNode {
  name: string;
  dependsOn: readonly string[];
}

/** What is known about a job while the run goes. */
export type NodeState = "waiting" | "running" | "finished" | "failed" | "skipped" | "cancelled";

/** A problem with the graph; `message` names the jobs. */
export interface DagProblem {
  kind: "unknown-dependency" | "cycle" | "duplicate-name";
  message: string;
}

/** Checks names, dependencies and cycles; an empty list means the graph can run. */
export function checkDag(nodes: readonly DagNode[]): DagProblem[] {
  const problems: DagProblem[] = [];
  const names = new Set<string>();
  for (const node of nodes) {
    if (names.has(node.name))
      problems.push({ kind: "duplicate-name", message: `job name "${node.name}" is used twice` });
    names.add(node.name);
  }
  for (const node of nodes) {
    for (const dep of node.dependsOn) {
      if (!names.has(dep))
        problems.push({
          kind: "unknown-dependency",
          message: `job "${node.name}" depends on "${dep}", which is not a job of this run`,
        });
    }
  }
  for (const cycle of findCycles(nodes, names)) {
    problems.push({ kind: "cycle", message: `depends_on forms a cycle: ${cycle.join(" → ")}` });
  }
  return problems;
}

/** Every cycle once, each as the path of names from a job back to itself (`a → b → a`). */
function findCycles(nodes: readonly DagNode[], known: ReadonlySet<string>): string[][] {
  const deps = new Map(nodes.map((n) => [n.name, n.dependsOn.filter((d) => known.has(d))]));
  const color = new Map<string, "grey" | "black">();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (name: string): void => {
    color.set(name, "grey");
    stack.push(name);
    for (const dep of deps.get(name) ?? []) {
      const c = color.get(dep);
      if (c === "grey") cycles.push([...stack.slice(stack.indexOf(dep)), dep]);
      else if (c === undefined) visit(dep);
    }
    stack.pop();
    color.set(name, "black");
  };
  for (const node of nodes) if (!color.has(node.name)) visit(node.name);
  return cycles;
}

/** What to do next: jobs to start now, and jobs that can no longer run with the dependency that stops them. */
export interface NextSteps {
  start: string[];
  skip: Array<{ name: string; because: string }>;
}

/**
 * The jobs to start (waiting, every dependency finished) and to skip (waiting, a dependency failed, was
 * skipped or cancelled), in the nodes' order. Call again after applying the skips: a skip can skip more.
 */
export function nextSteps(nodes: readonly DagNode[], states: ReadonlyMap<string, NodeState>): NextSteps {
  const start: string[] = [];
  const skip: NextSteps["skip"] = [];
  for (const node of nodes) {
    if (states.get(node.name) !== "waiting") continue;
    const blocker = node.dependsOn.find((dep) => {
      const s = states.get(dep);
      return s === "failed" || s === "skipped" || s === "cancelled";
    });
    if (blocker !== undefined) {
      skip.push({ name: node.name, because: blocker });
      continue;
    }
    if (node.dependsOn.every((dep) => states.get(dep) === "finished")) start.push(node.name);
  }
  return { start, skip };
}
