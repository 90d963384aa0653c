/**
 * `runner run-local JOB_FILE...`: runs job files on this machine through the real agent against the
 * embedded control plane (or an existing one with `--api-url`), with a live view, a summary, a run record
 * and optional NDJSON events (docs/run-local.md). Exit 0 when every job finished, 1 when one did not (or the
 * run timed out), 2 on bad input, 130 when interrupted by SIGINT/SIGTERM (jobs cancelled, record written).
 */
import { parseDurationMs } from "../config/duration.ts";
import { normalizeLogLevel } from "../config/schema.ts";
import { RUN_LOCAL_DEFAULTS, runLocalSession } from "../dev/session.ts";
import { loadDevConfig } from "../dev/state-dir.ts";
import { oneOfFlag, parseCommandArgs, reportUsageError, UsageError } from "./args.ts";
import type { CommandIo } from "./commands.ts";

/** One line for `runner help`. */
export const summary = "Run job files locally: embedded control plane + the real agent, with a live view";

const USAGE = `usage: runner run-local [options] JOB_FILE...

  --fail-fast            cancel the remaining jobs at the first failure (default: the rest still run)
  --timeout DURATION     bound the whole run, e.g. 90s, 10m (default 30m)
  -o, --output FORMAT    text (live view + summary) or json (the result only, on stdout)
  --events FILE          write every event of the run to FILE as NDJSON
  --state-dir DIR        run records, logs and kept terraform state (default: the configured stateDir)
  --run-id ID            the run's id (default YYYYMMDD-HHMMSS-xxxx)
  --no-record            do not write <state-dir>/runs/<run-id>.json
  --log-level LEVEL      trace|debug|info|warn|error (default info)
  --log-file FILE        the agent's log (default <state-dir>/runs/<run-id>.log)
  --concurrency N        jobs run at once per job group (default 4)
  --api-url URL          use an existing control plane (with the admin API) instead of the embedded one
  --admin-token TOKEN    its admin token (default RUNNER_ADMIN_TOKEN)
  --config FILE          the runner configuration file (for stateDir)

Exit codes: 0 every job finished, 1 a job failed, timed out or was cancelled, 2 bad input, 130 interrupted.`;

/** Runs the command. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  let settings: Parameters<typeof runLocalSession>[0];
  try {
    const { values, positionals } = parseCommandArgs(argv, {
      allowPositionals: true,
      options: {
        "fail-fast": { type: "boolean" },
        timeout: { type: "string" },
        output: { type: "string", short: "o" },
        events: { type: "string" },
        "state-dir": { type: "string" },
        "run-id": { type: "string" },
        "no-record": { type: "boolean" },
        "log-level": { type: "string" },
        "log-file": { type: "string" },
        concurrency: { type: "string" },
        "api-url": { type: "string" },
        "admin-token": { type: "string" },
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help === true) {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (positionals.length === 0) throw new UsageError("give at least one job file (YAML or JSON)");
    const timeoutMs =
      values.timeout === undefined ? RUN_LOCAL_DEFAULTS.timeoutMs : parseDurationMs(values.timeout);
    if (timeoutMs === undefined || timeoutMs <= 0)
      throw new UsageError(`option --timeout must be a duration such as 90s or 10m, got "${values.timeout}"`);
    const concurrency =
      values.concurrency === undefined ? RUN_LOCAL_DEFAULTS.concurrency : Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
      throw new UsageError(
        `option --concurrency must be an integer from 1 to 64, got "${values.concurrency}"`,
      );
    const logLevel = normalizeLogLevel(values["log-level"] ?? RUN_LOCAL_DEFAULTS.logLevel);
    if (logLevel === undefined)
      throw new UsageError(`option --log-level: unknown level "${values["log-level"]}"`);
    const output = oneOfFlag(values.output, ["text", "json"] as const, "--output", "text");
    const adminToken = values["admin-token"] ?? (io.env.RUNNER_ADMIN_TOKEN || undefined);
    if (values["api-url"] !== undefined) {
      if (!/^https?:\/\/[^/]/.test(values["api-url"]))
        throw new UsageError(`option --api-url must be an http(s) URL, got "${values["api-url"]}"`);
      if (adminToken === undefined)
        throw new UsageError(
          "--api-url needs the control plane's admin token: --admin-token or RUNNER_ADMIN_TOKEN",
        );
    }
    const config = await loadDevConfig(values, io.env);
    settings = {
      jobFiles: positionals,
      cwd: process.cwd(),
      stateDir: config.stateDir,
      failFast: values["fail-fast"] === true,
      timeoutMs,
      concurrency,
      logLevel,
      record: values["no-record"] !== true,
      output,
      ...(values["log-file"] !== undefined ? { logFile: values["log-file"] } : {}),
      ...(values["run-id"] !== undefined ? { runId: values["run-id"] } : {}),
      ...(values.events !== undefined ? { eventsFile: values.events } : {}),
      ...(values["api-url"] !== undefined ? { apiUrl: values["api-url"] } : {}),
      ...(adminToken !== undefined ? { adminToken } : {}),
    };
  } catch (err) {
    return reportUsageError(err, io.stderr, "run-local", USAGE);
  }

  const interrupt = new AbortController();
  const urgent = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!interrupt.signal.aborted) {
      io.stderr.write(`\nrunner run-local: ${signal}: cancelling the jobs (send it again to stop at once)\n`);
      interrupt.abort(`interrupted by ${signal}`);
    } else urgent.abort(`second ${signal}`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await runLocalSession(settings, { ...io, signal: interrupt.signal, urgent: urgent.signal });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
