/**
 * The environment of an action step. Layers, later wins (as in Nuon's runner, PROTOCOL.md §1.10):
 *
 *   baseEnv (runner allowlist) < plan.builtin_env_vars < runner-provided (KUBECONFIG, NUON_KUBECONFIG_ENABLED,
 *   AWS credentials) < step.interpolated_env_vars < plan.override_env_vars < NUON_ACTIONS_ROOT and
 *   NUON_ACTIONS_OUTPUT_FILEPATH
 *
 * The last two always win: outputs are read from that exact file, inside the workspace. Pure, so it is
 * table-tested; the handler registers secret-named values with the redactor.
 */
import path from "node:path";
import * as z from "zod";

/** Where the step writes its outputs. */
export const OUTPUTS_ENV = "NUON_ACTIONS_OUTPUT_FILEPATH";
/** The workflow's root directory (the job workspace). */
export const ROOT_ENV = "NUON_ACTIONS_ROOT";
/** "true" when KUBECONFIG points at a kubeconfig written from the plan's cluster_info. */
export const KUBECONFIG_ENABLED_ENV = "NUON_KUBECONFIG_ENABLED";

/** The outputs file of step `index`: `<root>/<index>.nuon-outputs.json`. */
export function outputsPath(root: string, index: number): string {
  return path.join(root, `${index}.nuon-outputs.json`);
}

/** The layers of buildStepEnv. */
export interface StepEnvLayers {
  base: Readonly<Record<string, string>>;
  builtin?: Readonly<Record<string, string>> | null;
  runner?: Readonly<Record<string, string>>;
  step?: Readonly<Record<string, string>> | null;
  override?: Readonly<Record<string, string>> | null;
  root: string;
  index: number;
}

/** Merges the layers (see the module comment). */
export function buildStepEnv(layers: StepEnvLayers): Record<string, string> {
  return {
    ...layers.base,
    ...(layers.builtin ?? {}),
    ...(layers.runner ?? {}),
    ...(layers.step ?? {}),
    ...(layers.override ?? {}),
    [ROOT_ENV]: layers.root,
    [OUTPUTS_ENV]: outputsPath(layers.root, layers.index),
  };
}

const AwsAuth = z.looseObject({
  region: z.string().nullish(),
  profile: z.string().nullish(),
  use_default: z.boolean().nullish(),
  static: z
    .looseObject({
      access_key_id: z.string().nullish(),
      secret_access_key: z.string().nullish(),
      session_token: z.string().nullish(),
    })
    .nullish(),
  assume_role: z.looseObject({ role_arn: z.string().nullish() }).nullish(),
});

/** AWS variables for a plan's `aws_auth`, and a sentence when part of it cannot be honoured here. */
export function awsEnv(awsAuth: unknown): { env: Record<string, string>; unsupported?: string } {
  const parsed = AwsAuth.safeParse(awsAuth);
  if (awsAuth === null || awsAuth === undefined || !parsed.success) return { env: {} };
  const auth = parsed.data;
  const env: Record<string, string> = {};
  if (auth.region) {
    env.AWS_REGION = auth.region;
    env.AWS_DEFAULT_REGION = auth.region;
  }
  if (auth.profile) env.AWS_PROFILE = auth.profile;
  if (auth.static?.access_key_id && auth.static.secret_access_key) {
    env.AWS_ACCESS_KEY_ID = auth.static.access_key_id;
    env.AWS_SECRET_ACCESS_KEY = auth.static.secret_access_key;
    if (auth.static.session_token) env.AWS_SESSION_TOKEN = auth.static.session_token;
  }
  if (auth.assume_role?.role_arn) {
    return {
      env,
      unsupported:
        "aws_auth.assume_role is not supported by this runner yet; steps get only the static settings",
    };
  }
  return { env };
}
