/**
 * Submodules, which isomorphic-git does not support: read `.gitmodules` from the checkout, find each
 * submodule's commit (the gitlink recorded in the superproject's tree), and fetch that commit into the
 * submodule's path with the same machinery, recursively. Relative URLs (`../lib.git`) resolve against the
 * superproject's URL; credentials are passed on only to submodules on the same origin.
 */
import fs from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import git from "isomorphic-git";
import { assertRealPathInsideSync, resolveInside } from "../workspace/safe-path.ts";
import { isRealDirectory } from "./links.ts";

/** One `[submodule "name"]` section of `.gitmodules`. */
export interface SubmoduleEntry {
  name: string;
  path: string;
  url: string;
}

/** Parses `.gitmodules` (git config syntax: sections, `key = value`, `#`/`;` comments, optional quotes). */
export function parseGitmodules(text: string): SubmoduleEntry[] {
  const sections = new Map<string, Partial<SubmoduleEntry>>();
  let current: Partial<SubmoduleEntry> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[\s*submodule\s+"((?:[^"\\]|\\.)*)"\s*\]$/.exec(line);
    if (header !== null) {
      const name = header[1]!.replace(/\\(.)/g, "$1");
      current = sections.get(name) ?? { name };
      sections.set(name, current);
      continue;
    }
    if (line.startsWith("[")) {
      current = undefined;
      continue;
    }
    const kv = /^([A-Za-z][\w-]*)\s*=\s*(.*)$/.exec(line);
    if (kv === null || current === undefined) continue;
    const key = kv[1]!.toLowerCase();
    const value = unquote(kv[2]!.replace(/\s+[#;].*$/, ""));
    if (key === "path") current.path = value;
    else if (key === "url") current.url = value;
  }
  return [...sections.values()].filter(
    (entry): entry is SubmoduleEntry => entry.name !== undefined && !!entry.path && !!entry.url,
  );
}

function unquote(value: string): string {
  const trimmed = value.trim();
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) {
    return trimmed.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  return trimmed;
}

/** Resolves a submodule URL against the superproject's URL (`./x`, `../x` are relative, as in git). */
export function resolveSubmoduleUrl(superUrl: string, url: string): string {
  if (!url.startsWith("./") && !url.startsWith("../")) return url;
  return new URL(url, `${superUrl.replace(/\/+$/, "")}/`).toString();
}

/** What fetching one submodule needs from the caller. */
export interface SubmoduleFetch {
  /** Absolute directory to fetch into (inside the checkout). */
  dir: string;
  /** Absolute URL of the submodule. */
  url: string;
  /** The commit the superproject records. */
  commit: string;
  entry: SubmoduleEntry;
}

/**
 * Fetches every submodule of the checkout at `root` (commit `commit`, URL `superUrl`) through `fetchOne`.
 * A `.gitmodules` entry whose path is not a gitlink in the tree is skipped (as `git submodule update` does).
 */
export async function fetchSubmodules(
  root: string,
  commit: string,
  superUrl: string,
  fetchOne: (sub: SubmoduleFetch) => Promise<void>,
): Promise<SubmoduleEntry[]> {
  const gitmodules = path.join(root, ".gitmodules");
  assertRealPathInsideSync(root, gitmodules);
  const text = await readFile(gitmodules, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return "";
    throw err;
  });
  const fetched: SubmoduleEntry[] = [];
  for (const entry of parseGitmodules(text)) {
    const dir = resolveInside(root, entry.path);
    const gitlink = await gitlinkAt(root, commit, entry.path);
    if (gitlink === undefined) continue;
    if (!(await isRealDirectory(dir))) {
      throw new Error(`submodule ${entry.name}: ${entry.path} is not a directory in the checkout`);
    }
    assertRealPathInsideSync(root, dir);
    await fetchOne({ dir, url: resolveSubmoduleUrl(superUrl, entry.url), commit: gitlink, entry });
    fetched.push(entry);
  }
  return fetched;
}

/** The commit id recorded at `filepath` in `commit`'s tree, when that entry is a gitlink. */
async function gitlinkAt(root: string, commit: string, filepath: string): Promise<string | undefined> {
  const normalized = path.posix.normalize(filepath.replace(/\\/g, "/")).replace(/\/+$/, "");
  const parent = path.posix.dirname(normalized);
  const base = path.posix.basename(normalized);
  try {
    const { tree } = await git.readTree({
      fs,
      dir: root,
      oid: commit,
      ...(parent === "." ? {} : { filepath: parent }),
    });
    const hit = tree.find((item) => item.path === base);
    return hit?.type === "commit" ? hit.oid : undefined;
  } catch {
    return undefined;
  }
}
