/**
 * Keeping the control plane's view of a terraform workspace current: after an apply (or a cancel) the state
 * as `terraform show -json` goes to `POST /v1/terraform-workspaces/{ws}/state-json`, and after a cancel the
 * workspace lock is released (PROTOCOL.md §1.10, §3).
 */
import type { ControlPlaneApi, WorkspaceRef } from "../../control-plane/api.ts";
import type { JobLog } from "../handler.ts";
import { showJsonArgs } from "./args.ts";
import type { TerraformCli } from "./cli.ts";

/** Pushes the current state (`terraform show -json`) to the control plane; throws on failure. */
export async function pushStateJson(
  cli: TerraformCli,
  client: ControlPlaneApi,
  ref: WorkspaceRef,
  signal: AbortSignal,
  log: JobLog,
): Promise<void> {
  const state = await cli.run(showJsonArgs(), { signal, capture: true });
  await client.pushStateJson(ref, state, { signal });
  log.info("pushed the terraform state to the control plane", { workspaceId: ref.workspaceId });
}

/** What a graceful shutdown needs to know about the job. */
export interface ShutdownInput {
  /** The job's terraform, when it got that far. */
  cli: TerraformCli | undefined;
  client: ControlPlaneApi;
  ref: WorkspaceRef;
  /** `terraform init` succeeded, so `show` can read the state. */
  initialized: boolean;
  /** Bounds the state push and the unlock. */
  signal: AbortSignal;
  log: JobLog;
}

/**
 * After a cancel: waits for the interrupted command to end (runCommand sent it SIGINT, SIGKILL after the
 * grace), pushes the state, and unlocks the workspace. Logs failures; never throws.
 */
export async function saveAndUnlock(input: ShutdownInput): Promise<void> {
  const { cli, client, ref, signal, log } = input;
  await cli?.idle();
  if (cli !== undefined && input.initialized) {
    try {
      await pushStateJson(cli, client, ref, signal, log);
    } catch (err) {
      log.warn("could not push the terraform state after the cancel", { error: messageOf(err) });
    }
  }
  try {
    await client.unlockWorkspace(ref, { signal });
    log.info("released the terraform workspace lock", { workspaceId: ref.workspaceId });
  } catch (err) {
    log.warn("could not release the terraform workspace lock", {
      workspaceId: ref.workspaceId,
      error: messageOf(err),
    });
  }
}

/** The message of any thrown value. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}
