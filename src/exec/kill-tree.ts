/**
 * Everything one command started, and how to signal all of it.
 *
 * The command runs in its own session and process group (spawned `detached`, so its pgid and sid equal its
 * pid). Signalling the group (`kill(-pgid)`) is atomic and reaches every process that stayed in it, but a
 * process can leave: `setsid()` (daemons, double forks) or `setpgid()` moves it out, and when its parent exits
 * it is reparented to init and no longer looks like ours. So membership is established four ways, on Linux:
 *
 * 1. process group / session: pgid or sid equal to the command's pid (what the kernel itself tracks);
 * 2. descendants: `sample()` walks /proc (children/PPid links) while the command runs, every ~150 ms; each one
 *    is remembered by (pid, start time), so it stays ours after reparenting or setsid, and pid reuse by an
 *    unrelated process is recognised (different start time);
 * 3. an environment cookie: the command is started with `RUNNER_PROCESS_COOKIE=<random>`; a process whose
 *    /proc/<pid>/environ still carries it descends from the command, whatever its parent, group or session;
 * 4. output channels: a process that still holds the command's stdout/stderr (`adoptFdHolders`) is ours —
 *    and is exactly what would otherwise keep the caller waiting for end-of-output forever.
 * Descendants of any member found by 2–4 are members too.
 *
 * Remaining limit: a process that leaves the group and whose parent exits before any sample saw the two of
 * them (a double fork inside one ~150 ms interval), AND that scrubs its environment, AND closes the inherited
 * stdout/stderr, is not found and keeps running. The complete fix is kernel-side: run each command in
 * its own cgroup v2 (`cgroup.kill`, or freeze and kill every pid in `cgroup.procs`), or make the runner a child
 * subreaper (prctl PR_SET_CHILD_SUBREAPER, needs native code) so orphans reparent to the runner instead of init,
 * or a PID namespace per command. Without /proc (macOS) only the process group is signalled.
 */
import {
  environHas,
  findFdHolders,
  isExited,
  type ProcStat,
  readChildPids,
  readProcStat,
  readProcTable,
} from "./proc-table.ts";

/** Name of the environment variable that marks every process a command starts. */
export const PROCESS_COOKIE_ENV = "RUNNER_PROCESS_COOKIE";

/** Options of a ProcessTree. */
export interface ProcessTreeOptions {
  /** Pid of the command; it must lead its own process group and session. */
  rootPid: number;
  /** `NAME=value` placed in the command's environment (see PROCESS_COOKIE_ENV); optional. */
  cookieEntry?: string;
  /** Where procfs is mounted; default /proc. */
  procRoot?: string;
  /** A pid never signalled: the runner itself. Default `process.pid`. */
  selfPid?: number;
}

/** The processes of one command, tracked while it runs and signalled as a whole. */
export class ProcessTree {
  readonly rootPid: number;
  readonly #cookieEntry: string | undefined;
  readonly #procRoot: string | undefined;
  readonly #selfPid: number;
  /** Every process seen as ours that may still be alive: pid -> start time. */
  readonly #tracked = new Map<number, number>();
  #rootExited = false;

