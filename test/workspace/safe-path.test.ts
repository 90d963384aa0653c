import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  assertRealPathInside,
  assertRealPathInsideSync,
  isWithin,
  resolveInside,
  WorkspaceEscapeError,
} from "../../src/workspace/safe-path.ts";

describe("resolveInside", () => {
  it.each<[string[], string]>([
    [["main.tf"], "/ws/main.tf"],
    [["modules", "vpc", "main.tf"], "/ws/modules/vpc/main.tf"],
    [["a/../b"], "/ws/b"],
    [["./x"], "/ws/x"],
    [[], "/ws"],
  ])("joins %j inside the base", (segments, expected) => {
    expect(resolveInside("/ws", ...segments)).toBe(expected);
  });

  it.each<[string[]]>([
    [["../x"]],
    [["a", "../../x"]],
    [[".."]],
    [["/etc/passwd"]],
    [["a", "/etc"]],
    [["a\0b"]],
  ])("rejects %j with WorkspaceEscapeError", (segments) => {
    expect(() => resolveInside("/ws", ...segments)).toThrow(WorkspaceEscapeError);
  });

  it("does not treat a sibling with the same prefix as inside", () => {
    expect(() => resolveInside("/ws", "../ws-other/x")).toThrow(WorkspaceEscapeError);
    expect(isWithin("/ws", "/ws-other")).toBe(false);
    expect(isWithin("/ws", "/ws/..x")).toBe(true);
  });
});

describe("assertRealPathInside", () => {
  let base: string;
  let outside: string;
  beforeEach(() => {
    base = mkdtempSync(path.join(tmpdir(), "runner-safe-path-"));
    outside = mkdtempSync(path.join(tmpdir(), "runner-outside-"));
    mkdirSync(path.join(base, "sub"));
    symlinkSync(outside, path.join(base, "escape"));
    symlinkSync(path.join(base, "sub"), path.join(base, "inner-link"));
    symlinkSync(path.join(outside, "not-yet"), path.join(base, "dangling"));
  });
  afterEach(() => {
    rmSync(base, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it("accepts existing and not-yet-existing paths inside", async () => {
    await expect(assertRealPathInside(base, "sub")).resolves.toBe(path.join(base, "sub"));
    await expect(assertRealPathInside(base, "sub/new/file.txt")).resolves.toBe(
      path.join(base, "sub/new/file.txt"),
    );
    expect(assertRealPathInsideSync(base, "inner-link/file")).toBe(path.join(base, "inner-link/file"));
  });

  it.each(["escape", "escape/file.txt", "escape/deeper/new", "dangling"])(
    "rejects %s, which a symlink leads outside",
    async (target) => {
      await expect(assertRealPathInside(base, target)).rejects.toThrow(WorkspaceEscapeError);
      expect(() => assertRealPathInsideSync(base, target)).toThrow(WorkspaceEscapeError);
    },
  );
});
