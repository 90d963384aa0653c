/**
 * Where `mng-runner-update-version` finds the new binary. Nuon's plan for this job is empty and its runner
 * takes the version from the settings (`container_image_tag`); this runner ships a single executable, so the
 * job names a URL and a checksum. The first of these that has a URL wins, whole:
 *
 * 1. the plan: `{"runner_binary_url": "https://…", "runner_binary_sha256": "<64 hex>", "runner_version": "1.2.3"}`;
 * 2. the job's metadata, same keys (string map);
 * 3. the runner settings: `runner_binary_url`, with `container_image_tag` as the version (unless "latest").
 *
 * Without a sha256 the checksum is fetched from `<url>.sha256`. Without a version any version is accepted,
 * as long as the binary runs and the service comes back healthy.
 */
import * as z from "zod";
import type { RunnerSettings } from "../../control-plane/schemas.ts";
import { parseSha256 } from "../../mng/binary-download.ts";

const sha256 = z
  .string()
  .regex(/^\s*[0-9a-fA-F]{64}\s*$/, "must be 64 hexadecimal digits")
  .transform((s) => s.trim().toLowerCase());

/** The update-version plan (every key optional; an empty plan defers to the metadata and the settings). */
export const UpdateVersionPlan = z
  .looseObject({
    runner_binary_url: z.string().min(1).optional(),
    runner_binary_sha256: sha256.optional(),
    runner_version: z.string().min(1).optional(),
  })
  .nullable()
  .transform((plan) => plan ?? {});
export type UpdateVersionPlan = z.output<typeof UpdateVersionPlan>;

/** The binary to install. */
export interface UpdateSource {
  url: string;
  /** Lowercase hex; undefined: fetch `<url>.sha256`. */
  sha256?: string;
  /** The version the binary must report; undefined: any. */
  version?: string;
  from: "plan" | "metadata" | "settings";
}

/** Picks the source (see the module comment); undefined when none names a URL. Throws on a bad metadata sha256. */
export function resolveUpdateSource(
  plan: UpdateVersionPlan,
  metadata: Readonly<Record<string, string>> | null | undefined,
  settings: RunnerSettings | undefined,
): UpdateSource | undefined {
  if (plan.runner_binary_url !== undefined) {
    return {
      url: plan.runner_binary_url,
      ...(plan.runner_binary_sha256 !== undefined ? { sha256: plan.runner_binary_sha256 } : {}),
      ...(plan.runner_version !== undefined ? { version: plan.runner_version } : {}),
      from: "plan",
    };
  }
  const url = metadata?.runner_binary_url;
  if (url !== undefined && url !== "") {
    const sha = metadata?.runner_binary_sha256;
    const version = metadata?.runner_version;
    return {
      url,
      ...(sha !== undefined && sha !== "" ? { sha256: parseSha256(sha) } : {}),
      ...(version !== undefined && version !== "" ? { version } : {}),
      from: "metadata",
    };
  }
  if (settings?.runner_binary_url !== undefined && settings.runner_binary_url !== "") {
    const tag = settings.container_image_tag;
    return {
      url: settings.runner_binary_url,
      ...(tag !== undefined && tag !== "" && tag !== "latest"
        ? { version: tag.replace(/^v(?=\d)/, "") }
        : {}),
      from: "settings",
    };
  }
  return undefined;
}

/** Whether the settings must be fetched to resolve the source (neither the plan nor the metadata name a URL). */
export function needsSettings(
  plan: UpdateVersionPlan,
  metadata: Readonly<Record<string, string>> | null | undefined,
) {
  return plan.runner_binary_url === undefined && (metadata?.runner_binary_url ?? "") === "";
}
