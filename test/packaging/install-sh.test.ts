/**
 * install.sh against a temporary root (`--root DIR`): systemctl, useradd, groupadd and chown are recorder
 * scripts, the "binary" is a shell script that runs the real runner bundle (built once here), so the unit
 * comes from the real `runner service render`. Asserts files, modes, recorded commands, checksum refusal, the in-place
 * upgrade and uninstall.
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildRunner } from "../../scripts/build.ts";
import { parseServiceConfig } from "../../src/service/schema.ts";
import { renderUnit } from "../../src/service/unit.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SCRIPT = path.join(ROOT, "install.sh");
const TOKEN = "nuon_tok.abc-123_XYZ";
let work: string;
let root: string;
let v1: string;
let v2: string;
let bundle: string;

async function fakeBinary(name: string, tag: string): Promise<string> {
  const file = path.join(work, name);
  await writeFile(file, `#!/bin/sh\n# fake runner ${tag}\nexec "${process.execPath}" "${bundle}" "$@"\n`);
  await chmod(file, 0o755);
  return file;
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "runner-install-"));
  const bin = path.join(work, "bin");
  await mkdir(bin);
  for (const name of ["systemctl", "useradd", "groupadd", "chown"]) {
    await writeFile(path.join(bin, name), `#!/bin/sh\nprintf '%s\\n' "${name} $*" >>"$RECORD"\n`);
    await chmod(path.join(bin, name), 0o755);
  }
  bundle = (await buildRunner({ outDir: path.join(work, "dist"), commit: "test" })).outFile;
  v1 = await fakeBinary("runner-v1", "v1");
  v2 = await fakeBinary("runner-v2", "v2");
}, 60_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

beforeEach(async () => {
  root = await mkdtemp(path.join(work, "root-"));
});

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Commands the recorders saw, one per line. */
  recorded: string[];
}

