/**
 * The Dockerfile, without docker (none here): dockerfile-utils finds no syntax problem, and the rules hold:
 * non-root USER, tini as PID 1 in front of the bundle, a HEALTHCHECK whose command really probes /healthz,
 * every downloaded binary checksum-verified, nothing to build with in the final stage, Node's version equal
 * to the project's, and a .dockerignore that lets in exactly what the build copies.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { validate } from "dockerfile-utils";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions grouped by stage (continuation lines joined, comments dropped); ARGs before FROM are global. */
function parseDockerfile(text: string): { global: Instruction[]; stages: Instruction[][] } {
  const joined = text
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\n/g, " ");
  const global: Instruction[] = [];
  const stages: Instruction[][] = [];
  for (const line of joined.split("\n")) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (match === null) continue;
    const instruction = { keyword: match[1]!.toUpperCase(), args: match[2]!.replace(/\s+/g, " ").trim() };
    if (instruction.keyword === "FROM") stages.push([]);
    (stages.at(-1) ?? global).push(instruction);
  }
  return { global, stages };
}

let text: string;
let global: Instruction[];
let stages: Instruction[][];
let runtime: Instruction[];
const args = new Map<string, string>();

beforeAll(async () => {
  text = await readFile(path.join(ROOT, "Dockerfile"), "utf8");
  ({ global, stages } = parseDockerfile(text));
  runtime = stages.at(-1)!;
  for (const ins of [...global, ...stages.flat()].filter((i) => i.keyword === "ARG")) {
    const [name, value] = ins.args.split("=");
    if (value !== undefined) args.set(name!, value);
  }
});

const find = (stage: Instruction[], keyword: string) => stage.filter((i) => i.keyword === keyword);

