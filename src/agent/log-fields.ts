/** Compact log fields for an error: its message and stable code, without the stack (for repeated warnings). */
export function errorFields(err: unknown): { error: string; code?: string; status?: number } {
  const e = err as { message?: unknown; code?: unknown; status?: unknown };
  return {
    error: typeof e?.message === "string" ? e.message : String(err),
    ...(typeof e?.code === "string" ? { code: e.code } : {}),
    ...(typeof e?.status === "number" ? { status: e.status } : {}),
  };
}
