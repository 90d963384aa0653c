/** The machine a benchmark ran on: CPU count and model, memory, Node version, date. */
import { readFileSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";

/** What docs/performance.md records about the machine. */
export interface MachineInfo {
  /** ISO date (YYYY-MM-DD) of the run. */
  date: string;
  /** CPUs this process may use (what `nproc` prints). */
  nproc: number;
  /** Total memory in GiB. */
  memoryGiB: number;
  node: string;
  /** `model name` from /proc/cpuinfo, or "unknown". */
  cpuModel: string;
}

/** The `model name` of the first CPU in /proc/cpuinfo text, or "unknown". */
export function cpuModelOf(cpuinfo: string): string {
  const match = /^model name\s*:\s*(.+)$/m.exec(cpuinfo);
  return match?.[1]?.trim() || "unknown";
}

/** Describes this machine. */
export function machineInfo(now = new Date()): MachineInfo {
  let cpuinfo = "";
  try {
    cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    // not Linux: the model stays unknown
  }
  return {
    date: now.toISOString().slice(0, 10),
    nproc: availableParallelism(),
    memoryGiB: totalmem() / 2 ** 30,
    node: process.version,
    cpuModel: cpuModelOf(cpuinfo),
  };
}

/** One line: `2 CPUs (AMD EPYC), 23.5 GiB, Node v24.21.0`. */
export function describeMachine(m: MachineInfo): string {
  return `${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB.toFixed(1)} GiB memory, Node ${m.node}`;
}
