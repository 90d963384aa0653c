/**
 * `helm-chart-deploy` through the helm CLI (argv in args.ts, output parsing in outputs.ts), by operation:
 *
 * - `create-apply-plan`: the current release manifest (`helm get manifest`) against the one
 *   `helm upgrade --install --dry-run=client -o json` renders; the result holds Nuon's HelmPlanContents
 *   (`{plan, op: install|upgrade, helm_content_diff}`), the job log the readable diff.
 * - `create-teardown-plan`: every object of the current release, to be deleted (`op: uninstall`).
 * - `apply-plan` (or no saved plan): `helm upgrade --install --wait --timeout …` with the values files and
 *   the `--set` values (as a values file, never argv), `--create-namespace` and `--take-ownership` when the
 *   plan says so; or `helm uninstall --wait` when the saved plan's op is `uninstall`.
 *
 * helm gets a kubeconfig file (0600, in the job's workspace, removed in cleanup) holding a token valid
 * when each command starts, and its own cache/config/data homes in the workspace. No helm on PATH fails the
 * job saying so. Without `helm.chart` the chart is the OCI artifact at `src_registry`/`src_tag`
 * (chart-source.ts). Outputs: release, namespace, revision, status, chart, the rendered objects' identities
 * and, for a fetched chart, `chart_artifact {ref, digest}`.
 */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { decompress } from "../../control-plane/compress.ts";
import { nsToMs } from "../../control-plane/schemas.ts";
import { CommandError } from "../../exec/command-error.ts";
import { baseEnv } from "../../exec/env.ts";
import { type CommandResult, runCommand } from "../../exec/run-command.ts";
import {
  type ClusterAccess,
  type ClusterAccessDeps,
  resolveClusterAccess,
} from "../../kube/cluster-access.ts";
import { renderPlan } from "../../kube/diff.ts";
import type { Redactor } from "../../logs/redact.ts";
import type { RegistryConnectOptions } from "../../sources/oci/connect.ts";
import type { JobContext, JobHandler } from "../handler.ts";
import { describeOciSource } from "../oci-source.ts";
import {
  getManifestArgs,
  type HelmTarget,
  statusArgs,
  uninstallArgs,
  upgradeArgs,
  versionArgs,
} from "./args.ts";
import { type FetchedChart, fetchChartFromRegistry } from "./chart-source.ts";
import {
  type HelmRelease,
  helmOutputs,
  isReleaseNotFound,
  manifestDiff,
  manifestObjects,
  parseRelease,
} from "./outputs.ts";
import { type HelmPlan, parseHelmPlan } from "./plan.ts";
import { setValuesDocument } from "./values.ts";

/** Storage drivers the helm CLI knows (HELM_DRIVER). */
export const HELM_DRIVERS: ReadonlySet<string> = new Set([
  "secret",
  "secrets",
  "configmap",
  "configmaps",
  "memory",
  "sql",
]);

/** Options of createHelmHandler. */
export interface HelmHandlerOptions {
  access?: Omit<ClusterAccessDeps, "signal" | "killGraceMs" | "onSecret">;
  /** Receives the cluster credentials in play, so that logs and errors never show them. */
  redactor?: Pick<Redactor, "add">;
  /** The helm executable; default `helm` from PATH. */
  helmPath?: string;
  /** The runner's environment (passed through baseEnv); default process.env. */
  processEnv?: Readonly<Record<string, string | undefined>>;
  /** Provides a chart path when the plan names no `helm.chart`; default: the OCI artifact at `src_registry`. */
  fetchChart?: (ctx: JobContext<HelmPlan>, dir: string) => Promise<string>;
  /** Dispatcher and timeouts of registry requests (chart artifacts); default undici's global dispatcher. */
  registry?: RegistryConnectOptions;
}

type Op = "install" | "upgrade" | "uninstall";

