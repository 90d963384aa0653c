/**
 * Reading Linux's process table from /proc: each process's parent, process group, session and start time.
 * `parseProcStat` is pure; the readers tolerate processes vanishing between listing and reading (the normal
 * case) and return nothing where /proc does not exist (macOS), so callers degrade to process-group signals.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** One row of /proc/<pid>/stat. */
export interface ProcStat {
  pid: number;
  /** The executable name as the kernel knows it (at most 15 characters). */
  comm: string;
  /** R, S, D, Z (zombie), T, X (dead), … */
  state: string;
  ppid: number;
  pgid: number;
  /** Session id. */
  sid: number;
  /** Start time in clock ticks since boot; with the pid it names one process even after pid reuse. */
  startTime: number;
}

/** Default location of procfs. */
export const DEFAULT_PROC_ROOT = "/proc";

/**
 * Parses the text of /proc/<pid>/stat, or returns undefined when it is not one. The command name is in
 * parentheses and may itself contain spaces and parentheses, so fields are read after the LAST ')'.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 1 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  // After ") ": state(3) ppid(4) pgrp(5) session(6) tty(7) tpgid(8) flags(9) minflt(10) cminflt(11)
  // majflt(12) cmajflt(13) utime(14) stime(15) cutime(16) cstime(17) priority(18) nice(19) threads(20)
  // itrealvalue(21) starttime(22): index = field number - 3.
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const state = fields[0];
  const ppid = Number(fields[1]);
  const pgid = Number(fields[2]);
  const sid = Number(fields[3]);
  const startTime = Number(fields[19]);
  if (!Number.isInteger(pid) || pid <= 0 || state === undefined || state === "") return undefined;
  if (![ppid, pgid, sid, startTime].every(Number.isFinite)) return undefined;
  return { pid, comm: text.slice(open + 1, close), state, ppid, pgid, sid, startTime };
}

/** True for a process that has exited: a zombie waiting for its parent, or one being torn down. */
export function isExited(proc: Pick<ProcStat, "state">): boolean {
  return proc.state === "Z" || proc.state === "X" || proc.state === "x";
}

/** Every process visible in `procRoot` (default /proc); empty where there is no procfs. */
export function readProcTable(procRoot: string = DEFAULT_PROC_ROOT): ProcStat[] {
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return [];
  }
  const rows: ProcStat[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const row = readProcStat(Number(name), procRoot);
    if (row !== undefined) rows.push(row);
  }
  return rows;
}

/** One process's row, or undefined when it is gone (or unreadable). */
export function readProcStat(pid: number, procRoot: string = DEFAULT_PROC_ROOT): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`${procRoot}/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

/**
 * Whether the environment a process was started with (/proc/<pid>/environ, NUL-separated) contains exactly
 * `entry` ("NAME=value"). False when unreadable: another user's process, or gone.
 */
export function environHas(pid: number, entry: string, procRoot: string = DEFAULT_PROC_ROOT): boolean {
  let raw: Buffer;
  try {
    raw = readFileSync(`${procRoot}/${pid}/environ`);
  } catch {
    return false;
  }
  // Cheap byte search first; split only on a hit, to rule out a match inside another variable's value.
  if (!raw.includes(entry)) return false;
  return raw.toString("utf8").split("\0").includes(entry);
}

/** What a process's file descriptor points to ("socket:[1234]", "pipe:[1234]", a path, …), or undefined when unreadable. */
export function readFdLink(
  pid: number,
  fd: number,
  procRoot: string = DEFAULT_PROC_ROOT,
): string | undefined {
  try {
    return readlinkSync(`${procRoot}/${pid}/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/**
 * Pids (other than `excludePid`) holding an open descriptor on any of `targets` (fd link texts such as
 * "socket:[1234]"). Reads every readable /proc/<pid>/fd directory, so it is kept off hot paths.
 */
export function findFdHolders(
  targets: ReadonlySet<string>,
  excludePid: number,
  procRoot: string = DEFAULT_PROC_ROOT,
): number[] {
  if (targets.size === 0) return [];
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return [];
  }
  const holders: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === excludePid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`${procRoot}/${name}/fd`);
    } catch {
      continue;
    }
    if (fds.some((fd) => targets.has(readFdLink(Number(name), Number(fd), procRoot) ?? ""))) {
      holders.push(Number(name));
    }
  }
  return holders;
}

/**
 * Pids of a process's children, from /proc/<pid>/task/<tid>/children of every thread (Go programs such as
 * terraform fork from any thread). Undefined when the process is gone or the kernel lacks the file
 * (CONFIG_PROC_CHILDREN); the kernel documents the list as best effort while children come and go.
 */
export function readChildPids(pid: number, procRoot: string = DEFAULT_PROC_ROOT): number[] | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`${procRoot}/${pid}/task`);
  } catch {
    return undefined;
  }
  const children: number[] = [];
  for (const tid of tids) {
    let text: string;
    try {
      text = readFileSync(`${procRoot}/${pid}/task/${tid}/children`, "utf8");
    } catch {
      if (tid === String(pid)) return undefined;
      continue;
    }
    for (const part of text.split(/\s+/)) {
      if (part !== "") children.push(Number(part));
    }
  }
  return children;
}
