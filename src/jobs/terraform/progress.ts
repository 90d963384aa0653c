/**
 * Terraform's machine-readable UI (`-json`, one JSON event per line) turned into job log entries (pure).
 * Nothing here scrapes human text: each event type maps to a constant-shaped sentence with the facts in
 * fields (`created terraform_data.a`, `{resource, id, elapsedSeconds}`), and error diagnostics are collected
 * so a failed command can say why in terraform's own words.
 */

/** One job log entry to write. */
export interface ProgressEntry {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  fields: Record<string, unknown>;
}

/** A diagnostic from terraform's event stream. */
export interface Diagnostic {
  severity: "error" | "warning";
  summary: string;
  detail?: string;
  /** The resource the diagnostic is about, when terraform names one. */
  address?: string;
  /** `file:line` of the configuration it points at. */
  location?: string;
}

/** The parts of an event this module reads (terraform's UI schema 1.x). */
interface TerraformEvent {
  "@level"?: string;
  "@message"?: string;
  type?: string;
  hook?: {
    resource?: { addr?: string };
    action?: string;
    id_key?: string;
    id_value?: string;
    elapsed_seconds?: number;
    provisioner?: string;
    output?: string;
  };
  change?: { resource?: { addr?: string }; action?: string; reason?: string };
  changes?: Record<string, unknown>;
  diagnostic?: {
    severity?: string;
    summary?: string;
    detail?: string;
    address?: string;
    range?: { filename?: string; start?: { line?: number } };
  };
  outputs?: Record<string, { sensitive?: boolean; action?: string }>;
}

/** Parses one output line as a terraform event; undefined when the line is not a JSON object. */
export function parseEvent(line: string): TerraformEvent | undefined {
  const text = line.trim();
  if (!text.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as TerraformEvent)
      : undefined;
  } catch {
    return undefined;
  }
}

const ING: Record<string, string> = {
  create: "creating",
  update: "updating",
  delete: "destroying",
  replace: "replacing",
  read: "reading",
};
const ED: Record<string, string> = {
  create: "created",
  update: "updated",
  delete: "destroyed",
  replace: "replaced",
  read: "read",
};
const VERB: Record<string, string> = { delete: "destroy" };

/** The log entry for one event (every event gets one; unknown types are logged at debug). */
export function describeEvent(event: TerraformEvent): ProgressEntry {
  const message = (event["@message"] ?? "").trim().replace(/\s*\n\s*/g, " ");
  const hook = event.hook ?? {};
  const resource = hook.resource?.addr ?? event.change?.resource?.addr ?? "";
  const action = hook.action ?? event.change?.action ?? "";
  const elapsed = hook.elapsed_seconds === undefined ? {} : { elapsedSeconds: hook.elapsed_seconds };
  switch (event.type) {
    case "planned_change":
      return entry("info", `will ${action} ${resource}`, { resource, action, reason: event.change?.reason });
    case "resource_drift":
      return entry("info", `drift detected on ${resource}`, { resource, action });
    case "change_summary":
      return entry("info", message, { ...event.changes });
    case "apply_start":
      return entry("info", `${ING[action] ?? action} ${resource}`, { resource, action });
    case "apply_progress":
      return entry("info", `still ${ING[action] ?? action} ${resource}`, { resource, action, ...elapsed });
    case "apply_complete":
      return entry("info", `${ED[action] ?? action} ${resource}`, {
        resource,
        action,
        ...(hook.id_value === undefined ? {} : { id: hook.id_value }),
        ...elapsed,
      });
    case "apply_errored":
      return entry("error", `failed to ${VERB[action] ?? action} ${resource}`, {
        resource,
        action,
        ...elapsed,
      });
    case "provision_start":
    case "provision_complete":
      return entry("debug", message, { resource, provisioner: hook.provisioner });
    case "provision_progress":
      return entry("info", `${resource} (${hook.provisioner ?? "provisioner"}): ${hook.output ?? ""}`, {
        resource,
        provisioner: hook.provisioner,
      });
    case "provision_errored":
      return entry("error", `${hook.provisioner ?? "provisioner"} failed on ${resource}`, {
        resource,
        provisioner: hook.provisioner,
      });
    case "refresh_start":
    case "refresh_complete":
      return entry("debug", message, { resource });
    case "diagnostic": {
      const d = toDiagnostic(event);
      const level = d?.severity === "error" ? "error" : "warn";
      return entry(level, d?.summary ?? message, { ...d });
    }
    case "outputs": {
      const outputs = Object.entries(event.outputs ?? {}).map(([name, o]) => ({
        name,
        sensitive: o.sensitive === true,
      }));
      return entry("info", `outputs: ${outputs.length}`, { outputs });
    }
    case "init_output":
    case "log":
      return entry(event["@level"] === "error" ? "error" : "info", message, {});
    default:
      return entry("debug", message, { type: event.type });
  }
}

/** The diagnostic an event carries, or undefined. */
export function toDiagnostic(event: TerraformEvent): Diagnostic | undefined {
  const d = event.diagnostic;
  if (event.type !== "diagnostic" || d === undefined) return undefined;
  const file = d.range?.filename;
  const line = d.range?.start?.line;
  return {
    severity: d.severity === "error" ? "error" : "warning",
    summary: d.summary ?? event["@message"] ?? "terraform reported an error",
    ...(d.detail ? { detail: d.detail } : {}),
    ...(d.address ? { address: d.address } : {}),
    ...(file ? { location: line === undefined ? file : `${file}:${line}` } : {}),
  };
}

/** Longest diagnostic detail kept in a failure message, in characters. */
export const MAX_DETAIL_CHARS = 400;

/**
 * The sentence naming why a command failed: its error diagnostics (`address: summary: detail`, deduplicated),
 * else the resources that errored, else undefined.
 */
export function describeFailure(
  diagnostics: readonly Diagnostic[],
  erroredResources: readonly string[],
): string | undefined {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const d of diagnostics) {
    if (d.severity !== "error") continue;
    const detail = d.detail === undefined ? "" : `: ${oneLine(d.detail)}`;
    const text = `${d.address === undefined ? "" : `${d.address}: `}${d.summary}${detail}`;
    if (seen.has(text)) continue;
    seen.add(text);
    parts.push(text);
  }
  if (parts.length === 0 && erroredResources.length > 0)
    return `errored resources: ${erroredResources.join(", ")}`;
  return parts.length === 0 ? undefined : parts.join("; ");
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > MAX_DETAIL_CHARS ? `${flat.slice(0, MAX_DETAIL_CHARS)}…` : flat;
}

function entry(level: ProgressEntry["level"], msg: string, fields: Record<string, unknown>): ProgressEntry {
  const clean: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields))
    if (value !== undefined && value !== "") clean[key] = value;
  return { level, msg, fields: clean };
}
