/**
 * The VM service definition (service.yml): who runs the runner, where its files live, how long it may drain,
 * its resource limits and its hardening. ONE zod schema holds every key and its default; every value that
 * lands in the systemd unit is checked against a strict pattern, so no value can smuggle a newline (a new
 * directive) or a `%` specifier into the unit.
 */
import * as z from "zod";
import { parseDurationMs } from "../config/duration.ts";

/** The job-running modes a service can run (`runner <mode>`). */
export const SERVICE_MODES = ["run", "org", "build", "install"] as const;

/** An absolute path of safe characters (no spaces, quotes, `%`, `$` or newlines). */
const absolutePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._@+/-]*$/, "must be an absolute path of letters, digits and . _ @ + - /")
  .refine((p) => !p.split("/").includes(".."), "must not contain ..");

/** A POSIX user or group name as useradd accepts it. */
const accountName = z
  .string()
  .regex(
    /^[a-z_][a-z0-9_-]{0,31}$/,
    "must be a user/group name: lowercase letters, digits, _ and -, at most 32",
  );

/** A duration ("30s", "10m", "1h30m" or milliseconds) → milliseconds. */
const duration = (minMs: number) =>
  z.union([z.string(), z.number()]).transform((value, ctx) => {
    const ms = parseDurationMs(value);
    if (ms === undefined || ms < minMs) {
      ctx.addIssue({
        code: "custom",
        message: `must be a duration such as "30s", "10m" or "1h30m"${minMs > 0 ? ` of at least ${minMs / 1000}s` : ""}`,
      });
      return z.NEVER;
    }
    return ms;
  });

const limits = z
  .strictObject({
    /** systemd MemoryMax: bytes with an optional K/M/G/T suffix, a percentage, or "infinity". Default 3G. */
    memoryMax: z
      .union([z.string(), z.number()])
      .transform(String)
      .pipe(
        z
          .string()
          .regex(
            /^(\d+[KMGT]?|\d{1,3}%|infinity)$/,
            'must be bytes like "3G" or "512M", a percentage, or "infinity"',
          ),
      )
      .default("3G"),
    /** systemd CPUQuota: a percentage of one CPU ("175%" = 1.75 CPUs). Default 175%. */
    cpuQuota: z
      .string()
      .regex(/^\d{1,5}%$/, 'must be a percentage of one CPU, e.g. "175%"')
      .default("175%"),
    /** systemd TasksMax: most processes and threads (jobs fork terraform, helm, git…). Default 4096. */
    tasksMax: z.union([z.number().int().positive(), z.literal("infinity")]).default(4096),
  })
  .default({ memoryMax: "3G", cpuQuota: "175%", tasksMax: 4096 });

const hardening = z
  .strictObject({
    /** ProtectSystem: "strict" (everything read-only but ReadWritePaths), "full" or "yes". Default strict. */
    protectSystem: z.enum(["strict", "full", "yes"]).default("strict"),
    /** ProtectHome: "yes", "read-only" or "tmpfs". Default yes (the runner's HOME is its state dir). */
    protectHome: z.enum(["yes", "read-only", "tmpfs"]).default("yes"),
    /** PrivateTmp: a private /tmp (job workspaces live there unless RUNNER_WORKSPACE_DIR says otherwise). Default true. */
    privateTmp: z.boolean().default(true),
    /** PrivateDevices: no access to physical devices. Default true. */
    privateDevices: z.boolean().default(true),
    /** RestrictNamespaces: no new namespaces. Default true; false for container builders that need user namespaces. */
    restrictNamespaces: z.boolean().default(true),
    /** More writable paths besides the state dir (e.g. a docker socket directory). Default none. */
    readWritePaths: z.array(absolutePath).default([]),
  })
  .default({
    protectSystem: "strict",
    protectHome: "yes",
    privateTmp: true,
    privateDevices: true,
    restrictNamespaces: true,
    readWritePaths: [],
  });

/** The service.yml schema; every key optional, defaults as in the repository's service.yml. */
export const ServiceSpec = z.strictObject({
  /** Unit name without ".service". Default "runner". */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be letters, digits, _ . - (at most 64)")
    .default("runner"),
  /** The unit's Description (`%` is escaped). Default "Runner: deployment runner for the Nuon control plane". */
  description: z
    .string()
    .regex(/^[^\r\n\p{Cc}]{1,200}$/u, "must be one line of at most 200 characters")
    .default("Runner: deployment runner for the Nuon control plane"),
  /** Which `runner <mode>` the service runs. Default "install" (an install runner, as Nuon's VM unit). */
  mode: z.enum(SERVICE_MODES).default("install"),
  /** System user the runner runs as (created by install.sh when missing). Default "runner". */
  user: accountName.default("runner"),
  /** Its group. Default "runner". */
  group: accountName.default("runner"),
  /** The single executable. Default /usr/local/bin/runner. */
  binary: absolutePath.default("/usr/local/bin/runner"),
  /** State directory (journal, log spool, HOME); the only writable path. Default /var/lib/runner. */
  stateDir: absolutePath.default("/var/lib/runner"),
  /** EnvironmentFile with RUNNER_API_URL, RUNNER_ID and other settings (0644, root). Default /etc/runner/env. */
  envFile: absolutePath.default("/etc/runner/env"),
  /** EnvironmentFile with RUNNER_API_TOKEN only (0600, root: systemd reads it, the runner user cannot). Default /etc/runner/token. */
  tokenFile: absolutePath.default("/etc/runner/token"),
  /** How long running jobs may finish after SIGTERM (RUNNER_DRAIN_TIMEOUT). Default 10m. */
  drainTimeout: duration(0).default(600_000),
  /** Added to drainTimeout for TimeoutStopSec: job kill grace, final reports, log flush. Default 30s, at least 15s. */
  stopMargin: duration(15_000).default(30_000),
  /** RestartSec: pause before a restart. Default 5s (as Nuon's unit). */
  restartDelay: duration(1_000).default(5_000),
  limits,
  hardening,
});

/** A parsed service definition: durations in milliseconds, every default filled in. */
export type ServiceConfig = z.output<typeof ServiceSpec>;

/** A bad service.yml; the message names each bad field. */
export class ServiceConfigError extends Error {
  override readonly name = "ServiceConfigError";
  /** Exit code for commands reporting it (2, bad input). */
  readonly exitCode = 2;
}

/** Validates a parsed service.yml document (`source` names it in errors); throws ServiceConfigError. */
export function parseServiceConfig(document: unknown, source = "service.yml"): ServiceConfig {
  const result = ServiceSpec.safeParse(document ?? {});
  if (!result.success) {
    throw new ServiceConfigError(`invalid ${source}:\n${z.prettifyError(result.error)}`, {
      cause: result.error,
    });
  }
  return result.data;
}
