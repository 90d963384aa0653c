/**
 * `runner mng`: the management process of a VM runner (PROTOCOL.md §1.9, process type "mng"). It runs the
 * agent with the `management` group only (mng-shut-down, mng-runner-restart, mng-runner-update-version,
 * mng-vm-shut-down) and, beside it, the reconcile loop that keeps the runner's systemd unit in line with
 * service.yml (at start and every 15 s). It runs as root, under its own unit (docs/mng.md). Its journal lives
 * in `<stateDir>/mng` and its admin server on RUNNER_MNG_ADMIN_PORT (5001), apart from the runner service's.
 * Exit codes as `runner run`: 0 after a drain (a signal or mng-shut-down), 1 when the settings never
 * arrived, 2 for configuration problems.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { createAgent } from "../agent/agent.ts";
import { PROCESS_MODES } from "../agent/process-modes.ts";
import { AgentStartupError } from "../agent/settings.ts";
import { installSignalHandlers } from "../agent/shutdown.ts";
import { CONFIG_FLAG_OPTIONS, configFlagsFromValues, loadConfig, requireConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { managementDeps } from "../jobs/management/deps.ts";
import { createMngRunnerRestartHandler } from "../jobs/management/restart.ts";
import { createMngShutDownHandler } from "../jobs/management/shut-down.ts";
import { createMngUpdateVersionHandler } from "../jobs/management/update-version.ts";
import { createMngVmShutDownHandler } from "../jobs/management/vm-shut-down.ts";
import { createHandlerRegistry } from "../jobs/registry.ts";
import { type MngOptions, mngOptionsFromEnv } from "../mng/options.ts";
import { startReconcileLoop } from "../mng/reconcile.ts";
import { createServiceGate } from "../mng/service-gate.ts";
import { agentOptionsFrom, processParts } from "./agent-setup.ts";
import { parseCommandArgs, reportUsageError } from "./args.ts";
import type { CommandIo } from "./commands.ts";

/** One line for `runner help`. */
export const summary = PROCESS_MODES.mng.summary;

const USAGE = `usage: runner mng [--api-url URL] [--runner-id ID] [--<option> VALUE ...]
${PROCESS_MODES.mng.summary}. Runs as root beside the runner service (docs/mng.md).
Besides the runner options (docs/configuration.md): RUNNER_SERVICE_FILE (/etc/runner/service.yml),
RUNNER_UNIT_PATH (/etc/systemd/system/runner.service), RUNNER_SYSTEMCTL (systemctl),
RUNNER_RECONCILE_INTERVAL (15s), RUNNER_UPDATE_HEALTH_TIMEOUT (2m), RUNNER_UPDATE_SETTLE (10s),
RUNNER_UPDATE_READY_URL (http://127.0.0.1:5000/readyz, "off"), RUNNER_MNG_ADMIN_PORT (5001),
RUNNER_CLOUD (aws|azure, default detected).`;

async function load(argv: string[], io: CommandIo): Promise<{ config: Config; mng: MngOptions } | number> {
  try {
    const { values } = parseCommandArgs(argv, {
      options: { ...CONFIG_FLAG_OPTIONS, help: { type: "boolean", short: "h" } },
    });
    if (values.help === true) {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const { config } = await loadConfig({
      flags: configFlagsFromValues(values),
      env: io.env,
      cwd: process.cwd(),
    });
    requireConfig(config, ["apiToken", "runnerId"]);
    return { config, mng: mngOptionsFromEnv(io.env) };
  } catch (err) {
    return reportUsageError(err, io.stderr, "mng", USAGE);
  }
}

/** Runs `runner mng` until it drains; resolves to the exit code. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  const loaded = await load(argv, io);
  if (typeof loaded === "number") return loaded;
  const { config, mng } = loaded;
  const spec = PROCESS_MODES.mng;
  const parts = await processParts(config, io, "mng");
  const { token, redactor, log, client } = parts;
  const stateDir = path.join(config.stateDir, "mng");
  await mkdir(stateDir, { recursive: true, mode: 0o700 });

  // One gate shared by the reconcile loop and the management handlers.
  const gate = createServiceGate();
  const deps = managementDeps(mng, { gate, log, env: io.env, killGraceMs: config.killGraceMs });
  const registry = createHandlerRegistry(
    {
      "mng-shut-down": () => createMngShutDownHandler(deps),
      "mng-runner-restart": () => createMngRunnerRestartHandler(deps),
      "mng-runner-update-version": () => createMngUpdateVersionHandler(deps),
      "mng-vm-shut-down": () => createMngVmShutDownHandler(deps),
    },
    { apiToken: token, redactor },
  );
  const agent = createAgent(
    agentOptionsFrom(config, parts, spec, {
      stateDir,
      concurrency: 1,
      groupConcurrency: {},
      admin: { host: config.adminHost, port: mng.adminPort },
    }),
    { client, log, registry },
  );
  // The unit is kept even while the control plane is unreachable: the loop starts before the agent.
  const reconcile = startReconcileLoop(
    { systemctl: deps.systemctl, gate, target: deps.target, stateDir, log },
    { intervalMs: mng.reconcileIntervalMs },
  );
  log.info(
    { serviceFile: mng.serviceFile, unitPath: mng.unitPath, intervalMs: mng.reconcileIntervalMs },
    "reconciling the runner service",
  );
  const uninstall = installSignalHandlers(agent, log);
  try {
    await agent.start();
  } catch (err) {
    if (!(err instanceof AgentStartupError)) log.error({ err }, "runner mng could not start");
    else log.error({ code: err.code, err: err.cause }, err.message);
    io.stderr.write(`runner mng: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  const exit = await agent.done;
  uninstall();
  await reconcile.stop();
  await client.close();
  log.info({ exitCode: exit.exitCode, reason: exit.reason }, "runner mng stopped");
  return exit.exitCode;
}
