/**
 * The kaniko executor's argv for a docker-build. Build arguments are passed by name only
 * (`--build-arg NAME`) with their values in the environment (kaniko reads them from there), so values never
 * appear in argv, process listings or messages; arguments are sorted for a stable command line. A null
 * value (Go `*string` nil) leaves the argument out, as the Nuon runner does.
 */

/** What the executor is told. */
export interface KanikoArgsInput {
  /** Absolute build context directory. */
  contextDir: string;
  /** Absolute path of the Dockerfile. */
  dockerfile: string;
  /** `registry/repository:tag` to push to. */
  destination: string;
  /** Where kaniko writes the pushed image's digest. */
  digestFile: string;
  buildArgs?: Record<string, string | null> | null | undefined;
  /** Multi-stage target; default the last stage. */
  target?: string | null | undefined;
  /** The destination registry speaks plain HTTP. */
  insecureRegistry?: boolean;
}

/** The argv and the extra environment (build argument values) of one kaniko run. */
export interface KanikoCommand {
  args: string[];
  env: Record<string, string>;
}

/** Build argument names kaniko can take from the environment. */
const BUILD_ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Builds the kaniko command (see the module comment); throws for a build argument name that cannot be used. */
export function kanikoCommand(input: KanikoArgsInput): KanikoCommand {
  const args = [
    "--context",
    `dir://${input.contextDir}`,
    "--dockerfile",
    input.dockerfile,
    "--destination",
    input.destination,
    "--digest-file",
    input.digestFile,
  ];
  const target = input.target?.trim();
  if (target) args.push("--target", target);
  const env: Record<string, string> = {};
  for (const name of Object.keys(input.buildArgs ?? {}).sort()) {
    const value = input.buildArgs?.[name];
    if (value === null || value === undefined) continue;
    if (!BUILD_ARG_NAME.test(name)) {
      throw new Error(
        `build argument name ${JSON.stringify(name)} must be letters, digits and _ (not starting with a digit)`,
      );
    }
    args.push("--build-arg", name);
    env[name] = value;
  }
  if (input.insecureRegistry) args.push("--insecure");
  return { args, env };
}
