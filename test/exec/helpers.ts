/** Shared helpers for the exec tests: fixture paths, pid files, and liveness checks on pids the tests started. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute path of a fixture script in test/fixtures/exec. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/exec/${name}`, import.meta.url));
}

/** True when `pid` no longer runs: kill(pid, 0) fails, or /proc shows it as a zombie (exited, not yet reaped). */
export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "Z" || state === "X";
  } catch {
    return true;
  }
}

/** Reads a pid written by a fixture script. */
export function readPid(file: string): number {
  const pid = Number(readFileSync(file, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no pid in ${file}`);
  return pid;
}

/** A temporary directory for marker and pid files; `pids` collects what the test started, for cleanup. */
export function scratch(): { dir: string; file(name: string): string; cleanup(): void; pids: number[] } {
  const dir = mkdtempSync(path.join(tmpdir(), "runner-exec-test-"));
  const pids: number[] = [];
  return {
    dir,
    pids,
    file: (name) => path.join(dir, name),
    cleanup() {
      // Safety net for a failed assertion: kill only the pids this test's scripts reported.
      for (const name of ["pid", "grandchild.pid", "child.pid"]) {
        const file = path.join(dir, name);
        if (existsSync(file)) pids.push(readPid(file));
      }
      for (const pid of pids) {
        if (!isGone(pid)) process.kill(pid, "SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
