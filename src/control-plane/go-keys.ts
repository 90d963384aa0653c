/**
 * Go structs without json tags (PROTOCOL.md §0): keys arrive as Go field names ("WorkspaceID") while the
 * swagger shows camelCase ("workspaceID"). Go decodes them case-insensitively; so must we. Used by the job
 * plans' (classic zod) schemas, so it stays on classic zod, out of schemas.ts which the idle runner loads.
 */
import * as z from "zod";

/**
 * Wraps an object schema so that input keys matching a declared key case-insensitively are renamed to the
 * declared key before parsing ("WorkspaceID", "workspaceID" and "workspaceid" all read as `workspace_id`'s
 * declared spelling). Exact matches win; other keys pass through unchanged.
 */
export function caseInsensitiveKeys<T extends z.ZodObject>(schema: T) {
  const declared = Object.keys(schema.shape);
  const byLower = new Map(declared.map((key) => [key.toLowerCase(), key]));
  return z.preprocess((input) => {
    if (input === null || typeof input !== "object" || Array.isArray(input)) return input;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(input)) {
      const target = key in schema.shape ? key : (byLower.get(key.toLowerCase()) ?? key);
      if (!(target in out) || key === target) out[target] = value;
    }
    return out;
  }, schema);
}

/** Terraform backend config in plans: `{"WorkspaceID": "..."}` (no json tags). */
export const TerraformBackendConfig = caseInsensitiveKeys(
  z.looseObject({ WorkspaceID: z.string().optional() }),
);
