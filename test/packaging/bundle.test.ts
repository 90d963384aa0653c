/**
 * `npm run build` (scripts/build.ts): the esbuild bundle runs outside the repository (no node_modules
 * beside it), as `node runner.mjs`, as an executable and through a `runner` symlink, reports the commit it
 * was built from, and runs jobs with heartbeats from its worker thread.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, resolveCommit } from "../../scripts/build.ts";
import { smokeRun } from "./support/smoke.ts";

const run = promisify(execFile);
const NODE = process.execPath;
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
let work: string;
let outDir: string;
let buildOutput: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "runner-bundle-"));
  const built = path.join(work, "built");
  const { stdout } = await run(
    NODE,
    [path.join(ROOT, "scripts/build.ts"), "--outdir", built, "--commit", COMMIT],
    {
      cwd: ROOT,
    },
  );
  buildOutput = stdout;
  // move it away from the repository: nothing may be resolved from /work/main/node_modules at run time
  outDir = path.join(work, "app");
  await cp(built, outDir, { recursive: true });
  await rm(built, { recursive: true });
}, 60_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("the esbuild bundle", () => {
  it("reports what it wrote, with the commit it was given", () => {
    expect(buildOutput).toMatch(
      /^build: wrote .*runner\.mjs and \d+ chunk\(s\) \(\d+\.\d+ MB, commit 0123456789abcdef/,
    );
    expect(buildOutput).toContain("1 worker(s) inlined");
  });

  it("starts with the shebang and the banner, and is executable", async () => {
    const text = await readFile(path.join(outDir, "runner.mjs"), "utf8");
    const [shebang, banner] = text.split("\n");
    expect(shebang).toBe("#!/usr/bin/env node");
    expect(banner).toMatch(
      /^\/\/ runner \d+\.\d+\.\d+ \(commit 0123456789abcdef[0-9a-f]+\): bundled by scripts\/build\.ts/,
    );
    expect((await stat(path.join(outDir, "runner.mjs"))).mode & 0o777).toBe(0o755);
  });

  it("keeps the entry small: each command is a lazily loaded chunk, so `version` parses little", async () => {
    expect((await stat(path.join(outDir, "runner.mjs"))).size).toBeLessThan(20_000);
    const chunks = (await readdir(path.join(outDir, "chunks"))).filter((f) => f.endsWith(".mjs"));
    expect(chunks.length).toBeGreaterThan(3);
  });

  it("prints version, the baked-in commit and the node version, from a directory without node_modules", async () => {
    const { stdout } = await run(NODE, [path.join(outDir, "runner.mjs"), "version", "-o", "json"], {
      cwd: work,
      env: { PATH: process.env.PATH ?? "", RUNNER_COMMIT: "ignored-at-run-time" },
    });
    const info = JSON.parse(stdout) as { version: string; commit: string; node: string };
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(info).toEqual({ version: pkg.version, commit: COMMIT, node: process.version });
  });

  it("works as the `runner` binary through a symlink on PATH", async () => {
    const bin = path.join(work, "bin");
    await mkdir(bin, { recursive: true });
    await symlink(path.join(outDir, "runner.mjs"), path.join(bin, "runner"));
    // node first on PATH, as in the image, so that `#!/usr/bin/env node` finds Node 24
    const { stdout } = await run("runner", ["version"], {
      cwd: work,
      env: { PATH: `${path.dirname(NODE)}:${bin}:/usr/bin:/bin` },
    });
    expect(stdout).toBe(
      `runner ${JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")).version} (commit ${COMMIT}, node ${process.version})\n`,
    );
  });

  it("runs a job, heartbeats from its worker thread, answers /healthz and drains to exit 0 on SIGTERM", async () => {
    const result = await smokeRun([NODE, path.join(outDir, "runner.mjs")], work);
    expect(result.jobStatus).toBe("finished");
    expect(result.heartbeats).toBeGreaterThanOrEqual(2);
    expect(result.healthzStatus).toBe(200);
    expect(result.messages).not.toContain(
      "the heartbeat thread failed; heartbeats continue on the main thread",
    );
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe("");
  }, 40_000);
});

describe("resolveCommit", () => {
  it("prefers RUNNER_COMMIT, else asks git for HEAD, else says unknown", async () => {
    expect(resolveCommit({ RUNNER_COMMIT: " abc123 " }, ROOT)).toBe("abc123");
    const { stdout } = await run("git", ["rev-parse", "HEAD"], { cwd: ROOT });
    expect(resolveCommit({}, ROOT)).toBe(stdout.trim());
    expect(resolveCommit({}, await mkdtemp(path.join(tmpdir(), "runner-nogit-")))).toBe("unknown");
  });
});
