/**
 * What version a runner binary says it is: `<binary> version -o json` (`{"version": …}`), or the text form
 * `runner <version> (…)`. A binary that cannot run here (wrong architecture, truncated) fails this check.
 */
import { baseEnv } from "../exec/env.ts";
import { runCommand } from "../exec/run-command.ts";

/** Default deadline of the version command: 15 s. */
export const VERSION_PROBE_TIMEOUT_MS = 15_000;

/** Pulls the version out of `runner version` output (JSON or text); undefined when absent. */
export function parseVersionOutput(stdout: string): string | undefined {
  const text = stdout.trim();
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null) {
      const version = (parsed as { version?: unknown }).version;
      if (typeof version === "string" && version !== "") return version;
    }
  } catch {
    // the text form
  }
  return /^runner\s+(\S+)/m.exec(text)?.[1];
}

/** Runs `<binary> version -o json`; resolves with the version, throws naming what went wrong. */
export async function readBinaryVersion(
  binary: string,
  options: { signal?: AbortSignal; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  const result = await runCommand({
    file: binary,
    args: ["version", "-o", "json"],
    env: baseEnv(options.env ?? process.env),
    captureStdout: true,
    timeoutMs: options.timeoutMs ?? VERSION_PROBE_TIMEOUT_MS,
    killGraceMs: 1_000,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
  if (result.failed) {
    const tail = result.stderrTail.length > 0 ? `: ${result.stderrTail.join(" | ")}` : "";
    throw new Error(
      `${binary} version failed (${result.timedOut ? "timed out" : `exit ${result.exitCode ?? result.signal}`})${tail}`,
    );
  }
  const version = parseVersionOutput(result.stdout ?? "");
  if (version === undefined) throw new Error(`${binary} version printed no version`);
  return version;
}
