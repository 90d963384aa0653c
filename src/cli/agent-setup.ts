/**
 * What every agent-running command (`run`, `org`, `build`, `install`, `mng`) builds the same way from the
 * configuration: the process-wide redactor, the root logger, the control-plane client, and the agent's
 * options. One place, so a new option reaches every mode.
 */
import type { AgentOptions } from "../agent/agent-types.ts";
import type { Config } from "../config/schema.ts";
import { type ControlPlaneClient, createControlPlaneClient } from "../control-plane/client.ts";
import { createRedactor, type Redactor } from "../logs/redact.ts";
import { createLogger, type Logger } from "../telemetry/logger.ts";
import { VERSION } from "../version.ts";
import type { CommandIo } from "./commands.ts";

/** The pieces an agent-running process is built from. */
export interface ProcessParts {
  token: string;
  runnerId: string;
  /** One redactor for the whole process: the token and secret-named env values never leave it. */
  redactor: Redactor;
  log: Logger;
  client: ControlPlaneClient;
}

/** Builds the redactor, logger and client of an agent-running process (config with apiToken and runnerId). */
export async function processParts(
  config: Config,
  io: CommandIo,
  processName: string,
): Promise<ProcessParts> {
  const token = config.apiToken as string;
  const runnerId = config.runnerId as string;
  const redactor = createRedactor();
  redactor.add(token);
  redactor.addFromEnv(process.env);
  const log = await createLogger({
    level: config.logLevel,
    format: config.logFormat,
    ...(io.stdout === process.stdout ? {} : { destination: io.stdout }),
    redact: (text) => redactor.redact(text).text,
    base: { pid: process.pid, runnerId, process: processName },
  });
  const client = createControlPlaneClient({
    baseUrl: config.apiUrl,
    token,
    runnerId,
    version: VERSION,
    requestTimeoutMs: config.requestTimeoutMs,
    tlsInsecure: config.tlsInsecure,
    onRetry: (info) => log.debug({ retry: info }, "retrying a control-plane request"),
  });
  if (config.tlsInsecure)
    log.warn("TLS certificate verification is OFF (tlsInsecure): the token can be read on the path");
  return { token, runnerId, redactor, log, client };
}

/** The agent's options from the configuration; `overrides` wins (mng uses its own state dir and port). */
export function agentOptionsFrom(
  config: Config,
  parts: Pick<ProcessParts, "token" | "runnerId">,
  spec: { processType: string; groups: readonly string[] },
  overrides: Partial<AgentOptions> = {},
): AgentOptions {
  return {
    processType: spec.processType,
    groups: spec.groups,
    version: VERSION,
    stateDir: config.stateDir,
    concurrency: config.concurrency,
    groupConcurrency: config.groupConcurrency,
    jobOrder: config.jobOrder,
    longPoll: config.longPoll,
    longPollWaitMs: config.longPollWaitMs,
    pollIntervalMs: config.pollIntervalMs,
    pollMaxIntervalMs: config.pollMaxIntervalMs,
    settingsRetryMs: config.settingsRetryMs,
    drainTimeoutMs: config.drainTimeoutMs,
    killGraceMs: config.killGraceMs,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    workspaceDir: config.workspaceDir,
    logSpoolMaxBytes: config.logSpoolMaxBytes,
    journalSync: config.journalSync,
    idleGcDelayMs: config.idleGcDelayMs,
    keepWorkspaces: config.keepWorkspaces,
    admin: { host: config.adminHost, port: config.adminPort },
    heartbeatThread: {
      baseUrl: config.apiUrl,
      token: parts.token,
      runnerId: parts.runnerId,
      version: VERSION,
      tlsInsecure: config.tlsInsecure,
    },
    ...overrides,
  };
}
