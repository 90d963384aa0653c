/**
 * `job-deploy`: runs one Kubernetes Job built from the plan's `kubernetes_job` section (plan.ts, a Runner
 * extension) and follows it to the end:
 *
 * - a Job labelled with this job's id that is still running is re-adopted (a runner restarted mid-job
 *   follows the Job it started instead of starting another), one that completed is reported as done, one
 *   that failed is deleted and replaced;
 * - its pods' logs are streamed into the job log as they come (pod-logs.ts);
 * - Complete → success; Failed → a message naming the Job and the reason (BackoffLimitExceeded,
 *   DeadlineExceeded, …) with the pods' exit codes; a pod unable to pull its image for longer than
 *   `image_pull_timeout_seconds` fails the job and deletes the Job;
 * - a cancel or an execution timeout deletes the Job with foreground propagation (its pods go first); a
 *   runner drain or shutdown leaves it running, to be re-adopted.
 *
 * Plan operations: `create-apply-plan` validates the Job with a server dry run and stores it as the plan;
 * teardown plans and deletes have nothing to do (Jobs are not kept as deployed state).
 */
import { stringify } from "yaml";
import { decompress } from "../../control-plane/compress.ts";
import {
  createKubeClient,
  describeRef,
  type KubeClient,
  type KubeObject,
  type ObjectRef,
} from "../../kube/client.ts";
import { type ClusterAccessDeps, resolveClusterAccess } from "../../kube/cluster-access.ts";
import { isKubeError } from "../../kube/errors.ts";
import { type PodLogs, startPodLogs } from "../../kube/pod-logs.ts";
import { watchUntil } from "../../kube/wait.ts";
import type { Redactor } from "../../logs/redact.ts";
import type { AbortReason, BaseJobContext, JobContext, JobHandler } from "../handler.ts";
import { buildJob, JOB_ID_LABEL, jobName, labelValue } from "./job-spec.ts";
import { type KubernetesJobPlan, parseKubernetesJobPlan } from "./plan.ts";
import { exitSummary, imagePullFailure, jobState } from "./result.ts";

/** Field manager of the Jobs and namespaces this handler creates. */
export const JOB_FIELD_MANAGER = "nuon-runner";

/** Options of createKubernetesJobHandler. */
export interface KubernetesJobHandlerOptions {
  access?: Omit<ClusterAccessDeps, "signal" | "killGraceMs" | "onSecret">;
  /** Receives the cluster credentials in play, so that logs and errors never show them. */
  redactor?: Pick<Redactor, "add">;
  /** How long logs may take to drain after the Job finished, ms; default 5000. */
  logSettleMs?: number;
  /** Retry pause of the log followers, ms; default 1000. */
  logRetryMs?: number;
  /** How often stuck image pulls are checked, ms; default 1000. */
  watchdogIntervalMs?: number;
}

type Run = { kind: "run" } | { kind: "plan" } | { kind: "nothing"; why: string };

function runKind(operation: string | undefined, applyPlanContents: string | undefined): Run {
  if (operation === "create-apply-plan") return { kind: "plan" };
  if (operation === "create-teardown-plan")
    return { kind: "nothing", why: "a teardown has nothing to delete: Jobs are not kept as deployed state" };
  if (operation === "apply-plan" && applyPlanContents) {
    const saved = JSON.parse(decompress(applyPlanContents).toString("utf8")) as { op?: string };
    if (saved.op === "delete")
      return {
        kind: "nothing",
        why: "a teardown has nothing to delete: Jobs are not kept as deployed state",
      };
  }
  return { kind: "run" };
}

