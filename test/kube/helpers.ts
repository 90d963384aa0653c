import { createKubeClient, type KubeClient } from "../../src/kube/client.ts";
import { resolveClusterAccess } from "../../src/kube/cluster-access.ts";
import type { FakeApiServer } from "../support/fake-apiserver.ts";

/** A client of `api` through the real cluster-access path (endpoint + CA + token). */
export async function clientOf(api: FakeApiServer, namespace?: string): Promise<KubeClient> {
  const access = await resolveClusterAccess(
    namespace === undefined
      ? { endpoint: api.url, ca_data: api.caData, token: api.token }
      : { kube_config: api.kubeconfig({ namespace }) },
    { env: {} },
  );
  return createKubeClient(access);
}

/** Polls `fn` until it returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(
  fn: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("eventually: condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
