/**
 * Fetching a git source (`git_source {url, ref, path, recurse_submodules}`) into a directory, with
 * isomorphic-git over http(s):
 *
 * - `ref` is a branch, a tag, `HEAD`/empty (the default branch) or a commit id (full or at least 4 hex
 *   characters). A ref the server advertises is fetched shallowly (depth 1); a commit no ref points at needs
 *   the whole history (servers refuse unadvertised wants), so every branch and tag is fetched, then the commit
 *   is looked up. The resolved commit id is returned.
 * - Credentials come from `auth` or from the URL's userinfo; they are sent through isomorphic-git's `onAuth`
 *   and never appear in `.git/config`, logs or messages (which show the URL without userinfo and query).
 * - Nothing lands outside `dir`: isomorphic-git writes through a fenced fs (guarded-fs.ts), and after checkout
 *   every symlink pointing outside the checkout is removed (links.ts). `path` must stay inside the checkout.
 * - Submodules (`recurseSubmodules`) are fetched by this module, since isomorphic-git has none (see
 *   git-submodules.ts), each at the commit its superproject records, up to MAX_SUBMODULE_DEPTH levels.
 * - The signal aborts in-flight HTTP requests; every failure is a GitSourceError naming repository and ref.
 */
import nodeFs from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import git from "isomorphic-git";
import nodeHttp from "isomorphic-git/http/node";
import { assertRealPathInsideSync, resolveInside } from "../workspace/safe-path.ts";
import { classifyGitError, GitSourceError } from "./git-errors.ts";
import { type AdvertisedRef, chooseRef, DEFAULT_REF } from "./git-refs.ts";
import { fetchSubmodules } from "./git-submodules.ts";
import { credentialsOf, type GitAuth, type GitCredentials, parseRepoUrl, sameOrigin } from "./git-url.ts";
import { guardedFs } from "./guarded-fs.ts";
import { isRealDirectory, removeEscapingLinks } from "./links.ts";

export { GitSourceError, type GitSourceErrorCode } from "./git-errors.ts";
export type { GitAuth, GitCredentials } from "./git-url.ts";

/** Default idle timeout of one HTTP request to the git server: 60 s. */
export const DEFAULT_GIT_REQUEST_TIMEOUT_MS = 60_000;
/** How deep submodules of submodules are followed: 8 levels. */
export const MAX_SUBMODULE_DEPTH = 8;

