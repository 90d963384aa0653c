import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { run } from "../../src/cli/version.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const NODE = path.join(ROOT, "node_modules/.bin/node");
const PKG_VERSION = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string })
  .version;

function runner(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      NODE,
      [path.join(ROOT, "bin/runner.js"), ...args],
      { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 20_000 },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : -1, stdout, stderr });
      },
    );
  });
}

function collect() {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  return { stream, text: () => text };
}

describe("runner version", () => {
  it("prints the package version, the commit and the node version", async () => {
    const result = await runner(["version"], { RUNNER_COMMIT: "abc1234" });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`runner ${PKG_VERSION} (commit abc1234, node ${process.version})\n`);
  });

  it("prints JSON with -o json", async () => {
    const result = await runner(["version", "-o", "json"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      version: PKG_VERSION,
      commit: "unknown",
      node: process.version,
    });
  });

  it("exits 2 on an unknown flag", async () => {
    const out = collect();
    const err = collect();
    const code = await run(["--verbose"], { stdout: out.stream, stderr: err.stream, env: {} });
    expect(code).toBe(2);
    expect(out.text()).toBe("");
    expect(err.text()).toContain("runner version: unknown option --verbose");
  });
});
