/**
 * `npm run build:sea` (scripts/sea.ts): the single executable (about 130 MB: node plus the CommonJS bundle)
 * runs with no node on PATH, reports version, commit and its embedded Node, and runs jobs with heartbeats
 * from its worker thread. Built once (about 7 s) into a temporary directory that is removed afterwards.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/build.ts";
import { buildSea, type SeaResult, seaConfig } from "../../scripts/sea.ts";
import { smokeRun } from "./support/smoke.ts";

const run = promisify(execFile);
const COMMIT = "feedfacefeedfacefeedfacefeedfacefeedface";
let outDir: string;
let sea: SeaResult;

beforeAll(async () => {
  outDir = await mkdtemp(path.join(tmpdir(), "runner-sea-"));
  sea = await buildSea({ outDir, commit: COMMIT });
}, 120_000);

afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

describe("the single executable", () => {
  it("is named after the platform, executable, and keeps its generated sea-config.json", async () => {
    expect(path.basename(sea.executable)).toBe(`runner-${process.platform}-${process.arch}`);
    expect((await stat(sea.executable)).mode & 0o111).toBe(0o111);
    const config = JSON.parse(await readFile(path.join(outDir, "sea-config.json"), "utf8"));
    expect(config).toEqual(seaConfig("runner.cjs", "sea-prep.blob"));
  });

  it("prints version, commit and its embedded Node version without any node on PATH", async () => {
    const { stdout } = await run(sea.executable, ["version", "-o", "json"], {
      env: { PATH: "/nonexistent" },
      cwd: outDir,
    });
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(JSON.parse(stdout)).toEqual({ version: pkg.version, commit: COMMIT, node: process.version });
  });

  it("runs a job, heartbeats from its worker thread and drains to exit 0 on SIGTERM", async () => {
    const result = await smokeRun([sea.executable], outDir);
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
