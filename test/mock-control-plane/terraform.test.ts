import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import type { EmbeddedControlPlane } from "../../src/mock-control-plane/server.ts";
import { withRunner } from "./helpers.ts";

const execFileAsync = promisify(execFile);

let cp: EmbeddedControlPlane | undefined;
let dir: string | undefined;
afterEach(async () => {
  await cp?.close();
  cp = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const LOCK = { ID: "lock-a", Operation: "OperationTypeApply", Who: "runner@test", Version: "1.11.4" };

describe("terraform backend and workspaces", () => {
  it("serves 204 before any state, then the state terraform posted", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const url = "/v1/terraform-backend?workspace_id=tfw1&job_id=rjb1";
    expect((await ctx.as(url)).status).toBe(204);
    const state = { version: 4, serial: 1, outputs: { a: { value: 1, type: "number" } } };
    const posted = await ctx.as(url, { body: state });
    expect(posted.status).toBe(200);
    expect(posted.json).toMatchObject({ terraform_workspace_id: "tfw1", revision: 1, runner_job_id: "rjb1" });
    const fetched = await ctx.as(url);
    expect(fetched.status).toBe(200);
    expect(JSON.parse(fetched.text)).toEqual(state);
    expect((await ctx.as(url, { method: "DELETE" })).status).toBe(200);
    expect((await ctx.as(url)).status).toBe(204);
    expect((await ctx.as("/v1/terraform-backend")).status).toBe(400);
  });

  it("grants a lock to one ID, answers another ID with 409 and the holder's lock info, then unlocks", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const lockUrl = "/v1/terraform-workspaces/tfw2/lock?job_id=rjb1";
    expect((await ctx.as(lockUrl, { body: LOCK })).status).toBe(200);
    expect((await ctx.as(lockUrl, { body: LOCK })).status).toBe(200);
    const conflict = await ctx.as(lockUrl, { body: { ...LOCK, ID: "lock-b" } });
    expect(conflict.status).toBe(409);
    expect(conflict.json).toMatchObject({ ID: "lock-a", Who: "runner@test" });
    const stateWithWrongLock = await ctx.as("/v1/terraform-backend?workspace_id=tfw2&ID=lock-b", {
      body: {},
    });
    expect(stateWithWrongLock.status).toBe(409);
    const wrongUnlock = await ctx.as("/v1/terraform-workspaces/tfw2/unlock", { body: { ID: "lock-b" } });
    expect(wrongUnlock.status).toBe(409);
    // The runner's graceful shutdown unlocks with `{}`.
    expect((await ctx.as("/v1/terraform-workspaces/tfw2/unlock", { body: {} })).status).toBe(200);
    expect((await ctx.as(lockUrl, { body: { ...LOCK, ID: "lock-b" } })).status).toBe(200);
    const missingId = await ctx.as(lockUrl, { body: { Who: "x" } });
    expect(missingId.json).toMatchObject({ description: expect.stringMatching(/^ID: /) });
  });

  it("creates, lists and stores state-json for workspaces", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    const created = await ctx.as("/v1/terraform-workspaces", {
      body: { owner_id: "ins1", owner_type: "installs" },
    });
    expect(created.status).toBe(201);
    const ws = created.json as { id: string };
    expect(ws.id).toMatch(/^tfw/);
    expect((await ctx.as("/v1/terraform-workspaces")).json).toMatchObject([{ id: ws.id, owner_id: "ins1" }]);
    expect((await ctx.as(`/v1/terraform-workspaces/${ws.id}`)).json).toMatchObject({ id: ws.id });
    const pushed = await ctx.as(`/v1/terraform-workspaces/${ws.id}/state-json?job_id=rjb1`, {
      body: { format_version: "1.0" },
    });
    expect(pushed.status).toBe(200);
    const notJson = await ctx.as(`/v1/terraform-workspaces/${ws.id}/state-json`, {
      body: "not json",
      headers: { "content-type": "application/json" },
    });
    expect(notJson.status).toBe(400);
    expect((await ctx.as("/v1/terraform-workspaces/tfwnone")).status).toBe(404);
  });

  it("works as real terraform's http backend, locking included", async () => {
    const ctx = await withRunner();
    cp = ctx.cp;
    dir = await mkdtemp(join(tmpdir(), "cp-tf-"));
    await writeFile(join(dir, "cli.tfrc"), "");
    await writeFile(
      join(dir, "main.tf"),
      `terraform {\n  backend "http" {}\n}\nresource "terraform_data" "x" {\n  input = "hello"\n}\noutput "greeting" {\n  value = terraform_data.x.output\n}\n`,
    );
    const q = `token=${ctx.runner.token}&job_id=rjb1`;
    const env = {
      ...process.env,
      TF_CLI_CONFIG_FILE: join(dir, "cli.tfrc"),
      CHECKPOINT_DISABLE: "1",
      TF_IN_AUTOMATION: "1",
    };
    const tf = (...args: string[]) => execFileAsync("terraform", args, { cwd: dir, env });
    await tf(
      "init",
      "-input=false",
      `-backend-config=address=${ctx.cp.url}/v1/terraform-backend?workspace_id=tfw9&${q}`,
      `-backend-config=lock_address=${ctx.cp.url}/v1/terraform-workspaces/tfw9/lock?${q}`,
      `-backend-config=unlock_address=${ctx.cp.url}/v1/terraform-workspaces/tfw9/unlock?${q}`,
      "-backend-config=lock_method=POST",
      "-backend-config=unlock_method=POST",
    );
    await tf("apply", "-input=false", "-auto-approve");
    const state = await ctx.as("/v1/terraform-backend?workspace_id=tfw9");
    expect(JSON.parse(state.text)).toMatchObject({ outputs: { greeting: { value: "hello" } } });
    expect(ctx.cp.stats().requests).toMatchObject({
      LockTerraformWorkspace: expect.any(Number),
      UnlockTerraformWorkspace: expect.any(Number),
    });

    expect(
      (await ctx.as("/v1/terraform-workspaces/tfw9/lock", { body: { ...LOCK, ID: "held-elsewhere" } }))
        .status,
    ).toBe(200);
    const blocked = await tf("apply", "-input=false", "-auto-approve", "-lock-timeout=0s").then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(blocked?.code).toBe(1);
    expect(blocked?.stderr).toMatch(/already locked/);
  }, 30_000);
});
