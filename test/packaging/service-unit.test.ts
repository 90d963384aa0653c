/**
 * service.yml → systemd unit (src/service/*, `runner service render`): the repository's service.yml states
 * the defaults, the rendered unit passes `systemd-analyze verify` and the offline security audit, the drain
 * contract holds for every drain timeout, and a bad service.yml is refused naming the field. systemd is never
 * started: verify and security read the unit file only.
 */
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { run as serviceCommand } from "../../src/cli/service.ts";
import { parseDurationMs } from "../../src/config/duration.ts";
import { parseServiceConfig, type ServiceConfig } from "../../src/service/schema.ts";
import { renderInstallEnv, renderUnit, timeoutStopSec } from "../../src/service/unit.ts";

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
let work: string;
let fakeBinary: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "runner-unit-"));
  fakeBinary = path.join(work, "runner");
  await writeFile(fakeBinary, "#!/bin/sh\nexit 0\n");
  await chmod(fakeBinary, 0o755);
  await mkdir(path.join(work, "state"));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Directive → values, in order, from a unit's text. */
function directives(unit: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of unit.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match === null) continue;
    out.set(match[1]!, [...(out.get(match[1]!) ?? []), match[2]!]);
  }
  return out;
}

/** Runs a systemd-analyze subcommand on a unit written to a fresh folder; resolves with its outcome. */
async function analyze(args: string[], unit: string, name = "runner.service") {
  const dir = await mkdtemp(path.join(work, "verify-"));
  const file = path.join(dir, name);
  await writeFile(file, unit);
  try {
    const { stdout, stderr } = await execFileAsync("systemd-analyze", [...args, file], { cwd: dir });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** The repository's service.yml with paths pointing into the temporary folder, so verify finds the binary. */
async function verifiableConfig(overrides: Record<string, unknown> = {}): Promise<ServiceConfig> {
  const doc = YAML.parse(await readFile(path.join(ROOT, "service.yml"), "utf8")) as Record<string, unknown>;
  return parseServiceConfig({ ...doc, binary: fakeBinary, stateDir: path.join(work, "state"), ...overrides });
}

describe("service.yml", () => {
  it("states exactly the built-in defaults", async () => {
    const doc = YAML.parse(await readFile(path.join(ROOT, "service.yml"), "utf8"));
    expect(parseServiceConfig(doc)).toEqual(parseServiceConfig({}));
  });

  it("passes yamllint", async () => {
    const { stdout } = await execFileAsync(
      "yamllint",
      ["-c", ".yamllint.yml", "-f", "parsable", "service.yml"],
      {
        cwd: ROOT,
      },
    );
    expect(stdout).toBe("");
  });
});

describe("the rendered unit", () => {
  it("passes systemd-analyze verify with no warning", async () => {
    const result = await analyze(["verify"], renderUnit(await verifiableConfig()));
    expect(result).toMatchObject({ code: 0, stderr: "" });
  });

  it("is caught by the same check when broken (a missing binary, an unknown kill mode)", async () => {
    const missing = renderUnit(await verifiableConfig({ binary: path.join(work, "absent") }));
    expect((await analyze(["verify"], missing)).code).not.toBe(0);
    const good = renderUnit(await verifiableConfig());
    const bad = await analyze(["verify"], good.replace("KillMode=mixed", "KillMode=bogus"));
    expect(bad.stderr).toMatch(/kill mode/i);
  });

  it("scores at most 2.0 in systemd's offline security audit", async () => {
    // --threshold is on a 0-100 scale (the printed 0.0-10.0 exposure times ten); above it the exit code is 1
    const result = await analyze(
      ["security", "--offline=true", "--threshold=20"],
      renderUnit(await verifiableConfig()),
    );
    expect(result.stdout).toMatch(/Overall exposure level for runner\.service: \d\.\d/);
    expect(result.code).toBe(0);
  });

  it.each([
    { drainTimeout: "0s", stopMargin: "15s", mode: "run" },
    { drainTimeout: "90s", stopMargin: "30s", mode: "build" },
    { drainTimeout: "10m", stopMargin: "30s", mode: "install" },
    { drainTimeout: "2h", stopMargin: "1m", mode: "org" },
    { drainTimeout: "1500ms", stopMargin: "20s", mode: "install" },
  ])(
    "keeps the drain contract for drainTimeout $drainTimeout, stopMargin $stopMargin, mode $mode",
    async (input) => {
      const config = parseServiceConfig(input);
      const unit = directives(renderUnit(config));
      const drainMs = parseDurationMs(input.drainTimeout)!;
      // the runner drains for exactly what the unit waits for, minus the margin
      expect(
        parseDurationMs(
          unit
            .get("Environment")!
            .find((e) => e.startsWith("RUNNER_DRAIN_TIMEOUT="))!
            .split("=")[1]!,
        ),
      ).toBe(drainMs);
      const stopSec = Number(unit.get("TimeoutStopSec")?.[0]);
      expect(stopSec).toBe(timeoutStopSec(config));
      expect(stopSec * 1000).toBeGreaterThanOrEqual(drainMs + 15_000);
      expect(unit.get("KillMode")).toEqual(["mixed"]);
      expect(unit.get("KillSignal")).toEqual(["SIGTERM"]);
      expect(unit.get("Restart")).toEqual(["always"]);
      expect(unit.get("RestartSec")).toEqual(["5"]);
      expect(unit.get("ExecStart")).toEqual([`/usr/local/bin/runner ${input.mode}`]);
    },
  );

  it("runs unprivileged, confined to its state directory, with both environment files", async () => {
    const config = parseServiceConfig({
      stateDir: "/srv/runner",
      hardening: { readWritePaths: ["/run/docker"] },
    });
    const unit = directives(renderUnit(config));
    expect(unit.get("User")).toEqual(["runner"]);
    expect(unit.get("Group")).toEqual(["runner"]);
    expect(unit.get("NoNewPrivileges")).toEqual(["yes"]);
    expect(unit.get("ProtectSystem")).toEqual(["strict"]);
    expect(unit.get("ReadWritePaths")).toEqual(["/srv/runner /run/docker"]);
    expect(unit.get("PrivateTmp")).toEqual(["yes"]);
    expect(unit.get("ProtectHome")).toEqual(["yes"]);
    expect(unit.get("CapabilityBoundingSet")).toEqual([""]);
    expect(unit.get("EnvironmentFile")).toEqual(["/etc/runner/env", "/etc/runner/token"]);
    expect(unit.get("Environment")).toContain("RUNNER_STATE_DIR=/srv/runner");
    expect(unit.get("Environment")).toContain("HOME=/srv/runner");
    expect(unit.get("MemoryMax")).toEqual(["3G"]);
    expect(unit.get("CPUQuota")).toEqual(["175%"]);
    expect(unit.get("TasksMax")).toEqual(["4096"]);
    expect(unit.has("MemoryDenyWriteExecute")).toBe(false); // V8's JIT needs it off
  });

  it("escapes % in the description, which systemd would read as a specifier", () => {
    const unit = renderUnit(parseServiceConfig({ description: "runner at 100% for %n" }));
    expect(directives(unit).get("Description")).toEqual(["runner at 100%% for %%n"]);
  });

  it("lists what install.sh needs as key=value lines", () => {
    expect(renderInstallEnv(parseServiceConfig({ name: "nuon-runner", drainTimeout: "1m" }))).toBe(
      [
        "name=nuon-runner",
        "unit=nuon-runner.service",
        "mode=install",
        "user=runner",
        "group=runner",
        "binary=/usr/local/bin/runner",
        "stateDir=/var/lib/runner",
        "envFile=/etc/runner/env",
        "tokenFile=/etc/runner/token",
        "timeoutStopSec=90",
        "",
      ].join("\n"),
    );
  });
});

describe("a bad service.yml", () => {
  it.each([
    [{ drainTimeout: "soon" }, "drainTimeout", /duration/],
    [{ stopMargin: "5s" }, "stopMargin", /at least 15s/],
    [{ binary: "bin/runner" }, "binary", /absolute path/],
    [{ stateDir: "/var/lib/../etc" }, "stateDir", /\.\./],
    [{ user: "root\nUser=root" }, "user", /user\/group name/],
    [{ description: "x\nExecStartPre=/bin/sh -c id" }, "description", /one line/],
    [{ mode: "mng" }, "mode", /run.*org.*build.*install/],
    [{ limits: { cpuQuota: "2" } }, "limits.cpuQuota", /percentage/],
    [{ hardening: { protectSystem: "off" } }, "hardening.protectSystem", /strict/],
  ])("is refused naming the field: %j", (doc, field, reason) => {
    let message = "";
    try {
      parseServiceConfig(doc);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(`→ at ${field}`);
    expect(message).toMatch(reason);
  });

  it("is refused when a key is unknown (a typo is not ignored)", () => {
    expect(() => parseServiceConfig({ drainTimeot: "1m" })).toThrow(/Unrecognized key: "drainTimeot"/);
  });
});

describe("runner service render", () => {
  function io() {
    const out = { stdout: new PassThrough(), stderr: new PassThrough(), env: {} };
    let stdout = "";
    let stderr = "";
    out.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    out.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    return { io: out, text: () => ({ stdout, stderr }) };
  }

  it("prints the unit for a file, and the defaults without one", async () => {
    const a = io();
    expect(await serviceCommand(["render", "--file", path.join(ROOT, "service.yml")], a.io)).toBe(0);
    const b = io();
    expect(await serviceCommand(["render"], b.io)).toBe(0);
    expect(a.text().stdout).toBe(b.text().stdout);
    expect(a.text().stdout).toBe(renderUnit(parseServiceConfig({})));
  });

  it("exits 2 naming the field or the file when the definition is bad", async () => {
    const file = path.join(work, "bad.yml");
    await writeFile(file, "drainTimeout: forever\n");
    const bad = io();
    expect(await serviceCommand(["render", "--file", file], bad.io)).toBe(2);
    expect(bad.text().stderr).toContain(`runner service: invalid ${file}:`);
    expect(bad.text().stderr).toContain("→ at drainTimeout");
    const missing = io();
    expect(await serviceCommand(["render", "--file", path.join(work, "nope.yml")], missing.io)).toBe(2);
    expect(missing.text().stderr).toMatch(/cannot read .*nope\.yml \(ENOENT\)/);
    const usage = io();
    expect(await serviceCommand(["start"], usage.io)).toBe(2);
    expect(usage.text().stderr).toContain('unknown subcommand "start"');
  });
});
