/**
 * Finding the kaniko executor (`/kaniko/executor`, as in kaniko's image, or `executor` on PATH) and giving it
 * registry credentials (a Docker `config.json` in a private directory, pointed to by DOCKER_CONFIG).
 */
import { constants } from "node:fs";
import { access, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { StaticRegistryCredentials } from "../../../sources/oci/registry-config.ts";

/** Where kaniko's image keeps the executor. */
export const KANIKO_IMAGE_PATH = "/kaniko/executor";

/** The executor's path, or undefined when there is none: `/kaniko/executor`, else `executor` on `pathEnv`. */
export async function findKaniko(
  pathEnv: string | undefined,
  imagePath: string = KANIKO_IMAGE_PATH,
): Promise<string | undefined> {
  const candidates = [
    imagePath,
    ...(pathEnv ?? "")
      .split(path.delimiter)
      .filter((dir) => path.isAbsolute(dir))
      .map((dir) => path.join(dir, "executor")),
  ];
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there, or not executable
    }
  }
  return undefined;
}

/** The message of a docker-build on a runner without kaniko. */
export const KANIKO_MISSING_MESSAGE =
  "docker-build needs the kaniko executor (/kaniko/executor, or `executor` on PATH), and this runner has none; run the runner in an image that includes kaniko, or build the image elsewhere and use a container-image component";

/** Writes `<dir>/config.json` with credentials for `registry` (0600, in a 0700 directory); returns `dir`. */
export async function writeDockerConfig(
  dir: string,
  registry: string,
  credentials: StaticRegistryCredentials,
): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = registry === "docker.io" ? "https://index.docker.io/v1/" : registry;
  const auths: Record<string, Record<string, string>> = {};
  if (credentials.kind === "basic") {
    auths[key] = { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64") };
  } else if (credentials.kind === "refresh-token") {
    auths[key] = { identitytoken: credentials.refreshToken };
  }
  await writeFile(path.join(dir, "config.json"), JSON.stringify({ auths }), { mode: 0o600 });
  return dir;
}
