import { chmod, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { guardedFs } from "../../src/sources/guarded-fs.ts";
import { removeEscapingLinks } from "../../src/sources/links.ts";
import { copyLocalSource } from "../../src/sources/local.ts";
import { GitSourcePlan, resolveSource } from "../../src/sources/resolve.ts";
import { createWorkspace, type Workspace } from "../../src/workspace/workspace.ts";

let tmp: string;
let src: string;
let ws: Workspace;

beforeEach(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "local-source-"));
  src = path.join(tmp, "src");
  await mkdir(path.join(src, "scripts", "deep"), { recursive: true });
  await writeFile(path.join(src, "README"), "hello\n");
  await writeFile(path.join(src, "scripts", "run.sh"), "#!/bin/sh\necho run\n");
  await chmod(path.join(src, "scripts", "run.sh"), 0o755);
  await writeFile(path.join(src, "scripts", "deep", "data.txt"), "deep\n");
  await writeFile(path.join(tmp, "outside.txt"), "outside secret\n");
  await symlink("scripts/run.sh", path.join(src, "relative-inside"));
  await symlink(path.join(src, "README"), path.join(src, "absolute-inside"));
  await symlink("../outside.txt", path.join(src, "escape"));
  await symlink("/etc/passwd", path.join(src, "scripts", "absolute-outside"));
  ws = await createWorkspace({ root: path.join(tmp, "ws"), jobId: "job", executionId: "exec" });
});

afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("copyLocalSource", () => {
  it("copies files with their modes and keeps links that stay inside, pointing into the copy", async () => {
    const dir = ws.path("copy");
    const copied = await copyLocalSource({ src, dir });
    expect(copied.files).toBe(3);
    expect(await readFile(path.join(dir, "scripts", "deep", "data.txt"), "utf8")).toBe("deep\n");
    expect((await stat(path.join(dir, "scripts", "run.sh"))).mode & 0o777).toBe(0o755);
    expect(await readlink(path.join(dir, "relative-inside"))).toBe("scripts/run.sh");
    // The absolute link became relative, so it reads the copy, not the original.
    expect(await readlink(path.join(dir, "absolute-inside"))).toBe("README");
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it("skips links that lead out of the source and reports them", async () => {
    const dir = ws.path("copy");
    const copied = await copyLocalSource({ src, dir });
    expect(copied.skipped.map((s) => s.path).sort()).toEqual([
      "escape",
      path.join("scripts", "absolute-outside"),
    ]);
    await expect(readlink(path.join(dir, "escape"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("refuses a target that is not empty, and a source that is not a directory", async () => {
    const dir = ws.path("copy");
    await mkdir(dir);
    await writeFile(path.join(dir, "x"), "x");
    await expect(copyLocalSource({ src, dir })).rejects.toThrow("not empty");
    await expect(copyLocalSource({ src: path.join(src, "README"), dir: ws.path("other") })).rejects.toThrow(
      "not a directory",
    );
    await expect(copyLocalSource({ src: path.join(tmp, "missing"), dir: ws.path("other") })).rejects.toThrow(
      "does not exist",
    );
  });
});

describe("removeEscapingLinks", () => {
  it("removes links pointing out (directly or through another link) and keeps the rest", async () => {
    await symlink("escape", path.join(src, "via-escape"));
    const removed = await removeEscapingLinks(src);
    expect(removed).toEqual(
      expect.arrayContaining(["absolute-inside", "escape", path.join("scripts", "absolute-outside")]),
    );
    // Whether it went first or was left dangling once `escape` was gone, nothing can be read through it.
    await expect(readFile(path.join(src, "via-escape"), "utf8")).rejects.toMatchObject({ code: "ENOENT" });
    expect(await readlink(path.join(src, "relative-inside"))).toBe("scripts/run.sh");
  });
});

describe("resolveSource", () => {
  it("copies a local directory into the workspace and returns its subdirectory", async () => {
    const resolved = await resolveSource(
      { local: src, path: "scripts" },
      { workspaceDir: ws.dir, name: "src" },
    );
    expect(resolved.root).toBe(path.join(ws.dir, "src"));
    expect(resolved.dir).toBe(path.join(ws.dir, "src", "scripts"));
    expect(resolved.commit).toBeUndefined();
  });

  it("refuses names and paths that leave the workspace", async () => {
    await expect(
      resolveSource({ local: src }, { workspaceDir: ws.dir, name: "../elsewhere" }),
    ).rejects.toThrow("climbs out");
    await expect(
      resolveSource({ local: src, path: "../../.." }, { workspaceDir: ws.dir, name: "src" }),
    ).rejects.toThrow("climbs out");
  });

  it("parses a plan's git_source with any key case", () => {
    expect(
      GitSourcePlan.parse({ URL: "https://h.example/r.git", Ref: "main", recurse_submodules: true }),
    ).toEqual({
      url: "https://h.example/r.git",
      ref: "main",
      recurse_submodules: true,
    });
    expect(() => GitSourcePlan.parse({ ref: "main" })).toThrow();
  });
});

describe("guardedFs", () => {
  it("lets writes inside through and refuses writes that would land outside, directly or through a link", async () => {
    const root = path.join(tmp, "fenced");
    await mkdir(root);
    const fs = guardedFs(root).promises as unknown as typeof import("node:fs/promises");
    await fs.mkdir(path.join(root, "a"));
    await fs.writeFile(path.join(root, "a", "ok.txt"), "fine");
    expect(await readFile(path.join(root, "a", "ok.txt"), "utf8")).toBe("fine");

    await symlink(tmp, path.join(root, "out-dir"));
    await symlink(path.join(tmp, "outside.txt"), path.join(root, "out-file"));
    await expect(fs.writeFile(path.join(root, "..", "escaped.txt"), "x")).rejects.toThrow("climbs out");
    await expect(fs.writeFile(path.join(root, "out-file"), "overwritten")).rejects.toThrow("symlink");
    await expect(fs.writeFile(path.join(root, "out-dir", "planted.txt"), "x")).rejects.toThrow("symlink");
    await expect(fs.mkdir(path.join(root, "out-dir", "planted"))).rejects.toThrow("symlink");
    await expect(fs.symlink("/etc", path.join(root, "out-dir", "link"))).rejects.toThrow("symlink");
    await expect(fs.unlink(path.join(root, "out-dir", "outside.txt"))).rejects.toThrow("symlink");
    expect(await readFile(path.join(tmp, "outside.txt"), "utf8")).toBe("outside secret\n");
    // Replacing the link itself stays inside, so it is allowed.
    await fs.unlink(path.join(root, "out-file"));
  });
});
