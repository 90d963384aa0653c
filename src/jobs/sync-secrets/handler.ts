/**
 * `sandbox-sync-secrets`: copies secrets from AWS Secrets Manager into Kubernetes Secrets.
 *
 * validate: formats, keys and credentials the runner can use · initialize: cluster access (cluster_info) ·
 * execute: reads every `kubernetes_secrets` entry first (secrets-manager.ts; a secret that cannot be read
 * fails the job naming its ARN before anything is written), turns each value into data keys by its format
 * and merges entries of the same Secret (secret-data.ts), creates missing namespaces, then server-side
 * applies each Secret (type Opaque) under field manager `runner-sync-secrets` with `force`: Secrets Manager
 * is the source of truth, so keys another manager set are taken over. A secret whose value is empty is
 * skipped (`exists: false`), as Nuon's runner does.
 *
 * Every value (and every key and token in play) is given to the redactor the moment it is known; logs and
 * error messages go through it, and outputs are built from names only: per entry, keyed
 * `<secret_name>/<namespace>/<name>/<key_name>` as Nuon's runner keys them, `{name (secret_name), arn,
 * kubernetes_namespace, kubernetes_name, kubernetes_key, kubernetes_keys, exists, timestamp}` (Nuon's
 * `length` of the value is left out). Sandbox mode reads and writes nothing and posts `sandbox_mode.outputs`.
 */
import { applyTargets, missingNamespaces, namespaceTarget, resolveTargets } from "../../kube/apply.ts";
import { createKubeClient, type KubeClient } from "../../kube/client.ts";
import { type ClusterAccessDeps, resolveClusterAccess } from "../../kube/cluster-access.ts";
import { createRedactor, type Redactor } from "../../logs/redact.ts";
import type { JobContext, JobHandler, JobLog } from "../handler.ts";
import { redactingLog } from "../redacting-log.ts";
import { parseSyncSecretsPlan, type SyncSecretsPlan } from "./plan.ts";
import {
  conflictingKeys,
  entryTexts,
  groupSecrets,
  isEmptyValue,
  outputKey,
  type SyncOutput,
  secretEntries,
  secretObject,
  syncOutput,
} from "./secret-data.ts";
import { checkAwsAuth, createSecretReader, type SecretReader } from "./secrets-manager.ts";

/** The field manager of every Secret this handler applies. */
export const FIELD_MANAGER = "runner-sync-secrets";

/** Options of createSyncSecretsHandler. */
export interface SyncSecretsHandlerOptions {
  /** How cluster credentials are found (environment, AWS credentials provider, …). */
  access?: Omit<ClusterAccessDeps, "signal" | "killGraceMs" | "onSecret">;
  /** Where secret values are registered and log lines scrubbed; default a redactor of this handler's own. */
  redactor?: Redactor;
  /** Secrets Manager endpoint (an emulator in tests); default the SDK's. */
  secretsManagerEndpoint?: string;
  /** Attempts per Secrets Manager request; default the SDK's 3. */
  secretsManagerMaxAttempts?: number;
}

/** Creates the handler of one sandbox-sync-secrets job. */
export function createSyncSecretsHandler(
  options: SyncSecretsHandlerOptions = {},
): JobHandler<SyncSecretsPlan> {
  const redactor = options.redactor ?? createRedactor();
  let client: KubeClient | undefined;
  let reader: SecretReader | undefined;
  let outputs: Record<string, unknown> = {};

  const log = (ctx: JobContext<SyncSecretsPlan>): JobLog => redactingLog(ctx.log, redactor);
  const scrub = (err: unknown): Error => {
    const message = err instanceof Error ? err.message : String(err);
    return new Error(redactor.redact(message).text, { cause: err });
  };

  return {
    name: "sync-secrets",
    needsWorkspace: false,
    parsePlan: parseSyncSecretsPlan,

    async validate(ctx) {
      if (ctx.plan.sandboxOutputs !== undefined) return;
      checkAwsAuth(ctx.plan.awsAuth);
      const conflicts = conflictingKeys(ctx.plan.secrets);
      if (conflicts.length > 0) {
        throw new Error(`two kubernetes_secrets entries write the same key: ${conflicts.join("; ")}`);
      }
    },

    async initialize(ctx) {
      if (ctx.plan.sandboxOutputs !== undefined || ctx.plan.secrets.length === 0) return;
      const access = await resolveClusterAccess(ctx.plan.clusterInfo, {
        ...options.access,
        signal: ctx.signal,
        killGraceMs: ctx.killGraceMs,
        onSecret: (secret: string) => redactor.add(secret),
      });
      client = createKubeClient(access);
      reader = createSecretReader(ctx.plan.awsAuth, {
        endpoint: options.secretsManagerEndpoint,
        maxAttempts: options.secretsManagerMaxAttempts,
        onSecret: (secret) => redactor.add(secret),
      });
      log(ctx).info("connecting to the cluster", { server: access.server, access: access.mode });
    },

    async execute(ctx) {
      const jobLog = log(ctx);
      if (ctx.plan.sandboxOutputs !== undefined) {
        jobLog.info("sandbox mode: no secret is read or written");
        outputs = ctx.plan.sandboxOutputs;
        return;
      }
      if (ctx.plan.secrets.length === 0) {
        jobLog.info("the plan names no secrets to sync");
        return;
      }
      const kube = client as KubeClient;
      const secrets = reader as SecretReader;
      try {
        // 1. Read everything first: a secret that cannot be read fails the job before any write.
        const items = [];
        const collected: Record<string, SyncOutput> = {};
        for (const sync of ctx.plan.secrets) {
          const value = await secrets.read(sync.arn, ctx.signal);
          if (value.text !== undefined) redactor.add(value.text);
          if (value.bytes !== undefined) redactor.add(Buffer.from(value.bytes).toString("utf8"));
          if (isEmptyValue(value)) {
            jobLog.warn("the secret has no value; its Kubernetes Secret is not written", { arn: sync.arn });
            collected[outputKey(sync)] = syncOutput(sync, [], false, value.createdAt);
            continue;
          }
          const entries = secretEntries(sync, value);
          for (const text of entryTexts(entries)) redactor.add(text);
          jobLog.info("read the secret from AWS Secrets Manager", {
            arn: sync.arn,
            format: sync.format,
            keys: Object.keys(entries).sort(),
          });
          items.push({ sync, entries });
          collected[outputKey(sync)] = syncOutput(sync, Object.keys(entries), true, value.createdAt);
        }

        // 2. One object per Secret, namespaces first, then server-side apply.
        const desired = groupSecrets(items);
        const targets = await resolveTargets(kube, desired.map(secretObject), { signal: ctx.signal });
        const missing = await missingNamespaces(kube, targets, ctx.signal);
        for (const namespace of missing)
          jobLog.info("creating the namespace the Secret goes into", { namespace });
        await applyTargets(kube, [...missing.map((ns) => namespaceTarget(ns)), ...targets], {
          fieldManager: FIELD_MANAGER,
          force: true,
          signal: ctx.signal,
          onResult: (r) => {
            if (r.target.ref.kind !== "Secret") return;
            const data = (r.target.object.data ?? {}) as Record<string, string>;
            jobLog.info("synced the Kubernetes Secret", {
              namespace: r.target.ref.namespace,
              name: r.target.ref.name,
              keys: Object.keys(data).sort(),
              action: r.action,
            });
          },
        });
        outputs = collected;
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        throw scrub(err);
      }
    },

    async outputs() {
      return outputs;
    },

    async cleanup() {
      reader?.close();
      reader = undefined;
      await client?.close();
      client = undefined;
    },
  };
}
