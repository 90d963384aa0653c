/**
 * Argv of every helm command the handler runs (pure). Secrets never go into argv: values travel in files,
 * credentials in the kubeconfig file.
 */

/** What every command against the cluster needs. */
export interface HelmTarget {
  release: string;
  namespace: string;
  /** Path of the kubeconfig file (0600). */
  kubeconfig: string;
}

const common = (t: HelmTarget) => ["--namespace", t.namespace, "--kubeconfig", t.kubeconfig];

/** `helm version --short` */
export function versionArgs(): string[] {
  return ["version", "--short"];
}

/** `helm status` as JSON (exit 1 with "release: not found" when there is none). */
export function statusArgs(t: HelmTarget): string[] {
  return ["status", t.release, ...common(t), "--output", "json"];
}

/** `helm get manifest` of the current release. */
export function getManifestArgs(t: HelmTarget): string[] {
  return ["get", "manifest", t.release, ...common(t)];
}

/** Options of upgradeArgs. */
export interface UpgradeOptions extends HelmTarget {
  chart: string;
  version?: string;
  repo?: string;
  /** Values files, in precedence order (later wins). */
  valuesFiles: readonly string[];
  createNamespace: boolean;
  takeOwnership: boolean;
  /** `--wait --timeout <s>s` when set (not with a dry run). */
  timeoutSeconds?: number;
  /** Render against the cluster without changing it. */
  dryRun: boolean;
}

/** `helm upgrade --install`, as JSON: installs when there is no release, upgrades when there is. */
export function upgradeArgs(o: UpgradeOptions): string[] {
  return [
    "upgrade",
    o.release,
    o.chart,
    "--install",
    ...common(o),
    ...(o.version !== undefined ? ["--version", o.version] : []),
    ...(o.repo !== undefined ? ["--repo", o.repo] : []),
    ...o.valuesFiles.flatMap((f) => ["--values", f]),
    ...(o.createNamespace ? ["--create-namespace"] : []),
    ...(o.takeOwnership ? ["--take-ownership"] : []),
    ...(o.dryRun
      ? ["--dry-run=client"]
      : o.timeoutSeconds !== undefined
        ? ["--wait", "--timeout", `${o.timeoutSeconds}s`]
        : []),
    "--output",
    "json",
  ];
}

/** `helm uninstall`, waiting for the release's objects to be gone. */
export function uninstallArgs(t: HelmTarget, timeoutSeconds: number): string[] {
  return ["uninstall", t.release, ...common(t), "--wait", "--timeout", `${timeoutSeconds}s`];
}
