/**
 * Spools written by runner versions before frames.ts kept NDJSON segments (`<firstSeq>.log`, one JSON record a
 * line, each with its `seq`). When such a spool is opened after an upgrade, each `.log` file is converted to
 * frame segments (`<firstSeq>.seg`, one per run of consecutive sequence numbers, written through a temporary
 * file and a rename) and then deleted, so a crash halfway converts it again. A torn last line and lines that do
 * not parse are left out: the receiver sees their sequence numbers missing, as before.
 */
import { readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FrameWriter } from "./frames.ts";
import type { SpoolRecord } from "./otlp-records.ts";

const pad = (seq: number) => String(seq).padStart(12, "0");

/** Converts every `.log` segment in a spool directory to `.seg` frame segments; returns how many it converted. */
export function migrateLegacySegments(dir: string, onError?: (err: unknown) => void): number {
  let converted = 0;
  for (const name of readdirSync(dir)) {
    if (!/^\d{12}\.log$/.test(name)) continue;
    const path = join(dir, name);
    try {
      for (const run of runsOf(readFileSync(path, "utf8"))) {
        const frames = new FrameWriter();
        for (const r of run) frames.record(r.seq, r.time, r.level, r.step, r.stream, r.msg, r.fields);
        const target = join(dir, `${pad(run[0]!.seq)}.seg`);
        writeFileSync(`${target}.tmp`, frames.bytes, { mode: 0o600 });
        renameSync(`${target}.tmp`, target);
      }
      unlinkSync(path);
      converted++;
    } catch (err) {
      onError?.(err);
    }
  }
  return converted;
}

/** The records of an NDJSON segment, split into runs of consecutive sequence numbers. */
function runsOf(text: string): SpoolRecord[][] {
  const runs: SpoolRecord[][] = [];
  let run: SpoolRecord[] = [];
  const lines = text.split("\n");
  lines.pop(); // after the last newline: empty, or a torn line
  for (const line of lines) {
    const record = parse(line);
    if (record === undefined) continue;
    if (run.length > 0 && record.seq !== run.at(-1)!.seq + 1) {
      runs.push(run);
      run = [];
    }
    run.push(record);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

function parse(line: string): SpoolRecord | undefined {
  try {
    const value = JSON.parse(line) as SpoolRecord;
    const ok =
      typeof value === "object" &&
      value !== null &&
      Number.isSafeInteger(value.seq) &&
      value.seq > 0 &&
      typeof value.msg === "string";
    return ok ? { ...value, step: String(value.step ?? ""), time: Number(value.time) || 0 } : undefined;
  } catch {
    return undefined;
  }
}
