/**
 * The state directory of `run-local`, `runs` and `diff`: `--state-dir`, else the configuration's `stateDir`
 * (RUNNER_STATE_DIR, the config file, default `${XDG_STATE_HOME:-~/.local/state}/runner`).
 */
import { loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";

/** Loads the configuration with only the flags these commands share; throws ConfigError (exit 2). */
export async function loadDevConfig(
  values: { "state-dir"?: string | undefined; config?: string | undefined },
  env: NodeJS.ProcessEnv,
  cwd: string = process.cwd(),
): Promise<Config> {
  const { config } = await loadConfig({
    flags: {
      ...(values["state-dir"] !== undefined ? { stateDir: values["state-dir"] } : {}),
      ...(values.config !== undefined ? { configFile: values.config } : {}),
    },
    env,
    cwd,
  });
  return config;
}
