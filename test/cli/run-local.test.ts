/**
 * `runner run-local` as a child process (bin/runner.js) with real terraform on the shipped examples, and the
 * `runs` and `diff` commands on the records it leaves.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run as diff } from "../../src/cli/diff.ts";
import { run as runs } from "../../src/cli/runs.ts";
import { listRecords, readRecordFile } from "../../src/records/record-store.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const NODE = path.join(ROOT, "node_modules/.bin/node");
const FIXTURES = path.join(ROOT, "test/dev/fixtures");
let dir: string;
let tfrc: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "run-local-cli-"));
  tfrc = path.join(dir, "cli.tfrc");
  await writeFile(tfrc, "");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runner(
  args: string[],
  opts: { onStdout?: (text: string, kill: (s: NodeJS.Signals) => void) => void } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [path.join(ROOT, "bin/runner.js"), ...args], {
      cwd: ROOT,
      env: { ...process.env, TF_CLI_CONFIG_FILE: tfrc, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
      opts.onStdout?.(stdout, (s) => child.kill(s));
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function inProcess(
  command: typeof runs,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  err.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await command(args, { stdout: out, stderr: err, env: process.env });
  return { code, stdout, stderr };
}

describe("runner run-local (child process)", () => {
  it("runs the README's main command on examples/hello.yaml with real terraform", async () => {
    const readme = await readFile(path.join(ROOT, "README.md"), "utf8");
    const command = /^npx runner (run-local \S+)$/m.exec(readme)?.[1];
    expect(command).toBe("run-local examples/hello.yaml");
    const state = path.join(dir, "hello");
    const ran = await runner([...command!.split(" "), "--state-dir", state]);
    expect(ran.stderr).toBe("");
    expect(ran.code).toBe(0);
    expect(ran.stdout).toMatch(
      /^infra\s+terraform-deploy\s+finished\s+\S+\s+environment=dev, greeting=hello, world/m,
    );
    expect(ran.stdout).toMatch(/^greet\s+actions-workflow\s+finished\s+\S+\s+greeting=hello, ticks=3/m);
    const [record] = await listRecords(state);
    expect(record?.status).toBe("success");
    expect(record?.snapshots.infra?.items.map((i) => i.key)).toEqual([
      "status",
      "output.environment",
      "output.greeting",
      "resource.terraform_data.environment",
    ]);
    expect(record?.jobs[1]?.steps.filter((s) => s.kind === "action").map((s) => [s.name, s.status])).toEqual([
      ["say-hello", "finished"],
      ["count", "finished"],
    ]);
  });

  it("exits 1 naming the failed job and step, and still writes the record", async () => {
    const state = path.join(dir, "failing");
    const ran = await runner([
      "run-local",
      path.join(FIXTURES, "failing.yaml"),
      "--state-dir",
      state,
      "--run-id",
      "fail1",
    ]);
    expect(ran.code).toBe(1);
    expect(ran.stdout).toContain(
      'build failed at step unit-tests: action step "unit-tests" (2 of 3) bash exited with code 3',
    );
    expect(ran.stdout).toMatch(/^deploy\s+noop\s+skipped/m);
    const record = await readRecordFile(path.join(state, "runs", "fail1.json"));
    expect(record).toMatchObject({ status: "failure", exitCode: 1 });
    expect(record.jobs.map((j) => [j.name, j.status, j.failedStep])).toEqual([
      ["build", "failed", "unit-tests"],
      ["deploy", "skipped", undefined],
    ]);

    const list = await inProcess(runs, ["list", "--state-dir", state]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^fail1\s+\S+ \S+\s+failure\s+\S+\s+0\/2\s+.*failing\.yaml$/m);
    const show = await inProcess(runs, ["show", "fail1", "--state-dir", state]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^ {2}step unit-tests\s+▕[ █]+▏\s+\S+\s+error$/m);
    const page = path.join(dir, "fail1.html");
    const html = await inProcess(runs, ["show", "fail1", "--html", page, "--state-dir", state]);
    expect(html.code).toBe(0);
    const text = await readFile(page, "utf8");
    expect(text).toContain('id="timeline"');
    expect(text).toContain("step unit-tests");
    const missing = await inProcess(runs, ["show", "nope", "--state-dir", state]);
    expect(missing.code).toBe(2);
  });

  it("exits 2 on an invalid job file, naming the field path", async () => {
    const ran = await runner([
      "run-local",
      path.join(FIXTURES, "broken.yaml"),
      "--state-dir",
      path.join(dir, "broken"),
    ]);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(
      'broken.yaml: jobs[1].timeouts.execution: expected a duration such as "30s"',
    );
    expect(ran.stdout).toBe("");
  });

  it("diff: two identical runs change nothing (exit 0); one changed variable shows exactly that output (exit 1)", async () => {
    const state = path.join(dir, "diff");
    const jobFile = path.join(dir, "diff.yaml");
    const write = (name: string) =>
      writeFile(
        jobFile,
        `jobs:\n  - name: infra\n    type: terraform-deploy\n    source: ${path.join(ROOT, "examples/terraform/hello")}\n    plan: {terraform: {vars: {name: ${name}}}}\n`,
      );
    await write("world");
    expect((await runner(["run-local", jobFile, "--state-dir", state])).code).toBe(0);
    const json = await runner(["run-local", jobFile, "--state-dir", state, "-o", "json"]);
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout) as {
      status: string;
      jobs: Array<{ name: string; outputs: unknown }>;
    };
    expect(result.status).toBe("success");
    expect(result.jobs[0]).toMatchObject({
      name: "infra",
      outputs: { greeting: "hello, world", environment: "dev" },
    });

    const same = await inProcess(diff, ["--state-dir", state]);
    expect(same.code).toBe(0);
    expect(same.stdout).toContain("no changes");

    await write("moon");
    expect((await runner(["run-local", jobFile, "--state-dir", state])).code).toBe(0);
    const changed = await inProcess(diff, ["--state-dir", state]);
    expect(changed.code).toBe(1);
    const lines = changed.stdout.split("\n").filter((l) => /^[+~=-] /.test(l));
    expect(lines).toEqual(['~ infra  output.greeting  "hello, world" → "hello, moon"']);
    const detail = await inProcess(diff, ["--detail", "--state-dir", state]);
    expect(detail.stdout).toContain('    -"hello, world"\n    +"hello, moon"');
  });

  it("on SIGINT cancels the jobs, writes the record and exits 130", async () => {
    const state = path.join(dir, "sigint");
    const jobFile = path.join(dir, "slow.yaml");
    await writeFile(jobFile, "jobs:\n  - {name: slow, type: noop, plan: {sleep_ms: 20000}}\n");
    let sent = false;
    const ran = await runner(["run-local", jobFile, "--state-dir", state, "--run-id", "int1"], {
      onStdout: (text, kill) => {
        if (!sent && text.includes("slow: in-progress")) {
          sent = true;
          kill("SIGINT");
        }
      },
    });
    expect(ran.code).toBe(130);
    const record = await readRecordFile(path.join(state, "runs", "int1.json"));
    expect(record).toMatchObject({ status: "interrupted", exitCode: 130, reason: "interrupted by SIGINT" });
    expect(record.jobs[0]?.status).toBe("cancelled");
  });
});
