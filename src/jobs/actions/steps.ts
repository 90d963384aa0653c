/**
 * Running one action step: fetch its git source (if any) into the workspace, turn inline contents into a
 * script file (0700) or a command into argv (shell-words.ts: no shell), run it with runCommand in the source
 * directory (or the workspace root), stream its output, and read its outputs file. Failures are StepErrors
 * whose `status` is what the step is reported as (`error`, `timed-out`, `cancelled`).
 */
import { constants } from "node:fs";
import { access, chmod, lstat, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { nsToMs } from "../../control-plane/schemas.ts";
import { CommandError } from "../../exec/command-error.ts";
import { runCommand } from "../../exec/run-command.ts";
import { resolveSource } from "../../sources/resolve.ts";
import { assertRealPathInsideSync, resolveInside } from "../../workspace/safe-path.ts";
import type { JobLog } from "../handler.ts";
import { outputsPath } from "./env.ts";
import { MAX_OUTPUTS_FILE_BYTES, parseStepOutputs } from "./outputs.ts";
import type { ActionStepPlan } from "./plan.ts";
import { splitCommand } from "./shell-words.ts";

/** How a failed step is reported. */
export type FailedStepStatus = "error" | "timed-out" | "cancelled";

/** A step did not succeed; `message` says why (without the step's name, which the caller adds). */
export class StepError extends Error {
  override readonly name = "StepError";
  readonly status: FailedStepStatus;
  constructor(status: FailedStepStatus, message: string, cause?: unknown) {
    super(message, { cause });
    this.status = status;
  }
}

/** What runStep needs. */
export interface RunStepInput {
  step: ActionStepPlan;
  index: number;
  /** The job workspace (NUON_ACTIONS_ROOT). */
  root: string;
  /** The step's complete environment. */
  env: Record<string, string>;
  signal: AbortSignal;
  killGraceMs: number;
  /** Already redacting. */
  log: JobLog;
}

/** Runs one step and returns its outputs; throws StepError. */
export async function runStep(input: RunStepInput): Promise<Record<string, unknown>> {
  const { step, index, root, log } = input;
  let cwd = root;
  if (step.git_source) {
    try {
      const source = await resolveSource(
        { git: step.git_source },
        { workspaceDir: root, name: path.join("sources", String(index)), signal: input.signal, log },
      );
      cwd = source.dir;
    } catch (err) {
      throw new StepError(input.signal.aborted ? "cancelled" : "error", (err as Error).message, err);
    }
  }

  const outputsFile = outputsPath(root, index);
  await rm(outputsFile, { force: true });
  await writeFile(outputsFile, "", { mode: 0o600 });

  const { file, args } = await commandOf(input, cwd);
  const timeoutMs = step.timeout ? Math.max(1, nsToMs(step.timeout)) : undefined;
  let result: Awaited<ReturnType<typeof runCommand>>;
  try {
    result = await runCommand({
      file,
      args,
      cwd,
      env: input.env,
      signal: input.signal,
      killGraceMs: input.killGraceMs,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      onLine: (line, stream) => log.line(line, stream),
    });
  } catch (err) {
    if (err instanceof CommandError) throw new StepError("error", err.message, err);
    throw err;
  }
  if (result.timedOut) throw new StepError("timed-out", `timed out after ${timeoutMs} ms and was stopped`);
  if (result.isCanceled) throw new StepError("cancelled", "was stopped because the job was aborted");
  if (result.failed) {
    const how =
      result.signal === undefined ? `exited with code ${result.exitCode}` : `was killed by ${result.signal}`;
    const tail = result.stderrTail.slice(-3);
    throw new StepError(
      "error",
      `${path.basename(file)} ${how}${tail.length > 0 ? `; last stderr: ${tail.join(" | ")}` : ""}`,
    );
  }
  return readOutputs(root, outputsFile);
}

/** The executable and arguments of a step. */
async function commandOf(input: RunStepInput, cwd: string): Promise<{ file: string; args: string[] }> {
  const { step, index, root } = input;
  const contents = step.interpolated_inline_contents ?? "";
  if (contents.trim() !== "") {
    const script = resolveInside(root, `.inline-contents-step-${index}`);
    await rm(script, { force: true });
    await writeFile(script, contents, { mode: 0o700 });
    await chmod(script, 0o700);
    // A shebang picks the interpreter; anything else is a bash script.
    return contents.startsWith("#!") ? { file: script, args: [] } : { file: "bash", args: [script] };
  }
  const command = step.interpolated_command ?? "";
  if (command.trim() === "") throw new StepError("error", "has neither inline contents nor a command");
  let words: string[];
  try {
    words = splitCommand(command);
  } catch (err) {
    throw new StepError("error", `has a command that cannot be run: ${(err as Error).message}`, err);
  }
  const [first, ...args] = words as [string, ...string[]];
  return { file: await resolveExecutable(first, cwd, root, step.git_source != null), args };
}

/**
 * Where the first word of a command points (as Nuon's runner does): a path with a `/` is a script relative to
 * the step's directory and must exist, stay inside the workspace and be executable; a bare name is a script of
 * the step's git source when the source has an executable file of that name, else a program on PATH.
 */
async function resolveExecutable(
  first: string,
  cwd: string,
  root: string,
  inSource: boolean,
): Promise<string> {
  if (path.isAbsolute(first)) return first;
  if (first.includes("/")) {
    const candidate = path.resolve(cwd, first);
    try {
      assertRealPathInsideSync(root, candidate);
    } catch (err) {
      throw new StepError("error", `refers to ${first}, which is outside the workspace`, err);
    }
    if (!(await isExecutableFile(candidate))) {
      throw new StepError("error", `refers to ${first}, which is not an executable file in ${cwd}`);
    }
    return candidate;
  }
  if (inSource) {
    const candidate = path.join(cwd, first);
    if ((await isExecutableFile(candidate)) && insideOrFalse(root, candidate)) return candidate;
  }
  return first;
}

async function isExecutableFile(p: string): Promise<boolean> {
  try {
    if (!(await stat(p)).isFile()) return false;
    await access(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function insideOrFalse(root: string, p: string): boolean {
  try {
    assertRealPathInsideSync(root, p);
    return true;
  } catch {
    return false;
  }
}

/** Reads and parses the outputs file; a link or special file in its place is refused (it could expose files). */
async function readOutputs(root: string, file: string): Promise<Record<string, unknown>> {
  const stats = await lstat(file).catch(() => undefined);
  if (stats === undefined) return {};
  if (!stats.isFile())
    throw new StepError("error", `replaced its outputs file ${file} with something that is not a file`);
  if (stats.size > MAX_OUTPUTS_FILE_BYTES) {
    throw new StepError(
      "error",
      `wrote ${stats.size} bytes of outputs, more than the ${MAX_OUTPUTS_FILE_BYTES} allowed`,
    );
  }
  assertRealPathInsideSync(root, file);
  try {
    return parseStepOutputs(await readFile(file, "utf8"));
  } catch (err) {
    throw new StepError("error", `wrote invalid outputs: ${(err as Error).message}`, err);
  }
}
