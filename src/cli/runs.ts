/**
 * `runner runs list` and `runner runs show <id> [--html FILE]`: the records `run-local` saved in
 * `<state-dir>/runs/`. `show` prints a step timeline; `--html` writes a self-contained page instead.
 * Exit 0, or 2 for an unknown run or a bad flag.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { loadDevConfig } from "../dev/state-dir.ts";
import { formatMs, formatTable, truncate } from "../dev/summary.ts";
import { renderRunHtml } from "../records/html.ts";
import { findRecord, listRecords, RecordError, recordPath, runsDir } from "../records/record-store.ts";
import { formatTimeline } from "../records/timeline.ts";
import { oneOfFlag, parseCommandArgs, reportUsageError, UsageError } from "./args.ts";
import type { CommandIo } from "./commands.ts";

/** One line for `runner help`. */
export const summary = "List the recorded run-local runs, or show one as a timeline (--html for a page)";

const USAGE = `usage: runner runs list [--state-dir DIR] [-o text|json]
       runner runs show <RUN_ID|latest> [--html FILE] [--state-dir DIR] [-o text|json]`;

/** Runs the command. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  try {
    const { values, positionals } = parseCommandArgs(argv, {
      allowPositionals: true,
      options: {
        "state-dir": { type: "string" },
        config: { type: "string" },
        html: { type: "string" },
        output: { type: "string", short: "o" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help === true) {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const output = oneOfFlag(values.output, ["text", "json"] as const, "--output", "text");
    const [sub, ...rest] = positionals;
    const { stateDir } = await loadDevConfig(values, io.env);
    if (sub === "list") {
      if (rest.length > 0) throw new UsageError(`runs list takes no argument, got "${rest[0]}"`);
      if (values.html !== undefined) throw new UsageError("--html goes with runs show");
      return await list(stateDir, output, io);
    }
    if (sub === "show") {
      if (rest.length !== 1) throw new UsageError("runs show takes one run id (or latest)");
      return await show(stateDir, rest[0]!, values.html, output, io);
    }
    throw new UsageError(
      sub === undefined ? "give a subcommand: list or show" : `unknown subcommand "${sub}"`,
    );
  } catch (err) {
    if (err instanceof RecordError) {
      io.stderr.write(`runner runs: ${err.message}\n`);
      return 2;
    }
    return reportUsageError(err, io.stderr, "runs", USAGE);
  }
}

async function list(stateDir: string, output: "text" | "json", io: CommandIo): Promise<number> {
  const records = await listRecords(stateDir);
  if (output === "json") {
    const rows = records.map((r) => ({
      runId: r.runId,
      status: r.status,
      exitCode: r.exitCode,
      startedAt: r.startedAt,
      durationMs: r.durationMs,
      jobs: r.jobs.map((j) => ({ name: j.name, status: j.status })),
      jobFiles: r.jobFiles,
      record: recordPath(stateDir, r.runId),
    }));
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (records.length === 0) {
    io.stdout.write(`no runs recorded in ${runsDir(stateDir)}\n`);
    return 0;
  }
  const rows = records.map((r) => [
    r.runId,
    r.startedAt.replace("T", " ").slice(0, 19),
    r.status,
    formatMs(r.durationMs),
    `${r.jobs.filter((j) => j.status === "finished").length}/${r.jobs.length}`,
    truncate(r.jobFiles.map((f) => path.relative(process.cwd(), f) || f).join(", "), 60),
  ]);
  io.stdout.write(
    `${formatTable(["RUN", "STARTED (UTC)", "STATUS", "DURATION", "FINISHED", "JOB FILES"], rows)}\n`,
  );
  return 0;
}

async function show(
  stateDir: string,
  ref: string,
  html: string | undefined,
  output: "text" | "json",
  io: CommandIo,
): Promise<number> {
  const record = await findRecord(stateDir, ref);
  if (html !== undefined) {
    await writeFile(html, renderRunHtml(record), { mode: 0o600 });
    io.stdout.write(`wrote ${html}\n`);
    return 0;
  }
  if (output === "json") io.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
  else io.stdout.write(`${formatTimeline(record)}\n`);
  return 0;
}
