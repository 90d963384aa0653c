/**
 * The control plane's terraform http backend (PROTOCOL.md §1.10): state at `/v1/terraform-backend`, lock and
 * unlock at `/v1/terraform-workspaces/{ws}/lock|unlock`, all authenticated by `?token=` (as Nuon's runner
 * does). The addresses reach terraform through its `TF_HTTP_*` environment variables, never argv or a file
 * terraform keeps: the token stays out of `ps`, of `.terraform/terraform.tfstate` and of the saved plan.
 */

/** File name of the override that points the module at the http backend (`*_override.tf` merges last). */
export const BACKEND_OVERRIDE_FILE = "runner_backend_override.tf";

/** Contents of the override: replaces whatever backend the module declares (or adds one). */
export const BACKEND_OVERRIDE_TF = 'terraform {\n  backend "http" {}\n}\n';

/** Where the http backend lives and who is asking. */
export interface HttpBackendRef {
  /** The control plane's base URL, no trailing slash. */
  baseUrl: string;
  /** The runner's API token. */
  token: string;
  workspaceId: string;
  jobId: string;
}

/** The three addresses of the http backend, each with `token` (and `job_id`) in its query. */
export function httpBackendAddresses(ref: HttpBackendRef): { address: string; lock: string; unlock: string } {
  const base = ref.baseUrl.replace(/\/+$/, "");
  const ws = `${base}/v1/terraform-workspaces/${encodeURIComponent(ref.workspaceId)}`;
  const lockQuery = new URLSearchParams({ token: ref.token, job_id: ref.jobId }).toString();
  const stateQuery = new URLSearchParams({
    token: ref.token,
    workspace_id: ref.workspaceId,
    job_id: ref.jobId,
  }).toString();
  return {
    address: `${base}/v1/terraform-backend?${stateQuery}`,
    lock: `${ws}/lock?${lockQuery}`,
    unlock: `${ws}/unlock?${lockQuery}`,
  };
}

/** The `TF_HTTP_*` variables that configure terraform's http backend for `ref` (lock and unlock by POST). */
export function httpBackendEnv(ref: HttpBackendRef): Record<string, string> {
  const addresses = httpBackendAddresses(ref);
  return {
    TF_HTTP_ADDRESS: addresses.address,
    TF_HTTP_LOCK_ADDRESS: addresses.lock,
    TF_HTTP_UNLOCK_ADDRESS: addresses.unlock,
    TF_HTTP_LOCK_METHOD: "POST",
    TF_HTTP_UNLOCK_METHOD: "POST",
  };
}
