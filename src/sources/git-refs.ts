/**
 * Turning the `ref` of a git source into what to fetch, given the refs the server advertises. Pure, so it is
 * table-tested. Order follows `git rev-parse`: `HEAD`, an exact `refs/...` name, then `refs/tags/<ref>`, then
 * `refs/heads/<ref>`; a hex string (4–40 characters) that names no ref is a commit.
 */

/** One ref the server advertises (isomorphic-git's ServerRef). */
export interface AdvertisedRef {
  ref: string;
  oid: string;
  /** For a symbolic ref like HEAD: the ref it points to. */
  target?: string;
  /** For an annotated tag: the object it points to. */
  peeled?: string;
}

/** What to fetch for a ref. */
export type RefChoice =
  /** A ref the server advertises: fetch just it, shallowly. */
  | { kind: "ref"; name: string; oid: string }
  /** A commit no ref points to: fetch everything, then find the commit by (a prefix of) its id. */
  | { kind: "commit"; prefix: string };

/** The default ref when a source names none: the server's HEAD (its default branch). */
export const DEFAULT_REF = "HEAD";

const COMMIT_PATTERN = /^[0-9a-f]{4,40}$/i;

/** Chooses what to fetch for `ref` among `advertised`; undefined when nothing matches. */
export function chooseRef(ref: string, advertised: readonly AdvertisedRef[]): RefChoice | undefined {
  const wanted = ref.trim() === "" ? DEFAULT_REF : ref.trim();
  const byName = new Map(advertised.map((entry) => [entry.ref, entry]));
  const candidates =
    wanted === DEFAULT_REF
      ? [DEFAULT_REF]
      : [wanted, `refs/${wanted}`, `refs/tags/${wanted}`, `refs/heads/${wanted}`];
  for (const name of candidates) {
    const hit = byName.get(name);
    if (hit !== undefined && (name === DEFAULT_REF || name.startsWith("refs/"))) {
      return { kind: "ref", name, oid: hit.oid };
    }
  }
  if (!COMMIT_PATTERN.test(wanted)) return undefined;
  const prefix = wanted.toLowerCase();
  // A commit some ref points at can be fetched shallowly through that ref (servers refuse unadvertised wants).
  const pointing = advertised.filter(
    (entry) =>
      entry.ref !== DEFAULT_REF &&
      (entry.oid.startsWith(prefix) || entry.peeled?.startsWith(prefix) === true),
  );
  const ids = new Set(pointing.map((entry) => (entry.peeled?.startsWith(prefix) ? entry.peeled : entry.oid)));
  const first = pointing[0];
  if (first !== undefined && ids.size === 1) return { kind: "ref", name: first.ref, oid: first.oid };
  return { kind: "commit", prefix };
}
