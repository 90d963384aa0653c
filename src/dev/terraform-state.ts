/**
 * Terraform state of run-local jobs that keep it in the control plane (the default): read after the job
 * through the runner API's http backend (`GET /v1/terraform-backend?workspace_id=`) for the job's snapshot,
 * and, with the embedded control plane (which forgets everything when the run ends), kept in
 * `<state-dir>/terraform/<workspace>.tfstate` (0600) and put back before the next run's job, so a second run
 * of the same job file sees what the first one built.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../fs/atomic-file.ts";

/** Where the states are and how to reach the backend. */
export interface TerraformStateOptions {
  /** `<state-dir>/terraform`. */
  dir: string;
  /** Base URL of the control plane's runner API. */
  baseUrl: string;
  /** The runner token (the backend's credential). */
  token: string;
  /** Deadline of each request in ms; default 10 000. */
  requestTimeoutMs?: number;
}

/** The file keeping a workspace's state between runs. */
export function stateFile(dir: string, workspaceId: string): string {
  return path.join(dir, `${workspaceId.replace(/[^A-Za-z0-9._-]/g, "_")}.tfstate`);
}

function backendUrl(opts: TerraformStateOptions, workspaceId: string): string {
  return `${opts.baseUrl.replace(/\/+$/, "")}/v1/terraform-backend?workspace_id=${encodeURIComponent(workspaceId)}`;
}

/** Reads a workspace's state from the control plane; undefined when it has none. Throws on HTTP errors. */
export async function fetchState(
  opts: TerraformStateOptions,
  workspaceId: string,
): Promise<string | undefined> {
  const res = await fetch(backendUrl(opts, workspaceId), {
    headers: { authorization: `Bearer ${opts.token}` },
    signal: AbortSignal.timeout(opts.requestTimeoutMs ?? 10_000),
  });
  const text = await res.text();
  if (res.status === 204 || (res.ok && text.trim() === "")) return undefined;
  if (!res.ok)
    throw new Error(`reading the terraform state of ${workspaceId} failed with HTTP ${res.status}`);
  return text;
}

/** Puts the state kept from an earlier run into the control plane; false when there is none. */
export async function seedState(opts: TerraformStateOptions, workspaceId: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(stateFile(opts.dir, workspaceId), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
  const res = await fetch(backendUrl(opts, workspaceId), {
    method: "POST",
    headers: { authorization: `Bearer ${opts.token}`, "content-type": "application/json" },
    body: text,
    signal: AbortSignal.timeout(opts.requestTimeoutMs ?? 10_000),
  });
  await res.text();
  if (!res.ok)
    throw new Error(`restoring the terraform state of ${workspaceId} failed with HTTP ${res.status}`);
  return true;
}

/** Keeps a workspace's state for the next run (0600: states can hold secrets). */
export async function keepState(dir: string, workspaceId: string, text: string): Promise<void> {
  await writeFileAtomic(stateFile(dir, workspaceId), text, 0o600);
}
