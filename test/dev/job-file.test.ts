import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { formatPath, JobFileError, loadJobFiles } from "../../src/dev/job-file.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "job-file-"));
  await mkdir(path.join(dir, "module"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
}

async function issuesOf(files: string[], knownTypes?: string[]): Promise<string[]> {
  try {
    await loadJobFiles(files, { cwd: dir, ...(knownTypes ? { knownTypes } : {}) });
  } catch (err) {
    expect(err).toBeInstanceOf(JobFileError);
    expect((err as JobFileError).exitCode).toBe(2);
    return [...(err as JobFileError).issues];
  }
  throw new Error("expected a JobFileError");
}

describe("loadJobFiles", () => {
  it("reads a YAML file, resolving a local source against the file's directory", async () => {
    const f = await file(
      "jobs.yaml",
      `jobs:
  - name: infra
    type: terraform-deploy
    operation: exec
    source: ./module
    plan: {terraform: {vars: {a: 1}}}
    timeouts: {execution: 2m, available: 90s}
  - name: greet
    type: actions-workflow
    depends_on: [infra]
    steps:
      - name: hi
        run: echo hi
        timeout: 5s
`,
    );
    const jobs = await loadJobFiles(["jobs.yaml"], { cwd: dir });
    expect(jobs).toHaveLength(2);
    expect(jobs[0]).toMatchObject({
      name: "infra",
      file: f,
      type: "terraform-deploy",
      operation: "exec",
      dependsOn: [],
      source: { kind: "local", dir: path.join(dir, "module") },
      state: "control-plane",
      timeoutsMs: { execution: 120_000, available: 90_000 },
    });
    expect(jobs[1]).toMatchObject({
      name: "greet",
      dependsOn: ["infra"],
      steps: [{ name: "hi", run: "echo hi", timeoutMs: 5000 }],
    });
    expect(jobs[1]?.state).toBeUndefined();
  });

  it("reads JSON files and git sources", async () => {
    await file(
      "jobs.json",
      JSON.stringify({
        jobs: [
          {
            name: "tf",
            type: "sandbox-terraform",
            state: "local",
            source: { git: "https://example.invalid/m.git", ref: "main" },
          },
        ],
      }),
    );
    const [job] = await loadJobFiles(["jobs.json"], { cwd: dir });
    expect(job?.source).toEqual({ kind: "git", url: "https://example.invalid/m.git", ref: "main" });
    expect(job?.state).toBe("local");
  });

  it("names the file and the field path of a schema error", async () => {
    await file(
      "bad.yaml",
      "jobs:\n  - name: ok\n    type: noop\n  - name: bad\n    type: noop\n    timeouts: {execution: soon}\n",
    );
    expect(await issuesOf(["bad.yaml"])).toEqual([
      'bad.yaml: jobs[1].timeouts.execution: expected a duration such as "30s", "5m" or "1h", got "soon"',
    ]);
  });

  it.each([
    [
      "an unknown field",
      "jobs:\n  - name: a\n    type: noop\n    colour: red\n",
      /jobs\[0\]: Unrecognized key: "colour"/,
    ],
    ["a missing type", "jobs:\n  - name: a\n", /jobs\[0\]\.type: /],
    ["a bad name", "jobs:\n  - name: 'no spaces'\n    type: noop\n", /jobs\[0\]\.name: expected letters/],
    ["no jobs", "jobs: []\n", /jobs: Too small/],
    [
      "steps on a noop job",
      "jobs:\n  - name: a\n    type: noop\n    steps: [{name: s, run: x}]\n",
      /jobs\[0\]\.steps: only actions-workflow/,
    ],
    [
      "a step with run and command",
      "jobs:\n  - name: a\n    type: actions-workflow\n    steps: [{name: s, run: x, command: y}]\n",
      /jobs\[0\]\.steps\[0\]: give exactly one/,
    ],
    [
      "a missing source directory",
      "jobs:\n  - name: a\n    type: terraform-deploy\n    source: ./nowhere\n",
      /jobs\[0\]\.source: "\.\/nowhere" is not a directory/,
    ],
    [
      "state on a noop job",
      "jobs:\n  - name: a\n    type: noop\n    state: local\n",
      /jobs\[0\]\.state: only terraform jobs/,
    ],
    [
      "a local source for a workflow",
      "jobs:\n  - name: a\n    type: actions-workflow\n    source: ./module\n    steps: [{name: s, run: x}]\n",
      /jobs\[0\]\.source: actions-workflow jobs take a git source/,
    ],
    ["broken YAML", "jobs: [\n", /not valid YAML or JSON/],
    [
      "a source on a noop job",
      "jobs:\n  - name: a\n    type: noop\n    source: ./module\n",
      /jobs\[0\]\.source: noop jobs take no source/,
    ],
    [
      "a git chart",
      "jobs:\n  - name: a\n    type: helm-chart-deploy\n    source: {git: https://h/c.git}\n",
      /jobs\[0\]\.source: helm-chart-deploy jobs take a local chart/,
    ],
  ])("reports %s", async (_what, text, pattern) => {
    await file("f.yaml", text);
    const issues = await issuesOf(["f.yaml"]);
    expect(issues.join("\n")).toMatch(pattern);
    expect(issues.every((i) => i.startsWith("f.yaml: "))).toBe(true);
  });

  it("reports a file it cannot read", async () => {
    expect(await issuesOf(["missing.yaml"])).toEqual([
      "missing.yaml: cannot read the job file: no such file",
    ]);
  });

  it("names the job types this runner handles when a type has no handler", async () => {
    await file("f.yaml", "jobs:\n  - name: a\n    type: helm-chart-deploy\n");
    const [issue] = await issuesOf(["f.yaml"], ["noop", "terraform-deploy"]);
    expect(issue).toBe(
      'f.yaml: jobs[0].type: this runner has no handler for job type "helm-chart-deploy" (it handles: noop, terraform-deploy)',
    );
  });

  it("names unknown dependencies and cycles", async () => {
    await file(
      "f.yaml",
      "jobs:\n  - {name: a, type: noop, depends_on: [b]}\n  - {name: b, type: noop, depends_on: [a]}\n  - {name: c, type: noop, depends_on: [ghost]}\n",
    );
    expect(await issuesOf(["f.yaml"])).toEqual([
      'depends_on: job "c" depends on "ghost", which is not a job of this run',
      "depends_on: depends_on forms a cycle: a → b → a",
    ]);
  });

  it("refuses the same job name in two files, naming both", async () => {
    await file("one.yaml", "jobs:\n  - {name: a, type: noop}\n");
    await file("two.yaml", "jobs:\n  - {name: a, type: noop}\n");
    expect(await issuesOf(["one.yaml", "two.yaml"])).toEqual([
      'two.yaml: job name "a" is also used in one.yaml',
    ]);
  });

  it("accepts every job file shipped in examples/", async () => {
    const root = path.resolve(import.meta.dirname, "../..");
    const { createHandlerRegistry } = await import("../../src/jobs/registry.ts");
    for (const name of ["hello.yaml", "terraform.yaml", "actions.yaml", "kubernetes.yaml", "helm.yaml"]) {
      const jobs = await loadJobFiles([`examples/${name}`], {
        cwd: root,
        knownTypes: createHandlerRegistry().types(),
      });
      expect(jobs.length, name).toBeGreaterThan(0);
    }
  });

  it("formats zod paths", () => {
    expect(formatPath(["jobs", 1, "timeouts", "execution"])).toBe("jobs[1].timeouts.execution");
    expect(formatPath([])).toBe("(top level)");
  });
});
