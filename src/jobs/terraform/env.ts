/**
 * The environment of every terraform command (pure): the runner's allowlisted base environment, the plan's
 * `env_vars` over it, then the settings the handler must control — automation mode, no prompts, no update
 * checks, the data directory and CLI config inside the workspace, and the http backend — over both.
 */
import { existsSync } from "node:fs";
import { baseEnv } from "../../exec/env.ts";

/** Inputs of terraformEnv. */
export interface TerraformEnvInput {
  /** The runner's environment (only its allowlist is used). */
  processEnv: Readonly<Record<string, string | undefined>>;
  /** The plan's `env_vars`. */
  planEnv: Readonly<Record<string, string>>;
  /** TF_DATA_DIR: where terraform keeps `.terraform` (inside the job workspace). */
  dataDir: string;
  /** TF_CLI_CONFIG_FILE: an existing file (see cliConfigFileFrom). */
  cliConfigFile: string;
  /** The `TF_HTTP_*` variables when the state lives in the control plane. */
  backendEnv?: Readonly<Record<string, string>>;
}

/** Builds the environment of a terraform command (see the module comment). */
export function terraformEnv(input: TerraformEnvInput): Record<string, string> {
  return {
    ...baseEnv(input.processEnv),
    ...input.planEnv,
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
    TF_DATA_DIR: input.dataDir,
    TF_CLI_CONFIG_FILE: input.cliConfigFile,
    ...input.backendEnv,
  };
}

/** The runner's own TF_CLI_CONFIG_FILE when it names an existing file; undefined means "write one". */
export function cliConfigFileFrom(
  processEnv: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const file = processEnv.TF_CLI_CONFIG_FILE;
  return file !== undefined && file !== "" && existsSync(file) ? file : undefined;
}
