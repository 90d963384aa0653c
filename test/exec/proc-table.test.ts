import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  environHas,
  isExited,
  parseProcStat,
  readChildPids,
  readProcStat,
  readProcTable,
} from "../../src/exec/proc-table.ts";

describe("parseProcStat", () => {
  it("reads pid, state, ppid, pgid, sid and start time", () => {
    const text =
      "5704 (cat) R 5701 5700 2999 0 -1 4194304 98 0 0 0 0 0 0 0 20 0 1 0 44395 3133440 361 18446744073709551615";
    expect(parseProcStat(text)).toEqual({
      pid: 5704,
      comm: "cat",
      state: "R",
      ppid: 5701,
      pgid: 5700,
      sid: 2999,
      startTime: 44395,
    });
  });

  it("handles a command name containing spaces and parentheses", () => {
    const text = "42 (a) b (c)) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0";
    expect(parseProcStat(text)).toMatchObject({
      pid: 42,
      comm: "a) b (c)",
      state: "S",
      ppid: 1,
      startTime: 777,
    });
  });

  it.each(["", "garbage", "12 (x)", "x (y) S 1 2 3"])("returns undefined for %j", (text) => {
    expect(parseProcStat(text)).toBeUndefined();
  });

  it("treats zombies and dead processes as exited", () => {
    expect(isExited({ state: "Z" })).toBe(true);
    expect(isExited({ state: "X" })).toBe(true);
    expect(isExited({ state: "S" })).toBe(false);
  });
});

describe("reading /proc", () => {
  it("finds this process and its parent", () => {
    const self = readProcStat(process.pid);
    expect(self?.pid).toBe(process.pid);
    expect(self?.ppid).toBe(process.ppid);
    expect(readProcTable().some((p) => p.pid === process.pid)).toBe(true);
  });

  it("returns nothing for a missing procfs", () => {
    expect(readProcTable("/nonexistent-proc")).toEqual([]);
    expect(readProcStat(process.pid, "/nonexistent-proc")).toBeUndefined();
  });

  it("sees an exact entry in a child's environment", async () => {
    const child = spawn("sleep", ["5"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", MARK: "abc" } });
    try {
      await new Promise((resolve) => child.once("spawn", resolve));
      const pid = child.pid ?? 0;
      expect(environHas(pid, "MARK=abc")).toBe(true);
      expect(environHas(pid, "MARK=ab")).toBe(false);
      expect(environHas(pid, "ARK=abc")).toBe(false);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("lists a process's children", async () => {
    const child = spawn("sleep", ["5"]);
    try {
      await new Promise((resolve) => child.once("spawn", resolve));
      expect(readChildPids(process.pid)).toContain(child.pid);
      expect(readChildPids(999_999_999)).toBeUndefined();
    } finally {
      child.kill("SIGKILL");
    }
  });
});
