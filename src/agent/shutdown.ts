/**
 * Signals → agent: the first SIGTERM or SIGINT drains (running jobs finish, up to drainTimeoutMs); a second
 * one stops at once (running jobs are aborted with reason `shutdown`, their outcomes still delivered).
 */
import type { Logger } from "pino";
import type { Agent } from "./agent.ts";

/** The signals that stop the runner. */
export const STOP_SIGNALS = ["SIGTERM", "SIGINT"] as const;

/** Installs the handlers; returns a function that removes them. */
export function installSignalHandlers(
  agent: Pick<Agent, "drain" | "shutdownNow">,
  log: Logger,
  target: Pick<NodeJS.Process, "on" | "off"> = process,
): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received += 1;
    if (received === 1) {
      log.info({ signal }, "signal received: draining (send it again to stop at once)");
      agent.drain(signal);
    } else {
      log.warn({ signal }, "second signal received: stopping at once");
      agent.shutdownNow(signal);
    }
  };
  for (const signal of STOP_SIGNALS) target.on(signal, onSignal);
  return () => {
    for (const signal of STOP_SIGNALS) target.off(signal, onSignal);
  };
}
