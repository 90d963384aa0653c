/** Shared helpers of the control-plane tests: real HTTP over loopback with undici. */
import { request } from "undici";
import {
  type ControlPlaneOptions,
  type EmbeddedControlPlane,
  startControlPlane,
} from "../../src/mock-control-plane/server.ts";

/** A response: status, parsed JSON (when JSON), raw text, headers. */
export interface CallResult {
  status: number;
  text: string;
  json: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTP call; `body` objects are sent as JSON, strings and bytes as they are. */
export async function call(
  url: string,
  opts: {
    method?: string;
    token?: string;
    body?: unknown;
    headers?: Record<string, string>;
  } = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let body: string | Uint8Array | undefined;
  if (typeof opts.body === "string" || opts.body instanceof Uint8Array) body = opts.body;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await request(url, {
    method: (opts.method ?? (body === undefined ? "GET" : "POST")) as "GET",
    headers,
    body,
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, text, json, headers: res.headers };
}

/** A control plane with one runner, and a caller bound to that runner's token. */
export async function withRunner(opts: ControlPlaneOptions = {}) {
  const cp = await startControlPlane(opts);
  const runner = cp.admin.createRunner();
  const as = (path: string, init: Parameters<typeof call>[1] = {}) =>
    call(`${cp.url}${path}`, { token: runner.token, ...init });
  return { cp, runner, as };
}

/** Claims a job as the runner (POST executions) and returns the execution id. */
export async function claim(cp: EmbeddedControlPlane, token: string, jobId: string): Promise<string> {
  const res = await call(`${cp.url}/v1/runner-jobs/${jobId}/executions`, { token, body: {} });
  if (res.status !== 201) throw new Error(`claim answered ${res.status}: ${res.text}`);
  return (res.json as { id: string }).id;
}

/** PATCHes an execution's status and expects 200. */
export async function setStatus(
  cp: EmbeddedControlPlane,
  token: string,
  jobId: string,
  executionId: string,
  status: string,
): Promise<void> {
  const res = await call(`${cp.url}/v1/runner-jobs/${jobId}/executions/${executionId}`, {
    method: "PATCH",
    token,
    body: { status },
  });
  if (res.status !== 200) throw new Error(`PATCH ${status} answered ${res.status}: ${res.text}`);
}