/** Creates the handler. */
export function createKubernetesJobHandler(
  options: KubernetesJobHandlerOptions = {},
): JobHandler<KubernetesJobPlan | undefined> {
  let client: KubeClient | undefined;
  let namespace = "default";
  let jobRef: ObjectRef | undefined;
  let finished: KubeObject | undefined;
  let adopted = false;
  let shutdown: Promise<void> = Promise.resolve();

  async function ensureNamespace(ctx: JobContext<KubernetesJobPlan>, c: KubeClient): Promise<void> {
    if ((await c.get({ apiVersion: "v1", kind: "Namespace", name: namespace }, ctx.signal)) !== undefined)
      return;
    ctx.log.info("the namespace does not exist; creating it", { namespace });
    await c.apply(
      { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
      { fieldManager: JOB_FIELD_MANAGER },
      ctx.signal,
    );
  }

  /** Finds the Job of an earlier execution of this job; deletes failed ones. */
  async function adoptable(
    ctx: JobContext<KubernetesJobPlan>,
    c: KubeClient,
  ): Promise<KubeObject | undefined> {
    const selector = `${JOB_ID_LABEL}=${labelValue(ctx.job.id)}`;
    const { items } = await c.list("batch/v1", "Job", { namespace, labelSelector: selector }, ctx.signal);
    for (const item of items) {
      const job: KubeObject = { ...item, apiVersion: "batch/v1", kind: "Job" };
      const ref = { apiVersion: "batch/v1", kind: "Job", name: job.metadata.name ?? "", namespace };
      if (job.metadata.deletionTimestamp !== undefined) continue;
      const state = jobState(job);
      if (state.state !== "failed") return job;
      ctx.log.info("deleting the failed Job of an earlier execution before starting again", {
        job: ref.name,
      });
      await c.delete(ref, { propagationPolicy: "Foreground" }, ctx.signal);
      await watchUntil(c, ref, (o) => o === undefined, ctx.signal);
    }
    return undefined;
  }

  async function follow(
    ctx: JobContext<KubernetesJobPlan>,
    c: KubeClient,
    job: KubeObject,
  ): Promise<KubeObject> {
    const ref = jobRef as ObjectRef;
    const uid = job.metadata.uid ?? "";
    const stop = new AbortController();
    const forward = () => stop.abort(ctx.signal.reason);
    ctx.signal.addEventListener("abort", forward, { once: true });
    const stuckSince = new Map<string, number>();
    const lastPods = new Map<string, KubeObject>();
    let pullFailure: string | undefined;
    const pods = new Set<string>();
    const logs: PodLogs = startPodLogs(
      c,
      {
        namespace,
        labelSelector: `controller-uid=${uid}`,
        onLine: (text, pod) => ctx.log.line(pods.size > 1 ? `[${pod}] ${text}` : text, "stdout"),
        onPod: (pod) => {
          const name = pod.metadata.name ?? "";
          if (!pods.has(name)) {
            pods.add(name);
            ctx.log.info("the Job started a pod", { pod: name });
          }
          const failure = imagePullFailure(pod);
          if (failure === undefined) stuckSince.delete(name);
          else if (!stuckSince.has(name)) {
            stuckSince.set(name, Date.now());
            ctx.log.warn("a pod of the Job cannot pull its image", {
              pod: name,
              reason: failure.reason,
              message: failure.message,
            });
          }
          lastPods.set(name, pod);
        },
        ...(options.logRetryMs !== undefined ? { retryMs: options.logRetryMs } : {}),
      },
      stop.signal,
    );
    const watchdog = setInterval(() => {
      for (const [pod, since] of stuckSince) {
        if (Date.now() - since < ctx.plan.imagePullTimeoutMs) continue;
        const last = lastPods.get(pod);
        const failure = last === undefined ? undefined : imagePullFailure(last);
        const seconds = Math.round(ctx.plan.imagePullTimeoutMs / 1000);
        pullFailure = `${describeRef(ref)} cannot start: pod ${pod} could not pull its image for ${seconds}s (container ${failure?.container}: ${failure?.reason}: ${failure?.message})`;
        stop.abort("image pull failure");
      }
    }, options.watchdogIntervalMs ?? 1000);
    try {
      const final = await watchUntil(
        c,
        ref,
        (o) => o === undefined || jobState(o).state !== "running",
        stop.signal,
      );
      if (final === undefined) throw new Error(`${describeRef(ref)} was deleted before it finished`);
      await logs.settle(options.logSettleMs ?? 5000);
      return final;
    } catch (err) {
      await logs.stop();
      if (pullFailure !== undefined) {
        ctx.log.info("deleting the Job whose image cannot be pulled", { job: ref.name });
        await c
          .delete(ref, { propagationPolicy: "Foreground" }, AbortSignal.timeout(30_000))
          .catch(() => undefined);
        throw new Error(pullFailure);
      }
      throw err;
    } finally {
      clearInterval(watchdog);
      ctx.signal.removeEventListener("abort", forward);
    }
  }

  async function failureDetail(c: KubeClient, job: KubeObject, signal: AbortSignal): Promise<string> {
    const uid = job.metadata.uid ?? "";
    const pods = await c
      .list("v1", "Pod", { namespace, labelSelector: `controller-uid=${uid}` }, signal)
      .catch(() => undefined);
    const exits = (pods?.items ?? []).flatMap((p) =>
      exitSummary(p).map((e) => `pod ${p.metadata.name}: ${e}`),
    );
    return exits.length > 0 ? ` (${exits.slice(-3).join("; ")})` : "";
  }

  return {
    name: "kubernetes-job",
    needsWorkspace: false,
    parsePlan: parseKubernetesJobPlan,
    async initialize(ctx) {
      if (ctx.plan === undefined) return;
      const access = await resolveClusterAccess(ctx.plan.clusterInfo, {
        ...options.access,
        signal: ctx.signal,
        killGraceMs: ctx.killGraceMs,
        ...(options.redactor !== undefined ? { onSecret: (s: string) => options.redactor?.add(s) } : {}),
      });
      client = createKubeClient(access);
      namespace = ctx.plan.namespace ?? access.defaultNamespace;
      ctx.log.info("connecting to the cluster", { server: access.server, access: access.mode, namespace });
    },
    async execute(anyCtx) {
      if (anyCtx.plan === undefined) {
        anyCtx.log.warn(
          "the plan has no kubernetes_job section: nothing to run (Nuon no longer supports job components; this runner runs a Kubernetes Job when the plan has one)",
        );
        return;
      }
      const ctx = anyCtx as JobContext<KubernetesJobPlan>;
      const c = client as KubeClient;
      const run = runKind(ctx.job.operation, ctx.plan.applyPlanContents);
      const name = jobName(ctx.plan, ctx.execution.id);
      const spec = buildJob(ctx.plan, { name, namespace, jobId: ctx.job.id, executionId: ctx.execution.id });
      if (run.kind === "nothing") {
        ctx.log.info(run.why);
        return;
      }
      if (run.kind === "plan") {
        // The server validates the Job with a dry run, unless its namespace is still to be created.
        const nsExists =
          (await c.get({ apiVersion: "v1", kind: "Namespace", name: namespace }, ctx.signal)) !== undefined;
        if (nsExists) {
          await c
            .create(spec, { fieldManager: JOB_FIELD_MANAGER, dryRun: true }, ctx.signal)
            .catch((err: unknown) => {
              throw new Error(`the Job ${namespace}/${name} is not valid: ${(err as Error).message}`, {
                cause: err,
              });
            });
        }
        const planText =
          `Plan: 1 Job to run.\n${nsExists ? "" : `+ create Namespace ${namespace}\n`}` +
          `+ run Job ${namespace}/${name} (image ${ctx.plan.image})\n`;
        for (const line of planText.trimEnd().split("\n")) ctx.log.line(line, "stdout");
        ctx.result.contents = JSON.stringify({ op: "apply", plan: stringify(spec), plan_text: planText });
        ctx.result.contentsDisplay = ctx.result.contents;
        return;
      }
      await ensureNamespace(ctx, c);
      let job = await adoptable(ctx, c);
      if (job !== undefined) {
        adopted = true;
        jobRef = { apiVersion: "batch/v1", kind: "Job", name: job.metadata.name ?? "", namespace };
        const state = jobState(job).state;
        ctx.log.info(
          state === "succeeded"
            ? "an earlier execution of this job already ran the Job to completion"
            : "re-adopting the Job an earlier execution of this job started; its logs are streamed from the start",
          { job: jobRef.name },
        );
      } else {
        jobRef = { apiVersion: "batch/v1", kind: "Job", name, namespace };
        try {
          job = await c.create(spec, { fieldManager: JOB_FIELD_MANAGER }, ctx.signal);
        } catch (err) {
          if (isKubeError(err, "ALREADY_EXISTS")) {
            throw new Error(
              `a Job named ${name} already exists in namespace ${namespace} and was not started for this job; delete it or choose another kubernetes_job.name`,
              { cause: err },
            );
          }
          throw new Error(`cannot create Job ${namespace}/${name}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        ctx.log.info("started the Job", { job: name, image: ctx.plan.image });
      }
      const final = await follow(ctx, c, job);
      finished = final;
      const state = jobState(final);
      if (state.state === "failed")
        throw new Error(`${state.message}${await failureDetail(c, final, ctx.signal)}`);
      ctx.log.info("the Job completed", { job: jobRef.name });
    },
    async outputs() {
      const status = (finished?.status ?? {}) as {
        succeeded?: number;
        failed?: number;
        startTime?: string;
        completionTime?: string;
      };
      return {
        job_name: jobRef?.name ?? "",
        namespace,
        adopted,
        ...(finished !== undefined
          ? {
              status: jobState(finished).state,
              succeeded: status.succeeded ?? 0,
              failed: status.failed ?? 0,
              ...(status.startTime ? { start_time: status.startTime } : {}),
              ...(status.completionTime ? { completion_time: status.completionTime } : {}),
            }
          : {}),
      };
    },
    async gracefulShutdown(ctx: BaseJobContext, reason: AbortReason) {
      const c = client;
      const ref = jobRef;
      if (c === undefined || ref === undefined) return;
      if (reason.kind !== "cancelled" && reason.kind !== "timed-out") {
        ctx.log.info("the runner is stopping; the Job keeps running and a restarted runner re-adopts it", {
          job: ref.name,
        });
        return;
      }
      ctx.log.info("deleting the Job (foreground propagation: its pods go first)", {
        job: ref.name,
        reason: reason.kind,
      });
      shutdown = c
        .delete(ref, { propagationPolicy: "Foreground" }, AbortSignal.timeout(30_000))
        .then(() => undefined)
        .catch((err: unknown) =>
          ctx.log.warn("could not delete the Job", { job: ref.name, error: (err as Error).message }),
        );
      await shutdown;
    },
    async cleanup() {
      await shutdown;
      await client?.close();
      client = undefined;
    },
  };
}
