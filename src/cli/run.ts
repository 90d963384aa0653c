/**
 * `runner run | org | build | install`: the job-running commands (PROTOCOL.md §1.9). Each loads the
 * configuration (exit 2 naming the field when invalid or when apiToken/runnerId are missing), builds the
 * client and the agent, installs the signal handlers (first SIGTERM/SIGINT drains, a second stops at once)
 * and resolves with the agent's exit code: 0 after a drain, 2 when the credentials are refused or the state
 * directory/admin port are unusable, 1 when the settings never arrived.
 */

import { createAgent } from "../agent/agent.ts";
import { PROCESS_MODES, type ProcessMode } from "../agent/process-modes.ts";
import { AgentStartupError } from "../agent/settings.ts";
import { installSignalHandlers } from "../agent/shutdown.ts";
import { CONFIG_FLAG_OPTIONS, configFlagsFromValues, loadConfig, requireConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { createHandlerRegistry } from "../jobs/registry.ts";
import { VERSION } from "../version.ts";
import { agentOptionsFrom, processParts } from "./agent-setup.ts";
import { parseCommandArgs, reportUsageError } from "./args.ts";
import type { CommandIo, CommandModule } from "./commands.ts";

function usage(mode: ProcessMode): string {
  return `usage: runner ${mode} [--api-url URL] [--runner-id ID] [--<option> VALUE ...]
${PROCESS_MODES[mode].summary}.
Every option also has an env name (RUNNER_API_URL, RUNNER_API_TOKEN, RUNNER_ID, ...); see docs/configuration.md.
SIGTERM/SIGINT drains (running jobs finish); a second one stops at once.`;
}

async function loadRunConfig(mode: ProcessMode, argv: string[], io: CommandIo): Promise<Config | number> {
  try {
    const { values } = parseCommandArgs(argv, {
      options: { ...CONFIG_FLAG_OPTIONS, help: { type: "boolean", short: "h" } },
    });
    if (values.help === true) {
      io.stdout.write(`${usage(mode)}\n`);
      return 0;
    }
    const { config } = await loadConfig({
      flags: configFlagsFromValues(values),
      env: io.env,
      cwd: process.cwd(),
    });
    requireConfig(config, ["apiToken", "runnerId"]);
    return config;
  } catch (err) {
    return reportUsageError(err, io.stderr, mode, usage(mode));
  }
}

/** Runs one job-running mode until it drains; resolves to the exit code. */
export async function runMode(mode: ProcessMode, argv: string[], io: CommandIo): Promise<number> {
  const loaded = await loadRunConfig(mode, argv, io);
  if (typeof loaded === "number") return loaded;
  const config = loaded;
  const spec = PROCESS_MODES[mode];
  const parts = await processParts(config, io, mode);
  const { token, runnerId, redactor, log, client } = parts;
  const agent = createAgent(agentOptionsFrom(config, parts, spec), {
    client,
    log,
    registry: createHandlerRegistry({}, { apiToken: token, redactor }),
    redactor,
    // OTLP per the OTEL_* variables; the control plane's routes when the settings enable metrics. The
    // OpenTelemetry SDK is loaded here, once the settings are known, off the way to the first poll.
    telemetry: async (settings, sources) => {
      const { startTelemetry, telemetrySwitches } = await import("../telemetry/otel.ts");
      return startTelemetry({
        runnerId,
        version: VERSION,
        resourceAttributes: settings.metadata,
        env: io.env,
        controlPlane: {
          baseUrl: config.apiUrl,
          token,
          runnerId,
          tlsInsecure: config.tlsInsecure,
          ...telemetrySwitches(settings),
        },
        redactor,
        heartbeatWorstGapMs: sources.heartbeatWorstGapMs,
        log,
      });
    },
  });
  const uninstall = installSignalHandlers(agent, log);
  try {
    await agent.start();
  } catch (err) {
    if (!(err instanceof AgentStartupError)) log.error({ err }, "the runner could not start");
    else log.error({ code: err.code, err: err.cause }, err.message);
    io.stderr.write(`runner ${mode}: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  const exit = await agent.done;
  uninstall();
  await client.close();
  log.info({ exitCode: exit.exitCode, reason: exit.reason }, "runner stopped");
  return exit.exitCode;
}

/** `runner run`: one line for `runner help`. */
export const summary = PROCESS_MODES.run.summary;

/** `runner run`. */
export function run(argv: string[], io: CommandIo): Promise<number> {
  return runMode("run", argv, io);
}

function modeCommand(mode: ProcessMode): CommandModule {
  return { summary: PROCESS_MODES[mode].summary, run: (argv, io) => runMode(mode, argv, io) };
}

/** `runner org`. */
export const org: CommandModule = modeCommand("org");
/** `runner build`. */
export const build: CommandModule = modeCommand("build");
/** `runner install`. */
export const install: CommandModule = modeCommand("install");
