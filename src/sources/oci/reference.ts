/**
 * Image references: `[scheme://]registry/repository[:tag][@digest]`, parsed and printed the way the Docker and
 * OCI tools spell them (a first component with a `.` or `:`, or `localhost`, is the registry; otherwise the
 * registry is Docker Hub and a one-component name gets `library/`). A scheme is accepted only to say
 * `http://` (a plain-HTTP registry, e.g. on loopback); without one the registry is spoken to over HTTPS.
 */
import { isDigest } from "./digest.ts";
import { OciError } from "./errors.ts";

/** Docker Hub's name in references. */
export const DOCKER_HUB = "docker.io";
/** Docker Hub's API host. */
const DOCKER_HUB_API_HOST = "registry-1.docker.io";

/** A parsed reference. At most one of tag and digest is needed; both may be given (the digest wins). */
export interface ImageReference {
  /** Registry host[:port] as written (Docker Hub normalised to `docker.io`). */
  registry: string;
  /** Repository path inside the registry, e.g. `library/nginx`. */
  repository: string;
  tag?: string;
  digest?: string;
  /** `http` only when the reference said `http://`; default `https`. */
  scheme: "https" | "http";
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const REGISTRY =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/;

/** Parses `[http(s)://]registry/repo[:tag][@digest]`; throws OciError INVALID naming what is wrong. */
export function parseReference(input: string): ImageReference {
  const invalid = (why: string) =>
    new OciError("INVALID", `invalid image reference ${JSON.stringify(input)}: ${why}`);
  let rest = input.trim();
  let scheme: "https" | "http" = "https";
  const schemeMatch = /^(https?):\/\//.exec(rest);
  if (schemeMatch) {
    scheme = schemeMatch[1] as "https" | "http";
    rest = rest.slice(schemeMatch[0].length);
  }
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw invalid(`${JSON.stringify(digest)} is not a sha256 or sha512 digest`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(`${JSON.stringify(tag)} is not a valid tag`);
  }
  const name = splitName(rest);
  if (name === undefined) throw invalid("it has no repository name");
  if (!REGISTRY.test(name.registry)) throw invalid(`${JSON.stringify(name.registry)} is not a registry host`);
  for (const component of name.repository.split("/")) {
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(
        `repository component ${JSON.stringify(component)} must be lowercase letters, digits and . _ -`,
      );
    }
  }
  return {
    registry: name.registry,
    repository: name.repository,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
    scheme,
  };
}

/** Splits `registry/repo` (no tag or digest) into its registry and repository, normalising Docker Hub. */
function splitName(name: string): { registry: string; repository: string } | undefined {
  if (name === "") return undefined;
  const slash = name.indexOf("/");
  const first = slash < 0 ? name : name.slice(0, slash);
  const isRegistry =
    slash >= 0 &&
    (first.includes(".") || first.includes(":") || first === "localhost" || first.startsWith("["));
  let registry = isRegistry ? first : DOCKER_HUB;
  let repository = isRegistry ? name.slice(slash + 1) : name;
  if (registry === "index.docker.io" || registry === DOCKER_HUB_API_HOST) registry = DOCKER_HUB;
  if (repository === "") return undefined;
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`;
  return { registry, repository };
}

/** The host the registry's API is served from (Docker Hub's differs from its name). */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

/** Prints a reference: `registry/repo:tag@digest` (the scheme only when http). */
export function formatReference(ref: Omit<ImageReference, "scheme"> & { scheme?: "https" | "http" }): string {
  const scheme = ref.scheme === "http" ? "http://" : "";
  const tag = ref.tag === undefined ? "" : `:${ref.tag}`;
  const digest = ref.digest === undefined ? "" : `@${ref.digest}`;
  return `${scheme}${ref.registry}/${ref.repository}${tag}${digest}`;
}

/** The tag or digest to ask the registry for (the digest when both are set); throws when neither is. */
export function manifestReference(ref: Pick<ImageReference, "tag" | "digest">, what = "reference"): string {
  const chosen = ref.digest ?? ref.tag;
  if (chosen === undefined) throw new OciError("INVALID", `${what} has neither a tag nor a digest`);
  return chosen;
}

/** Whether `tag` is usable as a tag. */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}
