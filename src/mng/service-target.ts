/**
 * The runner service the management process looks after, as service.yml describes it: its definition, its
 * unit name, where its unit file lives and which binary it runs. service.yml is read afresh on every use, so
 * an edit takes effect at the next reconcile; a missing file means the built-in defaults (as install.sh does
 * when it was given no --service-file).
 */
import YAML from "yaml";
import { readTextIfExists } from "../fs/atomic-file.ts";
import { parseServiceConfig, type ServiceConfig, ServiceConfigError } from "../service/schema.ts";
import { unitFileName } from "../service/unit.ts";

/** Where install.sh keeps the service definition. */
export const DEFAULT_SERVICE_FILE = "/etc/runner/service.yml";
/** Where systemd units installed by the administrator live. */
export const SYSTEMD_UNIT_DIR = "/etc/systemd/system";

/** The runner service, resolved. */
export interface ServiceTarget {
  config: ServiceConfig;
  /** e.g. `runner.service`. */
  unit: string;
  /** The unit file path. */
  unitPath: string;
  /** The runner executable (`config.binary`). */
  binary: string;
}

/** Where to find the service definition and the unit. */
export interface ServiceTargetOptions {
  /** service.yml path; default /etc/runner/service.yml. */
  serviceFile?: string;
  /** Unit file path; default /etc/systemd/system/<name>.service. */
  unitPath?: string;
}

/** Reads service.yml and resolves the target; throws ServiceConfigError naming the bad field. */
export async function loadServiceTarget(options: ServiceTargetOptions = {}): Promise<ServiceTarget> {
  const file = options.serviceFile ?? DEFAULT_SERVICE_FILE;
  let text: string | undefined;
  try {
    text = await readTextIfExists(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ServiceConfigError(`cannot read ${file} (${reason})`, { cause: err });
  }
  let document: unknown = {};
  if (text !== undefined) {
    try {
      document = YAML.parse(text);
    } catch (err) {
      throw new ServiceConfigError(`${file} is not valid YAML: ${(err as Error).message.split("\n")[0]}`, {
        cause: err,
      });
    }
  }
  const config = parseServiceConfig(document, file);
  const unit = unitFileName(config);
  return {
    config,
    unit,
    unitPath: options.unitPath ?? `${SYSTEMD_UNIT_DIR}/${unit}`,
    binary: config.binary,
  };
}
