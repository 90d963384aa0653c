/**
 * Keeps the runner's systemd unit in line with service.yml (Nuon PR #2324: the unit used to be written once
 * and never updated). Each pass, at start and every 15 s:
 *
 * 1. render the unit from service.yml (src/service/unit.ts) and compare it with the installed file;
 * 2. when they differ: mark "apply pending" in the state dir, replace the unit atomically, `daemon-reload`,
 *    `enable` it if it did not exist, then `restart` the service if it runs (systemd sends SIGTERM to the
 *    runner alone, KillMode=mixed, and waits TimeoutStopSec while it drains) or `start` it if not; clear the
 *    mark. A crash anywhere in between leaves the mark, and the next pass finishes the job, so a changed unit
 *    is never left on disk but not applied;
 * 3. when they match: `start` the service if it is inactive or failed. Nothing else: an unchanged unit never
 *    restarts a runner.
 *
 * A service.yml that does not parse is logged and the installed unit left alone. Each pass holds the service
 * gate; once mng-shut-down closed it, passes do nothing.
 */
import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { readTextIfExists, writeFileAtomic } from "../fs/atomic-file.ts";
import { renderUnit } from "../service/unit.ts";
import type { ServiceGate } from "./service-gate.ts";
import { loadServiceTarget, type ServiceTargetOptions } from "./service-target.ts";
import { isRunningState, type Systemctl } from "./systemctl.ts";

/** Default pause between reconcile passes: 15 s (Nuon's mng monitor interval). */
export const DEFAULT_RECONCILE_INTERVAL_MS = 15_000;
/** The mark left in the state directory while a written unit is not yet applied. */
export const APPLY_PENDING_FILE = "unit-apply-pending";

/** What reconcile works with. */
export interface ReconcileDeps {
  systemctl: Systemctl;
  gate: ServiceGate;
  /** Where service.yml and the unit are. */
  target: ServiceTargetOptions;
  /** The management process's own state directory (holds the apply-pending mark). */
  stateDir: string;
  log: Logger;
}

/** What one pass did. */
export type ReconcileOutcome =
  | { kind: "skipped"; reason: string }
  | {
      kind: "done";
      unit: string;
      /** The unit file was (re)written this pass. */
      written: boolean;
      /** What was done to the service. */
      action: "none" | "started" | "restarted";
    };

/** One reconcile pass (see the module comment). Throws when systemctl or the file system fails. */
export async function reconcileOnce(deps: ReconcileDeps, signal?: AbortSignal): Promise<ReconcileOutcome> {
  if (deps.gate.closedReason !== undefined) return { kind: "skipped", reason: deps.gate.closedReason };
  return deps.gate.exclusive(async (): Promise<ReconcileOutcome> => {
    if (deps.gate.closedReason !== undefined) return { kind: "skipped", reason: deps.gate.closedReason };
    if (signal?.aborted) return { kind: "skipped", reason: "the management process is stopping" };
    const { systemctl, log } = deps;
    const opts = signal !== undefined ? { signal } : {};
    let target: Awaited<ReturnType<typeof loadServiceTarget>>;
    try {
      target = await loadServiceTarget(deps.target);
    } catch (err) {
      log.error({ err }, "the service definition is invalid; the installed unit is left as it is");
      return { kind: "skipped", reason: (err as Error).message };
    }
    const rendered = renderUnit(target.config);
    const installed = await readTextIfExists(target.unitPath);
    const markFile = path.join(deps.stateDir, APPLY_PENDING_FILE);
    let pending = (await readTextIfExists(markFile)) !== undefined;
    const written = installed !== rendered;
    if (written) {
      const sha = createHash("sha256").update(rendered).digest("hex");
      await writeFileAtomic(markFile, `${target.unit} ${sha}\n`, 0o600);
      await writeFileAtomic(target.unitPath, rendered, 0o644);
      pending = true;
      log.info(
        { unit: target.unit, unitPath: target.unitPath, created: installed === undefined },
        "the runner unit changed; applying it",
      );
    }
    if (pending) {
      await systemctl.daemonReload(opts);
      if (installed === undefined) await systemctl.enable(target.unit, opts);
      const state = await systemctl.isActive(target.unit, opts);
      let action: "started" | "restarted";
      if (isRunningState(state)) {
        log.info({ unit: target.unit, state }, "restarting the runner on its new unit (it drains first)");
        await systemctl.restart(target.unit, opts);
        action = "restarted";
      } else {
        await systemctl.start(target.unit, opts);
        action = "started";
      }
      await rm(markFile, { force: true });
      log.info({ unit: target.unit, action }, "the runner unit is applied");
      return { kind: "done", unit: target.unit, written, action };
    }
    const state = await systemctl.isActive(target.unit, opts);
    if (state === "inactive" || state === "failed" || state === "unknown") {
      log.warn({ unit: target.unit, state }, "the runner service is not running; starting it");
      await systemctl.start(target.unit, opts);
      return { kind: "done", unit: target.unit, written: false, action: "started" };
    }
    return { kind: "done", unit: target.unit, written: false, action: "none" };
  });
}

/** A running reconcile loop. */
export interface ReconcileLoop {
  /** Stops after the pass in progress (aborting its systemctl call); resolves once the loop ended. */
  stop(): Promise<void>;
}

/** Runs a pass now, then one `intervalMs` after each pass ends, until stopped. Failures are logged. */
export function startReconcileLoop(
  deps: ReconcileDeps,
  options: { intervalMs?: number; onPass?: (outcome: ReconcileOutcome | Error) => void } = {},
): ReconcileLoop {
  const intervalMs = options.intervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS;
  const controller = new AbortController();
  const { signal } = controller;
  let wake: (() => void) | undefined;
  const done = (async () => {
    while (!signal.aborted) {
      try {
        const outcome = await reconcileOnce(deps, signal);
        options.onPass?.(outcome);
      } catch (err) {
        if (!signal.aborted) deps.log.error({ err }, "reconciling the runner service failed; retrying later");
        options.onPass?.(err as Error);
      }
      if (signal.aborted) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  return {
    async stop() {
      controller.abort(new Error("the reconcile loop stopped"));
      wake?.();
      await done;
    },
  };
}
