/** The oci-sync plan (`SyncOCIPlan`, PROTOCOL.md §1.8): `src_registry`, `src_tag`, `dst_registry`, `dst_tag`. */
import * as z from "zod";
import { SandboxMode } from "../../build/plan.ts";

/** The sync plan; registry configs stay raw (connect.ts parses them). */
export const SyncOciPlan = z.looseObject({
  src_registry: z.unknown().optional(),
  src_tag: z.string().nullish(),
  dst_registry: z.unknown().optional(),
  dst_tag: z.string().nullish(),
  sandbox_mode: SandboxMode,
});
export type SyncOciPlan = z.infer<typeof SyncOciPlan>;

/** Parses a sync plan; src_tag and dst_tag are required (dst_tag defaults to src_tag). */
export function parseSyncOciPlan(raw: unknown): SyncOciPlan {
  return SyncOciPlan.parse(raw ?? {});
}
