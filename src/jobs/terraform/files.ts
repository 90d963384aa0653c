/**
 * The files a terraform job writes into its workspace (all 0600 inside the 0700 workspace): the CLI config,
 * the plan's variables as `runner.auto.tfvars.json` (values never reach argv), each `vars_files` entry as its
 * own var file, the backend override, and the saved plan to apply. Var files named by path (runner extension)
 * must stay inside the module.
 */
import { mkdir, stat, writeFile } from "node:fs/promises";
import { assertRealPathInside, resolveInside, WorkspaceEscapeError } from "../../workspace/safe-path.ts";
import { BACKEND_OVERRIDE_FILE, BACKEND_OVERRIDE_TF } from "./backend.ts";

/** Where everything of one terraform job lives. */
export interface TerraformPaths {
  /** The job workspace. */
  root: string;
  /** The module copy; terraform's working directory. */
  moduleDir: string;
  /** TF_DATA_DIR. */
  dataDir: string;
  /** The CLI config the handler writes when the runner has none. */
  cliConfigFile: string;
  /** The saved plan (written by plan, read by apply). */
  planFile: string;
  /** Directory of the var files written from `vars_files`. */
  varFilesDir: string;
}

/** Name of the variables file terraform loads automatically. */
export const AUTO_TFVARS_FILE = "runner.auto.tfvars.json";

/** The paths of a job whose workspace is `root` and whose module was placed in `moduleDir`. */
export function terraformPaths(root: string, moduleDir: string): TerraformPaths {
  return {
    root,
    moduleDir,
    dataDir: resolveInside(root, "tf-data"),
    cliConfigFile: resolveInside(root, "terraformrc"),
    planFile: resolveInside(root, "tfplan"),
    varFilesDir: resolveInside(root, "var-files"),
  };
}

/** Writes an empty CLI config (offline: no credentials, no mirrors) and creates the data directory. */
export async function writeBaseFiles(paths: TerraformPaths): Promise<void> {
  await mkdir(paths.dataDir, { recursive: true, mode: 0o700 });
  await writePrivate(paths.cliConfigFile, "");
}

/** Writes `vars` as `runner.auto.tfvars.json` in the module (nothing when there are none). */
export async function writeVars(paths: TerraformPaths, vars: Record<string, unknown>): Promise<void> {
  if (Object.keys(vars).length === 0) return;
  await writePrivate(resolveInside(paths.moduleDir, AUTO_TFVARS_FILE), `${JSON.stringify(vars, null, 2)}\n`);
}

/** Writes each `vars_files` entry (JSON → `.tfvars.json`, else HCL `.tfvars`); returns their paths in order. */
export async function writeVarFiles(paths: TerraformPaths, contents: readonly string[]): Promise<string[]> {
  if (contents.length === 0) return [];
  await mkdir(paths.varFilesDir, { recursive: true, mode: 0o700 });
  const files: string[] = [];
  for (const [i, text] of contents.entries()) {
    const file = resolveInside(
      paths.varFilesDir,
      `vars-${i}${isJsonObject(text) ? ".tfvars.json" : ".tfvars"}`,
    );
    await writePrivate(file, text);
    files.push(file);
  }
  return files;
}

/** Resolves `var_file_paths` inside the module; throws naming the entry when one escapes or is missing. */
export async function resolveVarFilePaths(
  paths: TerraformPaths,
  relative: readonly string[],
): Promise<string[]> {
  const files: string[] = [];
  for (const [i, entry] of relative.entries()) {
    const what = `var_file_paths[${i}] ${JSON.stringify(entry)}`;
    let file: string;
    try {
      file = await assertRealPathInside(paths.moduleDir, resolveInside(paths.moduleDir, entry));
    } catch (err) {
      if (err instanceof WorkspaceEscapeError) {
        throw new Error(`${what} is outside the module directory; var files must be inside the module`, {
          cause: err,
        });
      }
      throw err;
    }
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || !info.isFile()) throw new Error(`${what} is not a file in the module`);
    files.push(file);
  }
  return files;
}

/** Writes the override that points the module at the http backend. */
export async function writeBackendOverride(paths: TerraformPaths): Promise<void> {
  await writePrivate(resolveInside(paths.moduleDir, BACKEND_OVERRIDE_FILE), BACKEND_OVERRIDE_TF);
}

/** Writes the saved plan to apply. */
export async function writeSavedPlan(paths: TerraformPaths, bytes: Uint8Array): Promise<void> {
  await writePrivate(paths.planFile, bytes);
}

async function writePrivate(file: string, data: string | Uint8Array): Promise<void> {
  await writeFile(file, data, { mode: 0o600 });
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
