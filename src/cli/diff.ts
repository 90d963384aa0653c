/**
 * `runner diff [RUN_A] [RUN_B]`: what changed between two recorded runs, item by item (`+` added, `~`
 * changed, `-` removed, `=` unchanged, hidden unless `--all`; `--detail` adds a unified diff per change).
 * Default: the latest run against the previous run of the same job file(s); one id compares that run with
 * its previous one. Exit 0 when nothing changed, 1 when something did, 2 for an unknown run or a bad flag.
 */
import { loadDevConfig } from "../dev/state-dir.ts";
import { diffSnapshots, formatDiff, hasChanges } from "../records/diff.ts";
import { findRecord, listRecords, RecordError } from "../records/record-store.ts";
import type { RunRecord } from "../records/run-record.ts";
import { oneOfFlag, parseCommandArgs, reportUsageError, UsageError } from "./args.ts";
import type { CommandIo } from "./commands.ts";

/** One line for `runner help`. */
export const summary = "Compare two recorded runs: outputs, terraform resources, objects (exit 1 on changes)";

const USAGE = `usage: runner diff [RUN_A] [RUN_B] [--all] [--detail] [--state-dir DIR] [-o text|json]
  no run: the latest run against the previous run of the same job file(s)
  RUN_B only: that run against its previous run of the same job file(s)
  RUN_A RUN_B: A (before) against B (after)`;

/** Runs the command. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  try {
    const { values, positionals } = parseCommandArgs(argv, {
      allowPositionals: true,
      options: {
        all: { type: "boolean" },
        detail: { type: "boolean" },
        "state-dir": { type: "string" },
        config: { type: "string" },
        output: { type: "string", short: "o" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help === true) {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (positionals.length > 2) throw new UsageError("diff takes at most two run ids");
    const output = oneOfFlag(values.output, ["text", "json"] as const, "--output", "text");
    const { stateDir } = await loadDevConfig(values, io.env);
    const [a, b] = await pickRuns(stateDir, positionals);
    const entries = diffSnapshots(a.snapshots, b.snapshots);
    const changed = hasChanges(entries);
    if (output === "json") {
      io.stdout.write(
        `${JSON.stringify({ before: a.runId, after: b.runId, changed, entries: entries.filter((e) => values.all === true || e.mark !== "=") }, null, 2)}\n`,
      );
    } else {
      io.stdout.write(`--- run ${a.runId}\n+++ run ${b.runId}\n`);
      const text = formatDiff(entries, { all: values.all === true, detail: values.detail === true });
      io.stdout.write(text === "" ? "no changes\n" : `${text}\n`);
    }
    return changed ? 1 : 0;
  } catch (err) {
    if (err instanceof RecordError) {
      io.stderr.write(`runner diff: ${err.message}\n`);
      return 2;
    }
    return reportUsageError(err, io.stderr, "diff", USAGE);
  }
}

/** The same job files (as a set). */
function sameFiles(x: RunRecord, y: RunRecord): boolean {
  const a = [...x.jobFiles].sort();
  const b = [...y.jobFiles].sort();
  return a.length === b.length && a.every((f, i) => f === b[i]);
}

async function pickRuns(stateDir: string, ids: readonly string[]): Promise<[RunRecord, RunRecord]> {
  if (ids.length === 2) return [await findRecord(stateDir, ids[0]!), await findRecord(stateDir, ids[1]!)];
  const after = await findRecord(stateDir, ids[0] ?? "latest");
  const all = await listRecords(stateDir);
  const index = all.findIndex((r) => r.runId === after.runId);
  const earlier = (index < 0 ? all : all.slice(0, index)).filter(
    (r) => r.runId !== after.runId && sameFiles(r, after),
  );
  const before = earlier.at(-1);
  if (before === undefined)
    throw new RecordError(
      `no earlier run of the same job file(s) as ${after.runId} (${after.jobFiles.join(", ")})`,
    );
  return [before, after];
}
