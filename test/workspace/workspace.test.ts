import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WorkspaceEscapeError } from "../../src/workspace/safe-path.ts";
import { cleanupStaleWorkspaces, createWorkspace } from "../../src/workspace/workspace.ts";

let tmp: string;
let root: string;
beforeEach(() => {
  tmp = mkdtempSync(path.join(tmpdir(), "runner-workspace-"));
  root = path.join(tmp, "workspaces");
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const mode = (p: string): number => statSync(p).mode & 0o777;

describe("createWorkspace", () => {
  it("creates <root>/<jobId>-<executionId> and the root with mode 0700", async () => {
    const ws = await createWorkspace({ root, jobId: "job1", executionId: "exe1" });
    expect(ws.dir).toBe(path.join(root, "job1-exe1"));
    expect(mode(root)).toBe(0o700);
    expect(mode(ws.dir)).toBe(0o700);
  });

  it("builds paths inside and creates subdirectories with mode 0700", async () => {
    const ws = await createWorkspace({ root, jobId: "job1", executionId: "exe1" });
    expect(ws.path("src", "main.tf")).toBe(path.join(ws.dir, "src", "main.tf"));
    const sub = await ws.subdir("src/modules");
    expect(sub).toBe(path.join(ws.dir, "src", "modules"));
    expect(mode(sub)).toBe(0o700);
  });

  it.each([["../x"], ["/etc/passwd"], ["a/../../x"]])("rejects the escape %j", async (segment) => {
    const ws = await createWorkspace({ root, jobId: "job1", executionId: "exe1" });
    expect(() => ws.path(segment)).toThrow(WorkspaceEscapeError);
    await expect(ws.subdir(segment)).rejects.toThrow(WorkspaceEscapeError);
  });

  it("rejects a path through a symlink that points outside", async () => {
    const ws = await createWorkspace({ root, jobId: "job1", executionId: "exe1" });
    const outside = path.join(tmp, "outside");
    mkdirSync(outside);
    symlinkSync(outside, path.join(ws.dir, "link"));
    expect(() => ws.path("link", "secret.txt")).toThrow(WorkspaceEscapeError);
    await expect(ws.subdir("link/new")).rejects.toThrow(WorkspaceEscapeError);
    expect(existsSync(path.join(outside, "new"))).toBe(false);
  });

  it.each([["../evil"], ["a/b"], [""], [".."]])("rejects the job id %j", async (jobId) => {
    await expect(createWorkspace({ root, jobId, executionId: "exe1" })).rejects.toThrow(WorkspaceEscapeError);
  });

  it("replaces what a crashed run of the same execution left behind", async () => {
    const first = await createWorkspace({ root, jobId: "job1", executionId: "exe1", keep: true });
    writeFileSync(first.path("stale.txt"), "old");
    const second = await createWorkspace({ root, jobId: "job1", executionId: "exe1" });
    expect(existsSync(second.path("stale.txt"))).toBe(false);
  });

  it("cleanup removes the directory and can be called twice", async () => {
    const ws = await createWorkspace({ root, jobId: "job1", executionId: "exe1" });
    writeFileSync(ws.path("file.txt"), "data");
    await ws.cleanup();
    expect(existsSync(ws.dir)).toBe(false);
    await expect(ws.cleanup()).resolves.toBeUndefined();
  });

  it("cleanup keeps the directory when keep is set", async () => {
    const ws = await createWorkspace({ root, jobId: "job1", executionId: "exe1", keep: true });
    writeFileSync(ws.path("file.txt"), "data");
    await ws.cleanup();
    expect(existsSync(ws.path("file.txt"))).toBe(true);
  });
});

describe("cleanupStaleWorkspaces", () => {
  it("removes only directories older than the cutoff, leaving excluded ones, files and symlinks", async () => {
    const old = await createWorkspace({ root, jobId: "old", executionId: "1" });
    const running = await createWorkspace({ root, jobId: "running", executionId: "1" });
    const fresh = await createWorkspace({ root, jobId: "fresh", executionId: "1" });
    const outside = path.join(tmp, "outside");
    mkdirSync(outside);
    symlinkSync(outside, path.join(root, "link"));
    writeFileSync(path.join(root, "note.txt"), "x");
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const dir of [old.dir, running.dir, outside, path.join(root, "note.txt")])
      utimesSync(dir, hourAgo, hourAgo);

    const removed = await cleanupStaleWorkspaces(root, 60_000, { exclude: ["running-1"] });

    expect(removed).toEqual([old.dir]);
    expect(existsSync(old.dir)).toBe(false);
    expect(existsSync(running.dir)).toBe(true);
    expect(existsSync(fresh.dir)).toBe(true);
    expect(existsSync(outside)).toBe(true);
    expect(existsSync(path.join(root, "note.txt"))).toBe(true);
  });

  it("treats a missing root as empty", async () => {
    await expect(cleanupStaleWorkspaces(path.join(tmp, "none"), 0)).resolves.toEqual([]);
  });
});
