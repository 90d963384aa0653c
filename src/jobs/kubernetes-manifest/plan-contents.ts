/**
 * The plan a kubernetes-manifest plan operation stores, in Nuon's `KubernetesManifestPlanContents` shape
 * (`pkg/types/components/plan`): `{plan, op: "apply"|"delete", k8s_content_diff, dry_run_output}`, where
 * `plan` is the JSON text of `{"k8s_content_diff": [...]}` (or `{"diff": [...]}` for a teardown, as Nuon
 * writes it). Runner addition: `plan_text`, the readable rendering. An apply-plan job receives this back,
 * compressed, in `apply_plan_contents`; only `op` decides what it does.
 */
import { stringify } from "yaml";
import { decompress } from "../../control-plane/compress.ts";
import type { KubeObject } from "../../kube/client.ts";
import { type ResourceDiff, renderPlan } from "../../kube/diff.ts";

/** What a saved plan asks an apply-plan job to do. */
export type ManifestOp = "apply" | "delete";

/** The stored plan. */
export interface ManifestPlanContents {
  plan: string;
  op: ManifestOp;
  k8s_content_diff?: ResourceDiff[];
  dry_run_output?: string;
  plan_text?: string;
}

/** Builds the plan contents from the diffs of a dry run and the objects it covered. */
export function buildPlanContents(
  op: ManifestOp,
  diffs: ResourceDiff[],
  objects: KubeObject[],
): ManifestPlanContents {
  return {
    plan: JSON.stringify(op === "apply" ? { k8s_content_diff: diffs } : { diff: diffs }, null, 2),
    op,
    k8s_content_diff: diffs,
    dry_run_output: objects.map((o) => stringify(o)).join("---\n"),
    plan_text: renderPlan(diffs),
  };
}

/** Reads `op` from apply_plan_contents (base64url(gzip(JSON))); absent contents mean "apply". */
export function opOfSavedPlan(applyPlanContents: string | undefined): ManifestOp {
  if (applyPlanContents === undefined || applyPlanContents.trim() === "") return "apply";
  let parsed: { op?: unknown };
  try {
    parsed = JSON.parse(decompress(applyPlanContents).toString("utf8")) as { op?: unknown };
  } catch (err) {
    throw new Error(
      "apply_plan_contents is not a compressed kubernetes manifest plan (base64url of gzip of JSON)",
      { cause: err },
    );
  }
  if (parsed.op === "apply" || parsed.op === "delete") return parsed.op;
  throw new Error(`apply_plan_contents has op ${JSON.stringify(parsed.op)}; expected "apply" or "delete"`);
}
