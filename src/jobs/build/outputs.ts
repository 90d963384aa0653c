/**
 * The outputs of build and sync jobs. The Nuon runner posts `{"image": {"tag": …}}`; this runner adds the
 * pushed digest and repository, and a top-level `digest`, `tag` and `ref` (`registry/repo:tag@digest`).
 */

/** What was pushed. */
export interface PushedArtifact {
  /** `registry/repository`. */
  repository: string;
  tag: string;
  /** Digest of the pushed manifest or index. */
  digest: string;
}

/** The outputs object of a build or sync job, plus handler-specific `extra` fields. */
export function artifactOutputs(
  pushed: PushedArtifact,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const ref = `${pushed.repository}:${pushed.tag}@${pushed.digest}`;
  return {
    image: { tag: pushed.tag, digest: pushed.digest, repository: pushed.repository, ref },
    digest: pushed.digest,
    tag: pushed.tag,
    ref,
    ...extra,
  };
}

/** Labels as sorted-key annotations (deterministic JSON, so manifests are reproducible). */
export function sortedRecord(record: Record<string, string> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(record ?? {}).sort())
    out[key] = (record as Record<string, string>)[key] as string;
  return out;
}