/** Creates the handler. */
export function createHelmHandler(options: HelmHandlerOptions = {}): JobHandler<HelmPlan> {
  let access: ClusterAccess | undefined;
  let dir: string | undefined;
  let ownDir = false;
  let target: HelmTarget | undefined;
  let chart = "";
  let valuesFiles: string[] = [];
  let env: Record<string, string> = {};
  let release: HelmRelease | undefined;
  let op: Op = "upgrade";
  let fetchedChart: FetchedChart | undefined;

  /** The chart from the plan's registry artifact (validate made sure the plan names one). */
  async function chartFromRegistry(ctx: JobContext<HelmPlan>, into: string): Promise<string> {
    fetchedChart = await fetchChartFromRegistry({
      source: ctx.plan.source as NonNullable<HelmPlan["source"]>,
      dir: into,
      signal: ctx.signal,
      log: ctx.log,
      onSecret: (secret) => options.redactor?.add(secret),
      connect: options.registry,
    });
    return fetchedChart.chart;
  }

  async function helm(ctx: JobContext<HelmPlan>, args: string[], capture: boolean): Promise<CommandResult> {
    if (access !== undefined && target !== undefined) {
      // A fresh token for every command (EKS tokens last 15 minutes).
      await writeFile(target.kubeconfig, await access.kubeconfigYaml(), { mode: 0o600 });
    }
    try {
      return await runCommand({
        file: options.helmPath ?? "helm",
        args,
        env,
        signal: ctx.signal,
        killGraceMs: ctx.killGraceMs,
        captureStdout: capture,
        // Captured stdout (release JSON, manifests) may hold Secret data: it is never logged.
        onLine: (line, stream) => {
          if (stream === "stderr" || !capture) ctx.log.line(line, stream);
        },
      });
    } catch (err) {
      if (err instanceof CommandError && err.code === "NOT_FOUND") {
        throw new Error(
          "helm is not installed on this runner (no helm executable on PATH); helm-chart-deploy needs the helm CLI",
          { cause: err },
        );
      }
      throw err;
    }
  }

  function failed(what: string, r: CommandResult): Error {
    const why = r.stderrTail.join(" ").trim() || `exit code ${r.exitCode ?? r.signal}`;
    return new Error(`helm ${what} failed for release ${target?.namespace}/${target?.release}: ${why}`);
  }

  /** The current release, or undefined when there is none. */
  async function current(ctx: JobContext<HelmPlan>): Promise<HelmRelease | undefined> {
    const t = target as HelmTarget;
    const r = await helm(ctx, statusArgs(t), true);
    if (r.failed) {
      if (!r.isCanceled && isReleaseNotFound(r.stderrTail.join("\n"))) return undefined;
      throw failed("status", r);
    }
    const rel = parseRelease(r.stdout ?? "");
    const m = await helm(ctx, getManifestArgs(t), true);
    if (m.failed) throw failed("get manifest", m);
    return { ...rel, manifest: m.stdout ?? "" };
  }

  async function upgrade(
    ctx: JobContext<HelmPlan>,
    dryRun: boolean,
    timeoutSeconds: number,
  ): Promise<HelmRelease> {
    const t = target as HelmTarget;
    const r = await helm(
      ctx,
      upgradeArgs({
        ...t,
        chart,
        ...(ctx.plan.chartVersion !== undefined ? { version: ctx.plan.chartVersion } : {}),
        ...(ctx.plan.repoUrl !== undefined ? { repo: ctx.plan.repoUrl } : {}),
        valuesFiles,
        createNamespace: ctx.plan.createNamespace,
        takeOwnership: ctx.plan.takeOwnership,
        timeoutSeconds,
        dryRun,
      }),
      true,
    );
    if (r.failed) throw failed(dryRun ? "upgrade --install --dry-run" : "upgrade --install", r);
    return parseRelease(r.stdout ?? "");
  }

  function timeoutSeconds(ctx: JobContext<HelmPlan>): number {
    if (ctx.plan.waitTimeoutSeconds !== undefined) return Math.ceil(ctx.plan.waitTimeoutSeconds);
    const ns = ctx.job.execution_timeout;
    return ns !== undefined && ns > 0 ? Math.max(60, Math.floor(nsToMs(ns) / 1000) - 10) : 300;
  }

  function store(ctx: JobContext<HelmPlan>, planOp: Op, diffs: ReturnType<typeof manifestDiff>): void {
    const text = renderPlan(diffs);
    for (const line of text.trimEnd().split("\n")) ctx.log.line(line, "stdout");
    const contents = JSON.stringify({ plan: text, op: planOp, helm_content_diff: diffs });
    ctx.result.contents = contents;
    ctx.result.contentsDisplay = contents;
  }

  return {
    name: "helm",
    parsePlan: parseHelmPlan,
    async validate(ctx) {
      if (ctx.plan.chart === undefined && options.fetchChart === undefined) {
        if (ctx.plan.source === undefined) {
          throw new Error(
            "the plan names no chart: set src_registry and src_tag (the chart artifact), or helm.chart (a chart path or reference helm understands)",
          );
        }
        try {
          describeOciSource(ctx.plan.source);
        } catch (err) {
          throw new Error(`cannot fetch the chart artifact from src_registry: ${(err as Error).message}`, {
            cause: err,
          });
        }
      }
      setValuesDocument(ctx.plan.values); // fails early on a malformed value name or type
    },
    async initialize(ctx) {
      access = await resolveClusterAccess(ctx.plan.clusterInfo, {
        ...options.access,
        signal: ctx.signal,
        killGraceMs: ctx.killGraceMs,
        ...(options.redactor !== undefined ? { onSecret: (s: string) => options.redactor?.add(s) } : {}),
      });
      const namespace = ctx.plan.namespace ?? access.defaultNamespace;
      if (ctx.workspaceDir !== undefined) dir = ctx.workspaceDir;
      else {
        dir = await mkdtemp(path.join(tmpdir(), "runner-helm-"));
        ownDir = true;
      }
      await chmod(dir, 0o700);
      target = { release: ctx.plan.release, namespace, kubeconfig: path.join(dir, "kubeconfig") };
      valuesFiles = [];
      for (const [i, text] of ctx.plan.valuesFiles.entries()) {
        const file = path.join(dir, `values-${i}.yaml`);
        await writeFile(file, text, { mode: 0o600 });
        valuesFiles.push(file);
      }
      if (ctx.plan.values.length > 0) {
        const file = path.join(dir, "values-set.yaml");
        await writeFile(file, stringify(setValuesDocument(ctx.plan.values)), { mode: 0o600 });
        valuesFiles.push(file);
      }
      const driver = ctx.plan.storageDriver;
      if (driver !== undefined && !HELM_DRIVERS.has(driver)) {
        ctx.log.warn(
          "the helm CLI does not know this storage driver; releases are kept in helm's default (secrets)",
          { storageDriver: driver },
        );
      }
      env = {
        ...baseEnv(options.processEnv ?? process.env),
        HELM_CACHE_HOME: path.join(dir, "helm", "cache"),
        HELM_CONFIG_HOME: path.join(dir, "helm", "config"),
        HELM_DATA_HOME: path.join(dir, "helm", "data"),
        ...(driver !== undefined && HELM_DRIVERS.has(driver) ? { HELM_DRIVER: driver } : {}),
      };
      chart = ctx.plan.chart ?? (await (options.fetchChart ?? chartFromRegistry)(ctx, dir));
      const version = await helm(ctx, versionArgs(), true);
      if (version.failed) throw failed("version", version);
      ctx.log.info("using the helm CLI", {
        version: (version.stdout ?? "").trim(),
        release: target.release,
        namespace,
        access: access.mode,
      });
    },
    async execute(ctx) {
      const operation = ctx.job.operation;
      if (operation === "create-apply-plan") {
        const before = await current(ctx);
        const next = await upgrade(ctx, true, timeoutSeconds(ctx));
        const ns = (target as HelmTarget).namespace;
        op = before === undefined ? "install" : "upgrade";
        store(
          ctx,
          op,
          manifestDiff(manifestObjects(before?.manifest ?? "", ns), manifestObjects(next.manifest, ns), true),
        );
        return;
      }
      if (operation === "create-teardown-plan") {
        const before = await current(ctx);
        op = "uninstall";
        store(
          ctx,
          op,
          manifestDiff(manifestObjects(before?.manifest ?? "", (target as HelmTarget).namespace), [], true),
        );
        return;
      }
      if (operation !== undefined && operation !== "apply-plan" && operation !== "exec") {
        throw new Error(`helm-chart-deploy does not support operation ${JSON.stringify(operation)}`);
      }
      op = savedOp(ctx.plan.applyPlanContents);
      if (op === "uninstall") {
        if ((await current(ctx)) === undefined) {
          ctx.log.info("the release does not exist; nothing to uninstall", { release: ctx.plan.release });
        } else {
          const r = await helm(ctx, uninstallArgs(target as HelmTarget, timeoutSeconds(ctx)), false);
          if (r.failed) throw failed("uninstall", r);
        }
        release = undefined;
        return;
      }
      release = await upgrade(ctx, false, timeoutSeconds(ctx));
      ctx.log.info("helm release deployed", {
        release: release.name,
        revision: release.revision,
        status: release.status,
      });
    },
    async outputs(ctx) {
      if (ctx.job.operation === "create-apply-plan" || ctx.job.operation === "create-teardown-plan")
        return {};
      return {
        ...helmOutputs(release, target as HelmTarget, op),
        ...(fetchedChart === undefined
          ? {}
          : { chart_artifact: { ref: fetchedChart.ref, digest: fetchedChart.digest } }),
      };
    },
    async cleanup() {
      if (target !== undefined) await rm(target.kubeconfig, { force: true });
      if (ownDir && dir !== undefined) await rm(dir, { recursive: true, force: true });
      await access?.close();
      access = undefined;
    },
  };
}

/** The op of a saved helm plan (base64url(gzip(JSON {op}))); none means install-or-upgrade. */
export function savedOp(applyPlanContents: string | undefined): Op {
  if (applyPlanContents === undefined || applyPlanContents.trim() === "") return "upgrade";
  let parsed: { op?: unknown };
  try {
    parsed = JSON.parse(decompress(applyPlanContents).toString("utf8")) as { op?: unknown };
  } catch (err) {
    throw new Error("apply_plan_contents is not a compressed helm plan (base64url of gzip of JSON)", {
      cause: err,
    });
  }
  if (parsed.op === "install" || parsed.op === "upgrade" || parsed.op === "uninstall") return parsed.op;
  throw new Error(
    `apply_plan_contents has op ${JSON.stringify(parsed.op)}; expected install, upgrade or uninstall`,
  );
}
