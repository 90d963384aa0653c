/**
 * Outputs of a kubernetes-manifest job: `objects` names every object the job applied or deleted
 * (apiVersion, kind, namespace, name, action), `diff` carries the per-object diffs as Nuon's runner posts
 * them (its only output), `namespace` the default namespace used.
 */
import type { ApplyResult } from "../../kube/apply.ts";

/** One applied or deleted object. */
export interface ObjectOutput {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  action: ApplyResult["action"];
}

/** The outputs of a finished apply or teardown. */
export function manifestOutputs(results: readonly ApplyResult[], namespace: string): Record<string, unknown> {
  const objects: ObjectOutput[] = results.map((r) => ({
    apiVersion: r.target.ref.apiVersion,
    kind: r.target.ref.kind,
    ...(r.target.ref.namespace !== undefined ? { namespace: r.target.ref.namespace } : {}),
    name: r.target.ref.name,
    action: r.action,
  }));
  return { namespace, objects, diff: results.map((r) => r.diff) };
}
