/**
 * Terraform workspaces: the http backend's state (GET/POST/DELETE), its lock (terraform's http-backend lock
 * semantics: 200 when granted, 409 with the holder's lock info when another lock ID holds it), and the
 * `terraform show -json` snapshots the runner pushes after apply. Workspaces are created on first use.
 */
import * as z from "zod";
import { TerraformLockInfo as LockInfoSchema, type TerraformLockInfo } from "../control-plane/schemas.ts";
import { ApiError, notFound } from "./api-error.ts";
import { ID_PREFIX, isoAt, newId } from "./ids.ts";
import type { WorkspaceRecord } from "./model.ts";
import { parseBody } from "./runners.ts";
import type { ControlPlaneStore } from "./store.ts";
import { omitZero } from "./views.ts";

/** service.CreateTerraformWorkspaceRequest */
const CreateWorkspaceRequest = z.object({
  owner_id: z.string().optional(),
  owner_type: z.string().optional(),
});

/** The body of unlock: terraform sends its lock info, the runner sends `{}`, force-unlock sends nothing. */
const UnlockRequest = z.looseObject({ ID: z.string().optional() }).optional();

/** Workspace operations over the store. */
export class TerraformService {
  readonly #store: ControlPlaneStore;
  readonly #deps: { nowMs: () => number; changed: () => void };

  constructor(store: ControlPlaneStore, deps: { nowMs: () => number; changed: () => void }) {
    this.#store = store;
    this.#deps = deps;
  }

  /** Creates a workspace (201 body). */
  create(body: unknown): WorkspaceRecord["workspace"] {
    const input = parseBody(CreateWorkspaceRequest, body ?? {});
    return this.#create(newId(ID_PREFIX.workspace), input).workspace;
  }

  /** Every workspace. */
  list(): WorkspaceRecord["workspace"][] {
    return [...this.#store.workspaces.values()].map((ws) => omitZero({ ...ws.workspace }));
  }

  /** One workspace, or a 404. */
  get(workspaceId: string): WorkspaceRecord {
    const ws = this.#store.workspaces.get(workspaceId);
    if (ws === undefined) throw notFound("terraform workspace", workspaceId);
    return ws;
  }

  /** Deletes a workspace with its state and lock. */
  delete(workspaceId: string): void {
    this.get(workspaceId);
    this.#store.workspaces.delete(workspaceId);
    this.#deps.changed();
  }

  /** The current state text, or undefined when the workspace has none. */
  state(workspaceId: string): string | undefined {
    return this.#store.workspaces.get(workspaceId)?.state?.contents;
  }

  /**
   * Stores a new state revision. `lockId` is the `ID` terraform adds while it holds the lock: a different
   * holder gets 409 with the lock info.
   */
  putState(workspaceId: string, contents: string, opts: { jobId?: string; lockId?: string }): unknown {
    const ws = this.#ensure(workspaceId);
    if (ws.lock !== undefined && opts.lockId !== undefined && opts.lockId !== ws.lock.info.ID) {
      throw lockedBy(ws.lock.info, workspaceId);
    }
    ws.state = {
      id: newId(ID_PREFIX.workspaceState),
      contents,
      revision: (ws.state?.revision ?? 0) + 1,
      jobId: opts.jobId,
      updatedAt: isoAt(this.#deps.nowMs()),
    };
    this.#deps.changed();
    return omitZero({
      id: ws.state.id,
      terraform_workspace_id: workspaceId,
      revision: ws.state.revision,
      runner_job_id: opts.jobId,
      created_at: ws.state.updatedAt,
    });
  }

  /** Deletes the state (terraform's DELETE, and DELETE /{ws}/states). */
  deleteState(workspaceId: string): void {
    const ws = this.#store.workspaces.get(workspaceId);
    if (ws === undefined) return;
    ws.state = undefined;
    ws.stateJson = undefined;
    this.#deps.changed();
  }

  /** Takes the lock for `info.ID`; the same ID again is granted again; another ID gets 409 + the holder. */
  lock(workspaceId: string, body: unknown, jobId: string | undefined): TerraformLockInfo {
    const info = parseBody(LockInfoSchema, body);
    const ws = this.#ensure(workspaceId);
    if (ws.lock !== undefined && ws.lock.info.ID !== info.ID) throw lockedBy(ws.lock.info, workspaceId);
    ws.lock = { info, jobId, lockedAt: isoAt(this.#deps.nowMs()) };
    this.#deps.changed();
    return info;
  }

  /** Releases the lock; a body naming another lock ID gets 409 + the holder; no ID releases any lock. */
  unlock(workspaceId: string, body: unknown): void {
    const input = parseBody(UnlockRequest, body);
    const ws = this.#store.workspaces.get(workspaceId);
    if (ws?.lock === undefined) return;
    if (input?.ID !== undefined && input.ID !== ws.lock.info.ID) throw lockedBy(ws.lock.info, workspaceId);
    ws.lock = undefined;
    this.#deps.changed();
  }

  /** The current lock, if any. */
  lockInfo(workspaceId: string): TerraformLockInfo | undefined {
    return this.#store.workspaces.get(workspaceId)?.lock?.info;
  }

  /** Stores the `terraform show -json` text the runner pushes after apply. */
  putStateJson(workspaceId: string, contents: string, jobId: string | undefined): void {
    const ws = this.#ensure(workspaceId);
    ws.stateJson = { contents, jobId, updatedAt: isoAt(this.#deps.nowMs()) };
    this.#deps.changed();
  }

  #ensure(workspaceId: string): WorkspaceRecord {
    return this.#store.workspaces.get(workspaceId) ?? this.#create(workspaceId, {});
  }

  #create(id: string, input: { owner_id?: string; owner_type?: string }): WorkspaceRecord {
    const now = isoAt(this.#deps.nowMs());
    const record: WorkspaceRecord = {
      workspace: omitZero({
        id,
        org_id: this.#store.orgId,
        owner_id: input.owner_id,
        owner_type: input.owner_type,
        created_at: now,
        updated_at: now,
      }),
    };
    this.#store.workspaces.set(id, record);
    this.#deps.changed();
    return record;
  }
}

function lockedBy(info: TerraformLockInfo, workspaceId: string): ApiError {
  return new ApiError(409, "conflict", `terraform workspace ${workspaceId} is locked by ${info.ID}`, {
    body: info,
  });
}
