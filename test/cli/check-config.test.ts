import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maskSecret } from "../../src/cli/check-config.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const NODE = path.join(ROOT, "node_modules/.bin/node");
const TOKEN = "nuon_tok_6f1c2a9b8e7d4c3bSECRET";

let home: string;
beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), "runner-check-config-"));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `runner` binary in a child process with only the given env (plus PATH and HOME). */
function runner(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      NODE,
      [path.join(ROOT, "bin/runner.js"), ...args],
      { cwd: home, env: { PATH: process.env.PATH ?? "", HOME: home, ...env }, timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The table's rows as field → [value, source]. */
function rows(stdout: string): Map<string, [string, string]> {
  const out = new Map<string, [string, string]>();
  for (const line of stdout.trim().split("\n").slice(1)) {
    const [field, value, ...source] = line.split(/\s{2,}/);
    out.set(field!, [value!, source.join(" ")]);
  }
  return out;
}

describe("maskSecret", () => {
  it.each([
    [undefined, "(unset)"],
    [TOKEN, "nuon****"],
    ["short", "****"],
  ])("masks %j as %j", (input, masked) => {
    expect(maskSecret(input)).toBe(masked);
  });
});

describe("runner check-config", () => {
  it("prints the effective configuration with sources and a masked token", async () => {
    const config = path.join(home, "runner.yaml");
    await writeFile(config, "jobOrder: newest\nlongPollWaitMs: 20s\n");
    const result = await runner(["check-config", "--concurrency", "3", "--config", config], {
      RUNNER_API_TOKEN: TOKEN,
      RUNNER_ID: "runner_abc",
      LOG_LEVEL: "DEBUG",
      RUNNER_CONCURRENCY: "2",
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(`${result.stdout}${result.stderr}`).not.toContain(TOKEN);
    const table = rows(result.stdout);
    expect(table.get("apiToken")).toEqual(["nuon****", "env RUNNER_API_TOKEN"]);
    expect(table.get("runnerId")).toEqual(["runner_abc", "env RUNNER_ID"]);
    expect(table.get("logLevel")).toEqual(["debug", "env LOG_LEVEL"]);
    expect(table.get("concurrency")).toEqual(["3", "flag --concurrency"]);
    expect(table.get("jobOrder")).toEqual(["newest", "file"]);
    expect(table.get("longPollWaitMs")).toEqual(["20s", "file"]);
    expect(table.get("apiUrl")).toEqual(["https://api.nuon.co", "default"]);
    expect(table.get("stateDir")).toEqual([path.join(home, ".local/state/runner"), "default"]);
  });

  it("prints JSON with -o json, masking the token and marking unset fields null", async () => {
    const result = await runner(["check-config", "-o", "json"], {
      RUNNER_API_TOKEN: TOKEN,
      RUNNER_KILL_GRACE: "3s",
    });
    expect(result.code).toBe(0);
    expect(`${result.stdout}${result.stderr}`).not.toContain(TOKEN);
    const parsed = JSON.parse(result.stdout) as {
      config: Record<string, unknown>;
      sources: Record<string, string>;
    };
    expect(parsed.config.apiToken).toBe("nuon****");
    expect(parsed.config.runnerId).toBeNull();
    expect(parsed.config.killGraceMs).toBe(3_000);
    expect(parsed.sources.killGraceMs).toBe("env");
    expect(parsed.sources.apiToken).toBe("env");
    expect(parsed.sources.concurrency).toBe("default");
  });

  it("shows (unset) when there is no token", async () => {
    const result = await runner(["check-config"]);
    expect(result.code).toBe(0);
    expect(rows(result.stdout).get("apiToken")).toEqual(["(unset)", "default"]);
  });

  it("exits 2 naming the field and its env variable when the env is invalid", async () => {
    const result = await runner(["check-config"], { RUNNER_CONCURRENCY: "abc", RUNNER_API_TOKEN: TOKEN });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(
      'concurrency (from env RUNNER_CONCURRENCY): expected a positive integer, got "abc"',
    );
    expect(result.stderr).not.toContain(TOKEN);
  });

  it("exits 2 naming the file when the config file is missing", async () => {
    const missing = path.join(home, "absent.yaml");
    const result = await runner(["check-config"], { RUNNER_CONFIG: missing });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(missing);
  });

  it.each([
    [["--bogus"], "unknown option --bogus"],
    [["-o", "xml"], 'option --output must be one of table, json, got "xml"'],
    [["--concurrency"], "option --concurrency needs a value"],
    [["extra"], 'unexpected argument "extra"'],
  ])("exits 2 with a clear message for %j", async (args, message) => {
    const result = await runner(["check-config", ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain("usage: runner check-config");
  });
});
