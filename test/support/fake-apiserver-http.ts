/**
 * HTTP helpers of the fake API server: Status bodies the way the real server writes them, request bodies
 * (JSON, or YAML for apply patches), label and field selectors, and JSON merge patches (RFC 7386).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseYaml } from "yaml";
import type { ResourceDef } from "./fake-apiserver-resources.ts";
import type { Obj } from "./fake-apiserver-store.ts";

/** A failure to answer with a Status object. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: number, reason: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

/** Writes JSON. */
export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** Writes a failure Status. */
export function sendStatus(res: ServerResponse, err: ApiError): void {
  sendJson(res, err.code, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: err.message,
    reason: err.reason,
    ...(err.details !== undefined ? { details: err.details } : {}),
    code: err.code,
  });
}

/** `deployments.apps "web"`: how the server names an object in messages. */
export function qualified(r: ResourceDef, name?: string): string {
  const plural = r.group === "" ? r.plural : `${r.plural}.${r.group}`;
  return name === undefined ? plural : `${plural} "${name}"`;
}

/** 404 for an object. */
export function notFound(r: ResourceDef, name: string): ApiError {
  return new ApiError(404, "NotFound", `${qualified(r, name)} not found`, {
    name,
    group: r.group,
    kind: r.plural,
  });
}

/** Reads a request body. */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Parses a body as JSON, or YAML for `application/apply-patch+yaml`. */
export function parseBody(text: string, contentType: string): Record<string, unknown> {
  try {
    const value: unknown = contentType.includes("yaml") ? parseYaml(text) : JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
    return value as Record<string, unknown>;
  } catch (err) {
    throw new ApiError(
      400,
      "BadRequest",
      `the body of the request was in an unknown format: ${(err as Error).message}`,
    );
  }
}

type Requirement = (labels: Record<string, string>) => boolean;

/** Compiles a label selector (`a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`). */
export function labelSelector(text: string | null): (obj: Obj) => boolean {
  if (text === null || text.trim() === "") return () => true;
  const reqs: Requirement[] = [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts.map((p) => p.trim()).filter((p) => p !== "")) {
    let m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(raw);
    if (m) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = list.split(",").map((v) => v.trim());
      reqs.push((l) =>
        op === "in"
          ? key in l && values.includes(l[key] as string)
          : !(key in l) || !values.includes(l[key] as string),
      );
      continue;
    }
    m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(raw);
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      reqs.push((l) => (op === "!=" ? l[key] !== value : l[key] === value));
      continue;
    }
    if (raw.startsWith("!")) {
      const key = raw.slice(1);
      reqs.push((l) => !(key in l));
      continue;
    }
    if (/^[\w./-]+$/.test(raw)) {
      reqs.push((l) => raw in l);
      continue;
    }
    throw new ApiError(400, "BadRequest", `unable to parse requirement: ${raw}`);
  }
  return (obj) => {
    const labels = (obj.metadata.labels as Record<string, string> | undefined) ?? {};
    return reqs.every((r) => r(labels));
  };
}

/** Compiles a field selector over metadata.name, metadata.namespace and status.phase. */
export function fieldSelector(text: string | null): (obj: Obj) => boolean {
  if (text === null || text.trim() === "") return () => true;
  const tests = text.split(",").map((raw) => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(raw.trim());
    if (!m) throw new ApiError(400, "BadRequest", `invalid field selector: ${raw}`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    const get = (o: Obj): unknown =>
      field === "metadata.name"
        ? o.metadata.name
        : field === "metadata.namespace"
          ? o.metadata.namespace
          : field === "status.phase"
            ? (o.status as { phase?: string } | undefined)?.phase
            : undefined;
    if (!["metadata.name", "metadata.namespace", "status.phase"].includes(field)) {
      throw new ApiError(
        400,
        "BadRequest",
        `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`,
      );
    }
    return (o: Obj) => (op === "!=" ? get(o) !== value : get(o) === value);
  });
  return (o) => tests.every((t) => t(o));
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target)
      ? structuredClone(target as Record<string, unknown>)
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
