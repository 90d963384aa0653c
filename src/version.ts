/** The runner's version, from package.json (bundles inline it). */
import pkg from "../package.json" with { type: "json" };

/** Semantic version of this runner, e.g. `0.1.0`. */
export const VERSION: string = pkg.version;

/** The commit this runner was built from: `RUNNER_COMMIT` injected at build time, else `GIT_REF`, else `unknown`. */
export const COMMIT: string = process.env.RUNNER_COMMIT ?? process.env.GIT_REF ?? "unknown";

/** The `X-Nuon-Client-Version` header value the control plane records on executions. */
export const CLIENT_VERSION_HEADER = `runner:${VERSION}`;
