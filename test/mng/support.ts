/**
 * Test doubles for the management process, all real processes and files: a `systemctl` recorder script that
 * logs its argv and keeps a unit state in a file (never the real systemctl), runner "binaries" that are
 * shell scripts printing a version, and a machine directory holding service.yml and the unit.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/** A recorder standing in for systemctl. */
export interface SystemctlRecorder {
  /** The script's path (name `systemctl`, in its own bin directory). */
  binary: string;
  /** The directory holding it, to put first on PATH. */
  binDir: string;
  /** Every call so far, as argv joined by spaces. */
  calls(): Promise<string[]>;
  /** Sets the state `is-active` prints (active, inactive, failed, activating…). */
  setState(state: string): Promise<void>;
  /** Makes `restart` / `start` leave this state instead of `active` (e.g. "failed"); undefined clears it. */
  setStateAfterStart(state: string | undefined): Promise<void>;
  /** Makes `verb` exit 1 with a message on stderr; undefined clears it. */
  failVerb(verb: string | undefined): Promise<void>;
}

/** Creates a recorder under `dir` (initial state: inactive). */
export async function createSystemctlRecorder(dir: string): Promise<SystemctlRecorder> {
  const binDir = path.join(dir, "bin");
  await mkdir(binDir, { recursive: true });
  const log = path.join(dir, "systemctl.calls");
  const state = path.join(dir, "systemctl.state");
  const after = path.join(dir, "systemctl.after-start");
  const fail = path.join(dir, "systemctl.fail");
  const binary = path.join(binDir, "systemctl");
  // shell builtins only (no cat): tests may run it with PATH pointing at nothing but its own directory
  await writeFile(
    binary,
    `#!/bin/sh
printf '%s\\n' "$*" >> '${log}'
if [ -f '${fail}' ]; then
  read -r failing < '${fail}'
  if [ "$1" = "$failing" ]; then
    echo "Failed to $1 unit: recorder was told to fail" >&2
    exit 1
  fi
fi
case "$1" in
  is-active)
    s=inactive
    [ -f '${state}' ] && read -r s < '${state}'
    echo "$s"
    [ "$s" = active ] && exit 0
    exit 3 ;;
  start|restart)
    next=active
    [ -f '${after}' ] && read -r next < '${after}'
    echo "$next" > '${state}' ;;
  stop) echo inactive > '${state}' ;;
esac
exit 0
`,
  );
  await chmod(binary, 0o755);
  await writeFile(state, "inactive\n");
  return {
    binary,
    binDir,
    async calls() {
      try {
        return (await readFile(log, "utf8")).split("\n").filter((l) => l !== "");
      } catch {
        return [];
      }
    },
    setState: (s) => writeFile(state, `${s}\n`),
    async setStateAfterStart(s) {
      if (s === undefined) await rm(after, { force: true });
      else await writeFile(after, `${s}\n`);
    },
    async failVerb(verb) {
      if (verb === undefined) await rm(fail, { force: true });
      else await writeFile(fail, `${verb}\n`);
    },
  };
}

/** A shell script that behaves like `runner version -o json` for `version`. */
export function fakeRunnerScript(version: string): string {
  return `#!/bin/sh
if [ "$1" = version ]; then printf '{"version":"%s","commit":"test"}\\n' '${version}'; exit 0; fi
echo "fake runner ${version}: $*"
`;
}

/** A temporary machine: service.yml, the unit path, a state dir and an installed runner binary. */
export interface Machine {
  root: string;
  serviceFile: string;
  unitPath: string;
  stateDir: string;
  binary: string;
  /** Writes service.yml with `binary` set to this machine's binary plus `extra` YAML lines. */
  writeServiceYaml(extra?: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** Creates a machine directory; the binary is installed only when `installedVersion` is given. */
export async function createMachine(installedVersion?: string): Promise<Machine> {
  const root = await mkdtemp(path.join(tmpdir(), "runner-mng-"));
  const machine: Machine = {
    root,
    serviceFile: path.join(root, "etc", "service.yml"),
    unitPath: path.join(root, "systemd", "runner.service"),
    stateDir: path.join(root, "state"),
    binary: path.join(root, "usr", "bin", "runner"),
    async writeServiceYaml(extra = "") {
      await writeFile(machine.serviceFile, `binary: ${machine.binary}\n${extra}`);
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
  for (const dir of ["etc", "systemd", "state", "usr/bin"])
    await mkdir(path.join(root, dir), { recursive: true });
  await machine.writeServiceYaml();
  if (installedVersion !== undefined) {
    await writeFile(machine.binary, fakeRunnerScript(installedVersion), { mode: 0o755 });
  }
  return machine;
}