/** Runs install.sh with `args` under the temporary root, `stdin` as its standard input. */
async function install(args: string[], stdin = ""): Promise<Outcome> {
  const record = path.join(root, "..", `${path.basename(root)}.record`);
  const bin = path.join(work, "bin");
  const child = spawn("bash", [SCRIPT, "--root", root, ...args], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      RECORD: record,
      SYSTEMCTL: path.join(bin, "systemctl"),
      USERADD: path.join(bin, "useradd"),
      GROUPADD: path.join(bin, "groupadd"),
      CHOWN: path.join(bin, "chown"),
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  // The script may exit before reading its stdin (e.g. when it refuses its arguments): ignore EPIPE.
  child.stdin.on("error", () => undefined);
  child.stdin.end(stdin);
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  const recorded = (await readFile(record, "utf8").catch(() => "")).split("\n").filter(Boolean);
  await rm(record, { force: true });
  return { code, stdout, stderr, recorded };
}

const mode = async (file: string) => (await stat(path.join(root, file))).mode & 0o777;
const read = (file: string) => readFile(path.join(root, file), "utf8");
const exists = (file: string) =>
  stat(path.join(root, file)).then(
    () => true,
    () => false,
  );
const sha256 = async (file: string) =>
  createHash("sha256")
    .update(await readFile(file))
    .digest("hex");

describe("install.sh", () => {
  it("is shellcheck-clean", async () => {
    const { stdout } = await promisify(execFile)("shellcheck", ["-f", "gcc", SCRIPT]);
    expect(stdout).toBe("");
  });

  it("installs the binary, env and token files, the rendered unit, and enables the service", async () => {
    const out = await install(
      ["--file", v1, "--runner-id", "runner_01abc", "--api-url", "https://cp.example"],
      `${TOKEN}\n`,
    );
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(await read("usr/local/bin/runner")).toBe(await readFile(v1, "utf8"));
    expect(await mode("usr/local/bin/runner")).toBe(0o755);
    expect(await read("etc/runner/env")).toBe("RUNNER_API_URL=https://cp.example\nRUNNER_ID=runner_01abc\n");
    expect(await mode("etc/runner/env")).toBe(0o644);
    expect(await read("etc/runner/token")).toBe(`RUNNER_API_TOKEN=${TOKEN}\n`);
    expect(await mode("etc/runner/token")).toBe(0o600);
    expect(await mode("var/lib/runner")).toBe(0o700);
    expect(await read("etc/systemd/system/runner.service")).toBe(renderUnit(parseServiceConfig({})));
    expect(await mode("etc/systemd/system/runner.service")).toBe(0o644);
    expect(out.recorded).toEqual([
      "groupadd --system runner",
      "useradd --system --gid runner --home-dir /var/lib/runner --no-create-home --shell /usr/sbin/nologin runner",
      `chown runner:runner ${root}/var/lib/runner`,
      "systemctl daemon-reload",
      "systemctl enable --now runner.service",
    ]);
    expect(out.stdout).toMatch(
      /installed \/usr\/local\/bin\/runner \(runner \d+\.\d+\.\d+ .*\) as runner\.service, running as runner/,
    );
    // the token is in the 0600 file only: not in any command, not in the output
    expect(`${out.stdout}${out.stderr}${out.recorded.join("\n")}`).not.toContain(TOKEN);
  });

  it("refuses a binary whose sha256 does not match, and installs nothing", async () => {
    const out = await install(["--file", v1, "--sha256", "0".repeat(64), "--runner-id", "r1"], TOKEN);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(
      `sha256 mismatch: expected ${"0".repeat(64)}, got ${await sha256(v1)}; nothing was installed`,
    );
    expect(await exists("usr/local/bin/runner")).toBe(false);
    expect(await exists("etc")).toBe(false);
    expect(out.recorded).toEqual([]);
  });

  describe("from a URL (a loopback server)", () => {
    let server: Server;
    let base: string;
    beforeAll(async () => {
      const body = await readFile(v1);
      server = createServer((req, res) => {
        if (req.url === "/runner-linux-x64") res.end(body);
        else res.writeHead(404).end();
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("requires --sha256", async () => {
      const out = await install(["--url", `${base}/runner-linux-x64`, "--runner-id", "r1"], TOKEN);
      expect(out.code).not.toBe(0);
      expect(out.stderr).toContain("--url needs --sha256 HEX");
      expect(await exists("usr/local/bin/runner")).toBe(false);
    });

    it("downloads, verifies (upper-case hex accepted) and installs", async () => {
      const hex = (await sha256(v1)).toUpperCase();
      const out = await install(
        ["--url", `${base}/runner-linux-x64`, "--sha256", hex, "--runner-id", "r1"],
        TOKEN,
      );
      expect(out.stderr).toBe("");
      expect(out.code).toBe(0);
      expect(await read("usr/local/bin/runner")).toBe(await readFile(v1, "utf8"));
    });

    it("fails clearly when the download fails", async () => {
      const out = await install(
        ["--url", `${base}/missing`, "--sha256", "a".repeat(64), "--runner-id", "r1"],
        TOKEN,
      );
      expect(out.code).not.toBe(0);
      expect(out.stderr).toContain(`could not download ${base}/missing`);
    });
  });

  it("reads the token from --token-file and refuses --token on the command line", async () => {
    const tokenFile = path.join(work, "token.txt");
    await writeFile(tokenFile, `${TOKEN}\n`);
    const ok = await install(["--file", v1, "--runner-id", "r1", "--token-file", tokenFile]);
    expect(ok.code).toBe(0);
    expect(await read("etc/runner/token")).toBe(`RUNNER_API_TOKEN=${TOKEN}\n`);
    const refused = await install(["--file", v1, "--runner-id", "r1", "--token", TOKEN]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("--token is not accepted: the command line is visible in ps");
  });

  it("refuses a first install without a token or without a runner id", async () => {
    const noToken = await install(["--file", v1, "--runner-id", "r1"], "");
    expect(noToken.code).not.toBe(0);
    expect(noToken.stderr).toContain("no token: pass --token-file FILE or pipe the token on stdin");
    const noId = await install(["--file", v1], TOKEN);
    expect(noId.code).not.toBe(0);
    expect(noId.stderr).toContain("no runner id: pass --runner-id ID");
    expect(await exists("usr/local/bin/runner")).toBe(false);
  });

  it("upgrades in place: swaps the binary atomically, keeps token, id and operator lines, restarts", async () => {
    expect((await install(["--file", v1, "--runner-id", "runner_01abc"], TOKEN)).code).toBe(0);
    await writeFile(path.join(root, "etc/runner/env"), `${await read("etc/runner/env")}LOG_LEVEL=debug\n`);
    const out = await install(["--file", v2]); // no token, no id: both kept
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(await read("usr/local/bin/runner")).toBe(await readFile(v2, "utf8"));
    expect(await mode("usr/local/bin/runner")).toBe(0o755);
    expect(await readdir(path.join(root, "usr/local/bin"))).toEqual(["runner"]); // no runner.new left behind
    expect(await read("etc/runner/token")).toBe(`RUNNER_API_TOKEN=${TOKEN}\n`);
    expect(await read("etc/runner/env")).toBe(
      "LOG_LEVEL=debug\nRUNNER_API_URL=https://api.nuon.co\nRUNNER_ID=runner_01abc\n",
    );
    expect(out.recorded).toEqual([
      "groupadd --system runner",
      "useradd --system --gid runner --home-dir /var/lib/runner --no-create-home --shell /usr/sbin/nologin runner",
      `chown runner:runner ${root}/var/lib/runner`,
      "systemctl daemon-reload",
      "systemctl enable runner.service",
      "systemctl restart runner.service",
    ]);
    expect(out.stdout).toContain("upgraded /usr/local/bin/runner");
  });

  it("follows a service file (name, account, drain) and keeps it for later upgrades", async () => {
    const serviceFile = path.join(work, "custom-service.yml");
    await writeFile(
      serviceFile,
      "name: nuon-runner\nuser: root\ngroup: root\ndrainTimeout: 1m\nmode: build\n",
    );
    const out = await install(
      ["--file", v1, "--runner-id", "r1", "--service-file", serviceFile, "--no-start"],
      TOKEN,
    );
    expect(out.code).toBe(0);
    const unit = await read("etc/systemd/system/nuon-runner.service");
    expect(unit).toContain("ExecStart=/usr/local/bin/runner build\n");
    expect(unit).toContain("TimeoutStopSec=90\n");
    expect(unit).toContain("User=root\n");
    // root exists: no account is created; --no-start only enables
    expect(out.recorded).toEqual([
      `chown root:root ${root}/var/lib/runner`,
      "systemctl daemon-reload",
      "systemctl enable nuon-runner.service",
    ]);
    expect(await read("etc/runner/service.yml")).toBe(await readFile(serviceFile, "utf8"));
    const upgrade = await install(["--file", v2]);
    expect(upgrade.code).toBe(0);
    expect(upgrade.recorded).toContain("systemctl restart nuon-runner.service");
  });

  it("installs nothing when the service file is invalid, naming the field", async () => {
    const serviceFile = path.join(work, "bad-service.yml");
    await writeFile(serviceFile, "drainTimeout: forever\n");
    const out = await install(["--file", v1, "--runner-id", "r1", "--service-file", serviceFile], TOKEN);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain("→ at drainTimeout");
    expect(out.stderr).toContain("the service definition is invalid");
    expect(await exists("usr/local/bin/runner")).toBe(false);
  });

  it("uninstalls: stops and removes unit and binary, keeps env, token and state unless --purge", async () => {
    expect((await install(["--file", v1, "--runner-id", "r1"], TOKEN)).code).toBe(0);
    const out = await install(["--uninstall"]);
    expect(out.code).toBe(0);
    expect(out.recorded).toEqual(["systemctl disable --now runner.service", "systemctl daemon-reload"]);
    expect(await exists("etc/systemd/system/runner.service")).toBe(false);
    expect(await exists("usr/local/bin/runner")).toBe(false);
    expect(await exists("etc/runner/token")).toBe(true);
    expect(await exists("var/lib/runner")).toBe(true);

    expect((await install(["--file", v1, "--runner-id", "r1"])).code).toBe(0); // token kept, so none needed
    const purge = await install(["--uninstall", "--purge"]);
    expect(purge.code).toBe(0);
    for (const file of ["etc/runner/env", "etc/runner/token", "var/lib/runner", "etc/runner/install.env"]) {
      expect(await exists(file)).toBe(false);
    }
    const again = await install(["--uninstall"]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("nothing to uninstall");
  });
});
