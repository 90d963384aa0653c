import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { call } from "./helpers.ts";

const NODE = resolve("node_modules/.bin/node");
const BIN = resolve("bin/runner.js");

let child: ChildProcess | undefined;
afterEach(() => {
  if (child?.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  child = undefined;
});

function exited(proc: ChildProcess): Promise<number | null> {
  return new Promise((done) => proc.once("exit", (code) => done(code)));
}

/** Resolves with stdout once `pattern` shows up in it. */
function waitForOutput(proc: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((done, fail) => {
    let out = "";
    proc.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (pattern.test(out)) done(out);
    });
    proc.once("exit", (code) => fail(new Error(`exited ${code} before printing ${pattern}: ${out}`)));
  });
}

describe("runner control-plane", () => {
  it("starts, prints its URL and admin token, answers, and exits 0 on SIGTERM", async () => {
    child = spawn(NODE, [BIN, "control-plane", "--port", "0", "--log-level", "silent"], {
      env: { ...process.env, RUNNER_ADMIN_TOKEN: "admin-secret-1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = await waitForOutput(child, /admin token: .+\n/);
    const url = /listening at (http:\/\/\S+)/.exec(out)?.[1] ?? "";
    expect(out).toContain("admin token: admin-secret-1");
    const created = await call(`${url}/admin/runners`, { token: "admin-secret-1", body: {} });
    expect(created.status).toBe(201);
    const runner = created.json as { id: string; token: string };
    expect((await call(`${url}/v1/runners/${runner.id}/settings`, { token: runner.token })).status).toBe(200);
    const exit = exited(child);
    child.kill("SIGTERM");
    expect(await exit).toBe(0);
  });

  it("exits 2 with a message on a bad flag", async () => {
    child = spawn(NODE, [BIN, "control-plane", "--port", "seventy"], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    expect(await exited(child)).toBe(2);
    expect(err).toContain("--port must be an integer");
  });
});