/** Where fetchGitSource reports progress (a JobLog fits). */
export interface GitFetchLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/** Options of fetchGitSource. */
export interface FetchGitSourceOptions {
  /** http(s) clone URL; userinfo in it is used as credentials when `auth` is absent. */
  url: string;
  /** Branch, tag, commit id, or empty/`HEAD` for the default branch. */
  ref: string;
  /** Directory inside the repository to return; default the checkout root. */
  path?: string;
  /** Also fetch submodules, recursively; default false. */
  recurseSubmodules?: boolean;
  /** Credentials; a token is sent as basic auth `x-access-token:<token>`. */
  auth?: GitAuth;
  /** Target directory (missing or empty); the checkout goes here, `.git` included. */
  dir: string;
  signal?: AbortSignal;
  log?: GitFetchLog;
  /** Idle timeout of each HTTP request in ms; default DEFAULT_GIT_REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
}

/** A fetched source. */
export interface GitSourceResult {
  /** Absolute directory of `path` inside the checkout (the checkout root when no path). */
  dir: string;
  /** The commit checked out (40 hex characters). */
  commit: string;
  /** Absolute directory of the checkout. */
  checkoutDir: string;
  /** Symlinks removed because they pointed outside the checkout (relative to it). */
  removedLinks: string[];
}

/** Fetches and checks out a git source into `opts.dir` (see the module comment). Throws GitSourceError. */
export async function fetchGitSource(opts: FetchGitSourceOptions): Promise<GitSourceResult> {
  return fetchAt(opts, 0);
}

async function fetchAt(opts: FetchGitSourceOptions, depth: number): Promise<GitSourceResult> {
  const ref = opts.ref.trim() === "" ? DEFAULT_REF : opts.ref.trim();
  let repo: ReturnType<typeof parseRepoUrl>;
  try {
    repo = parseRepoUrl(opts.url);
  } catch (err) {
    throw new GitSourceError({
      code: "INVALID_SOURCE",
      repository: "(invalid URL)",
      ref,
      reason: (err as Error).message,
      cause: err,
    });
  }
  const credentials: GitCredentials | undefined =
    opts.auth !== undefined ? credentialsOf(opts.auth) : repo.credentials;
  const fail = (code: GitSourceError["code"], reason: string, cause?: unknown) =>
    new GitSourceError({ code, repository: repo.display, ref, reason: scrub(reason, credentials), cause });

  try {
    opts.signal?.throwIfAborted();
    const root = path.resolve(opts.dir);
    await mkdir(root, { recursive: true, mode: 0o700 });
    if ((await readdir(root)).length > 0)
      throw fail("INVALID_SOURCE", `the target directory ${root} is not empty`);
    opts.log?.info("fetching git source", { repository: repo.display, ref });

    const fs = guardedFs(root);
    const http = {
      request: (request: Parameters<typeof nodeHttp.request>[0]) =>
        nodeHttp.request({
          ...request,
          ...(opts.signal === undefined ? {} : { signal: opts.signal }),
          fetchOptions: {
            ...(request.fetchOptions ?? {}),
            timeout: opts.requestTimeoutMs ?? DEFAULT_GIT_REQUEST_TIMEOUT_MS,
          },
        }),
    };
    const onAuth = credentials === undefined ? undefined : () => ({ ...credentials });
    const remote = { http, url: repo.url, ...(onAuth === undefined ? {} : { onAuth }) };

    const advertised: AdvertisedRef[] = await git.listServerRefs({
      ...remote,
      protocolVersion: 1,
      symrefs: true,
      peelTags: true,
    });
    const choice = chooseRef(ref, advertised);
    if (choice === undefined) throw fail("REF_NOT_FOUND", `no branch, tag or commit named "${ref}" exists`);

    await git.init({ fs, dir: root, defaultBranch: "main" });
    // The URL without credentials: .git/config stays free of secrets.
    await git.addRemote({ fs, dir: root, remote: "origin", url: repo.url });
    let fetched: string;
    if (choice.kind === "ref") {
      const result = await git.fetch({
        fs,
        dir: root,
        ...remote,
        ref: choice.name,
        remoteRef: choice.name,
        singleBranch: true,
        depth: 1,
        tags: false,
      });
      fetched = result.fetchHead ?? choice.oid;
    } else {
      await git.fetch({ fs, dir: root, ...remote, singleBranch: false, tags: true });
      try {
        fetched = await git.expandOid({ fs, dir: root, oid: choice.prefix });
      } catch (err) {
        const ambiguous = (err as { code?: string }).code === "AmbiguousError";
        throw fail(
          "REF_NOT_FOUND",
          ambiguous
            ? `"${ref}" matches more than one object; give more characters of the commit id`
            : `no branch, tag or commit named "${ref}" exists`,
          err,
        );
      }
    }
    const commit = await peelToCommit(root, fetched).catch((err: unknown) => {
      throw fail("REF_NOT_FOUND", `"${ref}" does not name a commit`, err);
    });
    if (choice.kind === "commit" && !commit.startsWith(choice.prefix) && !fetched.startsWith(choice.prefix)) {
      throw fail("REF_NOT_FOUND", `no commit named "${ref}" exists`);
    }
    opts.signal?.throwIfAborted();
    await git.checkout({ fs, dir: root, ref: commit, force: true });

    const removedLinks = await removeEscapingLinks(root, [".git"]);
    for (const link of removedLinks) {
      opts.log?.warn("removed a symlink that points outside the checkout", {
        repository: repo.display,
        link,
      });
    }

    if (opts.recurseSubmodules) {
      if (depth >= MAX_SUBMODULE_DEPTH)
        throw fail("FAILED", `submodules nest deeper than ${MAX_SUBMODULE_DEPTH} levels`);
      await fetchSubmodules(root, commit, repo.url, async (sub) => {
        const subResult = await fetchAt(
          {
            ...opts,
            url: sub.url,
            ref: sub.commit,
            dir: sub.dir,
            path: undefined,
            // Credentials go only where they came from.
            auth: credentials !== undefined && sameOrigin(sub.url, repo.url) ? credentials : undefined,
          },
          depth + 1,
        );
        removedLinks.push(...subResult.removedLinks.map((link) => path.join(sub.entry.path, link)));
      });
    }

    const dir = opts.path === undefined || opts.path === "" ? root : resolveInside(root, opts.path);
    assertRealPathInsideSync(root, dir);
    if (!(await isRealDirectory(dir))) {
      throw fail("INVALID_SOURCE", `path "${opts.path}" is not a directory in the repository`);
    }
    opts.log?.info("fetched git source", { repository: repo.display, ref, commit });
    return { dir, commit, checkoutDir: root, removedLinks };
  } catch (err) {
    if (err instanceof GitSourceError) {
      // A submodule's error names the submodule; keep it, but say which superproject it belongs to.
      if (err.repository === repo.display) throw err;
      throw fail(err.code, `submodule ${err.message}`, err);
    }
    const { code, reason } = classifyGitError(err, {
      authGiven: credentials !== undefined,
      aborted: opts.signal?.aborted ?? false,
    });
    throw fail(code, reason, err);
  }
}

/** Follows annotated tags to the commit they point at; throws when the object is not (a tag of) a commit. */
async function peelToCommit(root: string, oid: string): Promise<string> {
  let current = oid;
  for (let hops = 0; hops < 16; hops++) {
    const object = await git.readObject({ fs: nodeFs, dir: root, oid: current, format: "parsed" });
    if (object.type === "commit") return current;
    if (object.type !== "tag") throw new Error(`${current} is a ${object.type}, not a commit`);
    current = (object.object as { object: string }).object;
  }
  throw new Error(`${oid}: too many nested tags`);
}

/** Removes the password (or token) from a message, in case some layer echoed it. */
function scrub(text: string, credentials: GitCredentials | undefined): string {
  if (credentials === undefined || credentials.password.length < 4) return text;
  return text
    .replaceAll(credentials.password, "[REDACTED]")
    .replaceAll(encodeURIComponent(credentials.password), "[REDACTED]");
}