describe("the Dockerfile", () => {
  it("has no problem dockerfile-utils can see, which does flag a broken one", () => {
    expect(validate(text)).toEqual([]);
    const broken = validate(`${text}\nHEALTHCHECK --interval=soon CMD true\nEXPOSE port\n`);
    expect(broken.length).toBeGreaterThanOrEqual(2);
  });

  it("builds in stages: build (npm ci + scripts/build.ts), tools, then the runtime", () => {
    expect(stages).toHaveLength(3);
    const build = stages[0]!;
    expect(build[0]!.args).toBe(`node:$\{NODE_VERSION}-bookworm-slim AS build`);
    expect(find(build, "RUN").map((r) => r.args)).toEqual([
      "npm ci --ignore-scripts --no-audit --no-fund",
      `RUNNER_COMMIT="$\{RUNNER_COMMIT}" node scripts/build.ts --outdir /out`,
    ]);
    expect(find(runtime, "COPY").map((c) => c.args)).toEqual([
      "--from=tools /tools/bin/ /usr/local/bin/",
      "--from=build /out/ /app/",
    ]);
  });

  it("runs Node 24 at the exact version the project pins, by tag in every stage", async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8"));
    expect(args.get("NODE_VERSION")).toBe(pkg.devDependencies.node);
    for (const stage of stages)
      expect(stage[0]!.args).toMatch(/^node:\$\{NODE_VERSION\}-bookworm-slim( AS \w+)?$/);
  });

  it("runs as a non-root user (uid 10001) under tini, with the bundle as the program", () => {
    expect(find(runtime, "USER").map((u) => u.args)).toEqual(["10001:10001"]);
    expect(find(runtime, "ENTRYPOINT").map((e) => JSON.parse(e.args))).toEqual([
      ["/usr/bin/tini", "--", "node", "/app/runner.mjs"],
    ]);
    expect(find(runtime, "CMD").map((c) => JSON.parse(c.args))).toEqual([["run"]]);
    const setup = find(runtime, "RUN")
      .map((r) => r.args)
      .join(" ");
    expect(setup).toMatch(/"tini=\$\{TINI_VERSION\}"/);
    expect(setup).toContain("useradd --system --uid 10001");
  });

  it("listens for probes on all interfaces and keeps state in a volume", () => {
    const env = find(runtime, "ENV")
      .map((e) => e.args)
      .join(" ");
    expect(env).toContain("RUNNER_ADMIN_HOST=0.0.0.0");
    expect(env).toContain("RUNNER_STATE_DIR=/var/lib/runner");
    expect(find(runtime, "VOLUME").map((v) => JSON.parse(v.args))).toEqual([["/var/lib/runner"]]);
    expect(find(runtime, "EXPOSE").map((e) => e.args)).toEqual(["5000"]);
  });

  it("verifies every downloaded file with sha256sum -c against a pinned 64-hex checksum", () => {
    const downloads = stages
      .flat()
      .filter((i) => i.keyword === "RUN" && /\b(curl|wget)\b/.test(i.args) && !/apt-get/.test(i.args));
    expect(downloads.length).toBe(3);
    for (const run of downloads) {
      const output = /curl [^&]*-o (\S+)/.exec(run.args)?.[1];
      expect(output, run.args).toBeDefined();
      // the parser folds whitespace; the file itself must have the two spaces the sha256sum -c format wants
      expect(run.args).toContain(`echo "\${sum} ${output}" | sha256sum -c -`);
      expect(text).toContain(`echo "\${sum}  ${output}" | sha256sum -c -`);
      // the checksum comes from ARGs, and the download happens before anything is unpacked or installed
      for (const sumArg of run.args.match(/\$\{(\w+_SHA256_\w+)\}/g) ?? []) {
        expect(args.get(sumArg.slice(2, -1)), sumArg).toMatch(/^[0-9a-f]{64}$/);
      }
      expect(run.args.match(/_SHA256_/g)?.length).toBe(2); // amd64 and arm64
      expect(run.args.indexOf("sha256sum -c")).toBeLessThan(run.args.search(/unzip|tar -x|install -m/));
    }
    for (const tool of ["TERRAFORM", "HELM", "KUBECTL"]) {
      expect(args.get(`${tool}_VERSION`)).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  it("installs no build tool, downloader or package manager in the final stage", () => {
    const setup = find(runtime, "RUN")
      .map((r) => r.args)
      .join(" ");
    const installed = /apt-get install -y --no-install-recommends ([^&]*)/.exec(setup)?.[1] ?? "";
    expect(
      installed
        .split(" ")
        .map((p) => p.replace(/=.*$/, "").replaceAll('"', ""))
        .filter(Boolean),
    ).toEqual(["git", "tini", "ca-certificates", "openssh-client"]);
    expect(setup).toMatch(/"git=\$\{GIT_VERSION\}"/);
    expect(setup).not.toMatch(/build-essential|gcc|make|curl|wget|unzip/);
    expect(setup).toContain("rm -rf /usr/local/lib/node_modules/npm");
    expect(setup).toContain("rm -rf /var/lib/apt/lists/*");
  });

  it("lets into the build context exactly what the build stage copies", async () => {
    const ignore = (await readFile(path.join(ROOT, ".dockerignore"), "utf8"))
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith("#"));
    expect(ignore[0]).toBe("*");
    const allowed = ignore.slice(1).map((l) => l.replace(/^!/, "").replace(/\/$/, ""));
    const copied = find(stages[0]!, "COPY").flatMap((c) => c.args.split(" ").slice(0, -1));
    expect(allowed.sort()).toEqual(copied.sort());
  });
});

describe("the HEALTHCHECK command", () => {
  function healthcheck(): { options: string; argv: string[] } {
    const hc = find(runtime, "HEALTHCHECK");
    expect(hc).toHaveLength(1);
    const match = /^(.*?)\s*CMD (\[.*\])$/.exec(hc[0]!.args)!;
    return { options: match[1]!, argv: JSON.parse(match[2]!) as string[] };
  }

  async function probe(port: number): Promise<number> {
    const [program, ...rest] = healthcheck().argv;
    expect(program).toBe("node");
    return new Promise((resolve) => {
      execFile(process.execPath, rest, { env: { RUNNER_ADMIN_PORT: String(port) }, timeout: 10_000 }, (err) =>
        resolve(err === null ? 0 : typeof err.code === "number" ? err.code : -1),
      );
    });
  }

  it("has sane timings", () => {
    expect(healthcheck().options).toBe("--interval=30s --timeout=5s --start-period=60s --retries=3");
  });

  it("passes on a 200 from /healthz, fails on a 503 and when nothing listens (run with node, as in the image)", async () => {
    let status = 200;
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? "");
      res.writeHead(status).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      expect(await probe(port)).toBe(0);
      status = 503;
      expect(await probe(port)).toBe(1);
      expect(paths).toEqual(["/healthz", "/healthz"]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(await probe(port)).toBe(1);
  });
});
