/**
 * The command table: command name → a lazy import of its module. Each module exports
 * `run(argv: string[], io: CommandIo): Promise<number>` returning the process exit code.
 */
import type { Writable } from "node:stream";

/** Where a command writes; tests pass their own streams. */
export interface CommandIo {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

/** A command module. */
export interface CommandModule {
  /** One line shown by `runner help`. */
  summary: string;
  /** Runs the command; resolves to the exit code (0 ok, 1 failure, 2 bad input). */
  run(argv: string[], io: CommandIo): Promise<number>;
}

/** Every command, loaded only when used so that startup stays fast. */
export const COMMANDS: Readonly<Record<string, () => Promise<CommandModule>>> = {
  "check-config": () => import("./check-config.ts"),
  "control-plane": () => import("./control-plane.ts"),
  version: () => import("./version.ts"),
  run: () => import("./run.ts"),
  "run-local": () => import("./run-local.ts"),
  runs: () => import("./runs.ts"),
  diff: () => import("./diff.ts"),
  org: () => import("./run.ts").then((m) => m.org),
  build: () => import("./run.ts").then((m) => m.build),
  install: () => import("./run.ts").then((m) => m.install),
  service: () => import("./service.ts"),
  mng: () => import("./mng.ts"),
};