  constructor(options: ProcessTreeOptions) {
    if (!Number.isInteger(options.rootPid) || options.rootPid <= 1) {
      throw new RangeError(`rootPid must be a process id > 1, got ${options.rootPid}`);
    }
    this.rootPid = options.rootPid;
    this.#cookieEntry = options.cookieEntry;
    this.#procRoot = options.procRoot;
    this.#selfPid = options.selfPid ?? process.pid;
    this.hasProcfs = readProcStat(this.#selfPid, this.#procRoot) !== undefined;
    const root = readProcStat(this.rootPid, this.#procRoot);
    if (root !== undefined) this.#tracked.set(root.pid, root.startTime);
  }

  /** Whether /proc exists here; without it only the process group can be signalled. */
  readonly hasProcfs: boolean;

  /** Call once the command itself has exited and been reaped: its pid may be reused from then on. */
  markRootExited(): void {
    this.#rootExited = true;
  }

  /**
   * Records the current descendants; cheap enough to run every ~150 ms. Walks down from the processes already
   * known through /proc/<pid>/task/<tid>/children, so the cost follows the size of the command's tree, not of
   * the machine; falls back to reading every /proc/<pid>/stat where the kernel lacks the children files.
   */
  sample(): void {
    if (!this.#sampleByChildren()) this.#collect(false);
  }

  /** The living processes of this command now (group, session, tracked, cookie holders, their descendants). */
  members(): ProcStat[] {
    return this.#collect(true);
  }

  /** Adopts every process holding one of `fdTargets` ("socket:[inode]", "pipe:[inode]"); returns how many were adopted. */
  adoptFdHolders(fdTargets: ReadonlySet<string>): number {
    let adopted = 0;
    for (const pid of findFdHolders(fdTargets, this.#selfPid, this.#procRoot)) {
      const row = readProcStat(pid, this.#procRoot);
      if (row === undefined || isExited(row) || this.#tracked.get(pid) === row.startTime) continue;
      this.#tracked.set(pid, row.startTime);
      adopted++;
    }
    return adopted;
  }

  /** True while any process of the command is alive (without /proc: while its process group exists). */
  isAlive(): boolean {
    return this.hasProcfs ? this.members().length > 0 : this.#groupExists();
  }

  /**
   * Sends `signal` to the command's process group and to every member found (or given) outside of it; errors
   * such as ESRCH (already gone) and EPERM are ignored. Returns the number of members signalled individually.
   * A member still in the group gets the signal once, through the group: terraform reads a second SIGINT as
   * "exit immediately, skip the graceful stop".
   */
  signal(signal: NodeJS.Signals, members: readonly ProcStat[] = this.members()): number {
    // The group id stays reserved while any process is in the group, so `-rootPid` cannot hit a stranger then;
    // once the command exited, signal the group only while /proc shows members of it (or /proc is missing).
    let viaGroup = false;
    if (!this.#rootExited || !this.hasProcfs || members.some((p) => p.pgid === this.rootPid)) {
      viaGroup = trySignal(-this.rootPid, signal);
    }
    let count = 0;
    for (const member of members) {
      if (viaGroup && member.pgid === this.rootPid) continue;
      if (member.pid !== this.#selfPid && trySignal(member.pid, signal)) count++;
    }
    return count;
  }

  #groupExists(): boolean {
    try {
      process.kill(-this.rootPid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "EPERM";
    }
  }

  /** The cheap walk of sample(); false when the children files are unavailable. */
  #sampleByChildren(): boolean {
    const queue: number[] = [];
    for (const [pid, startTime] of this.#tracked) {
      const row = readProcStat(pid, this.#procRoot);
      if (row === undefined || row.startTime !== startTime || isExited(row)) this.#tracked.delete(pid);
      else queue.push(pid);
    }
    const seen = new Set(queue);
    for (let pid = queue.pop(); pid !== undefined; pid = queue.pop()) {
      const children = readChildPids(pid, this.#procRoot);
      if (children === undefined) {
        if (pid === this.rootPid && !this.#rootExited) return false;
        continue;
      }
      for (const child of children) {
        if (seen.has(child) || child === this.#selfPid) continue;
        seen.add(child);
        const row = readProcStat(child, this.#procRoot);
        if (row === undefined || isExited(row)) continue;
        this.#tracked.set(child, row.startTime);
        queue.push(child);
      }
    }
    return true;
  }

  #collect(scanEnviron: boolean): ProcStat[] {
    const table = readProcTable(this.#procRoot);
    const byPid = new Map(table.map((p) => [p.pid, p]));
    const children = new Map<number, ProcStat[]>();
    for (const p of table) {
      const siblings = children.get(p.ppid);
      if (siblings === undefined) children.set(p.ppid, [p]);
      else siblings.push(p);
    }
    const found = new Map<number, ProcStat>();
    const queue: ProcStat[] = [];
    const take = (p: ProcStat): void => {
      if (p.pid === this.#selfPid || found.has(p.pid)) return;
      found.set(p.pid, p);
      queue.push(p);
    };
    for (const [pid, startTime] of this.#tracked) {
      const p = byPid.get(pid);
      if (p !== undefined && p.startTime === startTime) take(p);
    }
    for (const p of table) {
      if (p.pgid === this.rootPid || p.sid === this.rootPid) take(p);
    }
    if (scanEnviron && this.#cookieEntry !== undefined) {
      for (const p of table) {
        if (!found.has(p.pid) && !isExited(p) && environHas(p.pid, this.#cookieEntry, this.#procRoot))
          take(p);
      }
    }
    for (let p = queue.pop(); p !== undefined; p = queue.pop()) {
      for (const child of children.get(p.pid) ?? []) take(child);
    }
    // Forget what is gone (or whose pid now names another process); remember everything living that is ours.
    for (const [pid, startTime] of this.#tracked) {
      const p = byPid.get(pid);
      if (p === undefined || p.startTime !== startTime || isExited(p)) this.#tracked.delete(pid);
    }
    const living = [...found.values()].filter((p) => !isExited(p));
    for (const p of living) this.#tracked.set(p.pid, p.startTime);
    return living;
  }
}

function trySignal(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
