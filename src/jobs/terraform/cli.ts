/**
 * Running terraform for one job: every command through runCommand (argv only, its own process group, SIGINT
 * on cancel so terraform stops gracefully and releases its lock, SIGKILL after the grace), its `-json` event
 * stream turned into job log entries (progress.ts), and a failure message built from terraform's own error
 * diagnostics. Remembers the command in flight so a graceful shutdown can wait for it to end.
 */
import { runCommand } from "../../exec/run-command.ts";
import type { JobLog } from "../handler.ts";
import { type Diagnostic, describeEvent, describeFailure, parseEvent, toDiagnostic } from "./progress.ts";

/** How terraform is run for one job. */
export interface TerraformCliOptions {
  /** The terraform executable: a name looked up on `env.PATH`, or a path. */
  file: string;
  /** The module directory. */
  cwd: string;
  /** The complete environment (see env.ts). */
  env: Readonly<Record<string, string>>;
  log: JobLog;
  /** Milliseconds between SIGINT and SIGKILL when a command is cancelled. */
  killGraceMs: number;
}

/** Options of one command. */
export interface TerraformRunOptions {
  signal: AbortSignal;
  /** Return stdout (for `show -json` and `output -json`); stdout is then not read as events. */
  capture?: boolean;
}

/** Runs terraform commands for one job. */
export interface TerraformCli {
  /** Runs `terraform <args>`; resolves with captured stdout ("" without `capture`), throws naming the cause. */
  run(args: readonly string[], options: TerraformRunOptions): Promise<string>;
  /** Resolves once no command is running (never rejects). */
  idle(): Promise<void>;
}

/** Creates the runner of one job's terraform commands. */
export function createTerraformCli(options: TerraformCliOptions): TerraformCli {
  const { log } = options;
  let current: Promise<unknown> | undefined;
  return {
    async run(args, runOptions) {
      const sub = args[0] ?? "";
      const capture = runOptions.capture ?? false;
      const diagnostics: Diagnostic[] = [];
      const errored: string[] = [];
      const onLine = (line: string, stream: "stdout" | "stderr"): void => {
        if (capture && stream === "stdout") return;
        const event = parseEvent(line);
        if (event === undefined) {
          if (line.trim() !== "") log.line(line, stream);
          return;
        }
        const diagnostic = toDiagnostic(event);
        if (diagnostic !== undefined) diagnostics.push(diagnostic);
        const resource = event.hook?.resource?.addr;
        if (event.type === "apply_errored" && resource !== undefined) errored.push(resource);
        const entry = describeEvent(event);
        log[entry.level](entry.msg, entry.fields);
      };
      log.debug("running terraform", { command: sub });
      const running = runCommand({
        file: options.file,
        args,
        cwd: options.cwd,
        env: options.env,
        signal: runOptions.signal,
        cancelSignal: "SIGINT",
        killGraceMs: options.killGraceMs,
        onLine,
        captureStdout: capture,
      });
      current = running;
      let result: Awaited<typeof running>;
      try {
        result = await running;
      } finally {
        if (current === running) current = undefined;
      }
      if (result.isCanceled) {
        throw new Error(`terraform ${sub} was interrupted because the job was aborted`, {
          cause: result.cancelReason,
        });
      }
      if (result.failed) {
        const how =
          result.signal === undefined ? `exit code ${result.exitCode}` : `killed by ${result.signal}`;
        const why = describeFailure(diagnostics, errored) ?? (result.stderrTail.join(" ").trim() || how);
        throw new Error(`terraform ${sub} failed: ${why}`);
      }
      return result.stdout ?? "";
    },
    async idle() {
      await current?.catch(() => undefined);
    },
  };
}
