/**
 * The process modes of the job-running commands (PROTOCOL.md §1.9): which job groups each one serves and
 * the process type it reports in heartbeats and process registration. Health-check jobs arrive in the
 * operations group. Management (`mng`) is a separate command with its own loop.
 */
import type { ProcessType } from "../control-plane/schemas.ts";

/** A job-running command. */
export type ProcessMode = "run" | "org" | "build" | "install" | "mng";

/** What a mode runs. */
export interface ProcessModeSpec {
  /** Sent as `process` in heartbeats and as the registered process type. */
  processType: ProcessType;
  /** One job loop per group. */
  groups: readonly string[];
  /** One line for `runner help`. */
  summary: string;
}

const BUILD_GROUPS = ["operations", "sync", "build"] as const;
const INSTALL_GROUPS = ["operations", "sync", "sandbox", "deploy", "actions"] as const;

/** Every mode; `run` serves every group but management (and adds `runner`, whose jobs would otherwise wait). */
export const PROCESS_MODES = {
  run: {
    processType: "",
    groups: ["operations", "sync", "build", "sandbox", "deploy", "actions", "runner"],
    summary:
      "Run jobs of every group but management (operations, sync, build, sandbox, deploy, actions, runner)",
  },
  org: {
    processType: "build",
    groups: BUILD_GROUPS,
    summary: "Run an org runner: operations, sync and build jobs (same as build)",
  },
  build: {
    processType: "build",
    groups: BUILD_GROUPS,
    summary: "Run a build runner: operations, sync and build jobs",
  },
  install: {
    processType: "install",
    groups: INSTALL_GROUPS,
    summary: "Run an install runner: operations, sync, sandbox, deploy and actions jobs",
  },
  mng: {
    processType: "mng",
    groups: ["management"],
    summary: "Manage a VM runner: management jobs, and keep its systemd unit in line with service.yml",
  },
} as const satisfies Record<ProcessMode, ProcessModeSpec>;
