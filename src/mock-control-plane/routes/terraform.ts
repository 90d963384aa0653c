/**
 * Terraform routes: the http backend at `/v1/terraform-backend?workspace_id&job_id&token` (GET state: 200 with
 * the state, 204 when none; POST: store; DELETE; also terraform's default LOCK/UNLOCK methods) and the
 * workspace routes (CRUD, lock, unlock, state-json). Workspaces are shared by every runner of the org.
 */
import { invalidRequest } from "../api-error.ts";
import { parseJsonBody, type Route, type RouteContext } from "../http.ts";
import type { Services } from "./services.ts";

/** The terraform routes. */
export function terraformRoutes(services: Services): Route[] {
  const { terraform } = services;
  const backendWorkspace = (ctx: RouteContext) => {
    const id = ctx.query.get("workspace_id");
    if (!id) throw invalidRequest("workspace_id: query parameter is required");
    return id;
  };
  const jobId = (ctx: RouteContext) => ctx.query.get("job_id") || undefined;
  const ws = (ctx: RouteContext) => ctx.params.workspace_id ?? "";
  const lock = async (ctx: RouteContext, id: string) => ({
    status: 200,
    json: terraform.lock(id, await ctx.json(), jobId(ctx)),
  });
  const unlock = async (ctx: RouteContext, id: string) => {
    terraform.unlock(id, await ctx.json());
    return { status: 200, json: {} };
  };
  return [
    {
      method: "GET",
      pattern: "/v1/terraform-backend",
      operationId: "GetTerraformCurrentStateData",
      auth: "runner",
      handle: (ctx) => {
        const state = terraform.state(backendWorkspace(ctx));
        if (state === undefined) return { status: 204 };
        return { status: 200, text: state, contentType: "application/json" };
      },
    },
    {
      method: "POST",
      pattern: "/v1/terraform-backend",
      operationId: "UpdateTerraformState",
      auth: "runner",
      handle: async (ctx) => {
        const id = backendWorkspace(ctx);
        const contents = await jsonText(ctx);
        const lockId = ctx.query.get("ID") || undefined;
        return { status: 200, json: terraform.putState(id, contents, { jobId: jobId(ctx), lockId }) };
      },
    },
    {
      method: "DELETE",
      pattern: "/v1/terraform-backend",
      operationId: "DeleteTerraformState",
      auth: "runner",
      handle: (ctx) => {
        terraform.deleteState(backendWorkspace(ctx));
        return { status: 200, json: "ok" };
      },
    },
    {
      method: "LOCK",
      pattern: "/v1/terraform-backend",
      operationId: "LockTerraformBackend",
      auth: "runner",
      handle: (ctx) => lock(ctx, backendWorkspace(ctx)),
    },
    {
      method: "UNLOCK",
      pattern: "/v1/terraform-backend",
      operationId: "UnlockTerraformBackend",
      auth: "runner",
      handle: (ctx) => unlock(ctx, backendWorkspace(ctx)),
    },
    {
      method: "GET",
      pattern: "/v1/terraform-workspaces",
      operationId: "GetTerraformWorkspaces",
      auth: "runner",
      handle: () => ({ status: 200, json: terraform.list() }),
    },
    {
      method: "POST",
      pattern: "/v1/terraform-workspaces",
      operationId: "CreateTerraformWorkspaceV2",
      auth: "runner",
      handle: async (ctx) => ({ status: 201, json: terraform.create(await ctx.json()) }),
    },
    {
      method: "GET",
      pattern: "/v1/terraform-workspaces/:workspace_id",
      operationId: "GetTerraformWorkspace",
      auth: "runner",
      handle: (ctx) => ({ status: 200, json: terraform.get(ws(ctx)).workspace }),
    },
    {
      method: "DELETE",
      pattern: "/v1/terraform-workspaces/:workspace_id",
      operationId: "DeleteTerraformWorkspace",
      auth: "runner",
      handle: (ctx) => {
        terraform.delete(ws(ctx));
        return { status: 200, json: "ok" };
      },
    },
    {
      method: "POST",
      pattern: "/v1/terraform-workspaces/:workspace_id/lock",
      operationId: "LockTerraformWorkspace",
      auth: "runner",
      handle: (ctx) => lock(ctx, ws(ctx)),
    },
    {
      method: "POST",
      pattern: "/v1/terraform-workspaces/:workspace_id/unlock",
      operationId: "UnlockTerraformWorkspace",
      auth: "runner",
      handle: (ctx) => unlock(ctx, ws(ctx)),
    },
    {
      method: "POST",
      pattern: "/v1/terraform-workspaces/:workspace_id/state-json",
      operationId: "UpdateTerraformStateJSON",
      auth: "runner",
      handle: async (ctx) => {
        const contents = await jsonText(ctx);
        terraform.putStateJson(ws(ctx), contents, jobId(ctx));
        return { status: 200, json: "ok" };
      },
    },
    {
      method: "DELETE",
      pattern: "/v1/terraform-workspaces/:workspace_id/states",
      operationId: "DeleteTerraformStateJSON",
      auth: "runner",
      handle: (ctx) => {
        terraform.deleteState(ws(ctx));
        return { status: 200, json: "ok" };
      },
    },
  ];
}

/** The body as text after checking that it is JSON (terraform state and `show -json` both are). */
async function jsonText(ctx: RouteContext): Promise<string> {
  const bytes = await ctx.body();
  if (parseJsonBody(bytes) === undefined) throw invalidRequest("body: expected JSON, got an empty body");
  return bytes.toString("utf8");
}
