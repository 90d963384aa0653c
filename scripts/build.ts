/**
 * `npm run build`: bundles the runner with esbuild into `dist/runner.mjs` (ESM, `#!/usr/bin/env node`, every
 * dependency inlined, the commit baked in) plus `dist/chunks/*.mjs`, one per lazily loaded command, so that
 * `runner version` parses 0.1 MB instead of 4 MB. Runnable as `node dist/runner.mjs <command>` or directly as
 * the `runner` binary (a symlink to it works). `--format cjs` writes ONE file, `dist/runner.cjs`, the main
 * script of the single executable (scripts/sea.ts): Node 24's SEA runs CommonJS mains only.
 *
 *   node scripts/build.ts [--outdir dist] [--format esm|cjs] [--commit SHA]
 *
 * Worker threads started as `new Worker(new URL("./x.ts", import.meta.url), { … })` are bundled separately and
 * inlined as source text started with `eval: true`, so the bundle needs no file beside it. (Not as `data:`
 * URLs: Node percent-decodes a data URL in a JavaScript loop, which got TurboFan compiled at every start and
 * kept ~4.6 MB of the compiler's pages of the node binary resident in an idle runner.)
 */
import { execFileSync } from "node:child_process";
import { chmod, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build, type Plugin } from "esbuild";

/** The repository root (the folder holding package.json). */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** Output module format: `esm` (runner.mjs, the default) or `cjs` (runner.cjs, for the single executable). */
export type BundleFormat = "esm" | "cjs";

/** Options of `buildRunner`. */
export interface BuildOptions {
  /** Output directory. Default `<root>/dist`. */
  outDir?: string;
  /** Default `esm`. */
  format?: BundleFormat;
  /** Commit baked in as RUNNER_COMMIT. Default `resolveCommit()`. */
  commit?: string;
}

/** What `buildRunner` wrote. */
export interface BuildResult {
  /** Absolute path of the entry file (runner.mjs or runner.cjs). */
  outFile: string;
  /** Total size of the JavaScript written (entry and chunks), in bytes. */
  bytes: number;
  /** Every JavaScript file written, absolute paths. */
  files: string[];
  commit: string;
  /** Worker modules inlined, as paths relative to the root. */
  workers: string[];
  /** esbuild warnings, formatted. */
  warnings: string[];
}

/** The commit to bake in: `RUNNER_COMMIT` from the environment, else `git rev-parse HEAD`, else `unknown`. */
export function resolveCommit(env: NodeJS.ProcessEnv = process.env, cwd: string = ROOT): string {
  const fromEnv = env.RUNNER_COMMIT?.trim();
  if (fromEnv) return fromEnv;
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "unknown"; // no git or no repository (e.g. a docker build context without .git)
  }
}

/** `new Worker(new URL("./x.ts", import.meta.url), {` — the one way the sources start a worker thread. */
const WORKER_URL =
  /new\s+Worker\(\s*new\s+URL\(\s*(["'])(\.{1,2}\/[^"']+\.ts)\1\s*,\s*import\.meta\.url\s*\)\s*,\s*\{/g;
/** Any other reference to the module's own location, which a bundle would silently get wrong. */
const SELF_LOCATION = /import\.meta\.(url|dirname|filename|resolve)\b/;

// CommonJS dependencies (pino, undici…) call require("node:…"); an ESM bundle needs a real `require` for that.
const REQUIRE_SHIM = (from: string) =>
  `import { createRequire as __runnerCreateRequire } from "node:module";\nconst require = __runnerCreateRequire(${from});`;

function definitions(commit: string): Record<string, string> {
  // version.ts reads process.env.RUNNER_COMMIT; the bundle answers with the commit it was built from.
  return { "process.env.RUNNER_COMMIT": JSON.stringify(commit) };
}

/** Bundles one worker entry as an ESM module and returns its source text. */
async function workerSource(entry: string, commit: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    write: false,
    minifySyntax: true,
    minifyWhitespace: true,
    define: definitions(commit),
    // evaluated source has no file location, so require() is anchored at the node binary (builtins only)
    banner: { js: REQUIRE_SHIM("process.execPath") },
    logLevel: "silent",
  });
  return result.outputFiles[0]?.text ?? "";
}

/** Inlines worker entries and rejects any other self-location lookup in the sources. */
function workersPlugin(commit: string, workers: string[]): Plugin {
  return {
    name: "runner-workers",
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
        const source = await readFile(args.path, "utf8");
        let rewritten = source;
        for (const match of source.matchAll(WORKER_URL)) {
          const entry = path.resolve(path.dirname(args.path), match[2] ?? "");
          workers.push(path.relative(ROOT, entry));
          const code = await workerSource(entry, commit);
          // Node 24 evaluates a worker's source as a module when it has import/export syntax
          rewritten = rewritten.replace(match[0], `new Worker(${JSON.stringify(code)}, { eval: true,`);
        }
        const leftover = SELF_LOCATION.exec(rewritten);
        if (leftover !== null) {
          const line = rewritten.slice(0, leftover.index).split("\n").length;
          return {
            errors: [
              {
                text: `${leftover[0]} cannot work in a one-file bundle (it would point at dist/, not src/); start workers with new Worker(new URL("./x.ts", import.meta.url), { … }) or avoid the file lookup`,
                location: { file: path.relative(ROOT, args.path), line },
              },
            ],
          };
        }
        return { contents: rewritten, loader: "ts" };
      });
    },
  };
}

/** Bundles the runner; rejects with esbuild's errors (already printed) when the build fails. */
export async function buildRunner(options: BuildOptions = {}): Promise<BuildResult> {
  const format = options.format ?? "esm";
  const outDir = path.resolve(options.outDir ?? path.join(ROOT, "dist"));
  const commit = options.commit ?? resolveCommit();
  const outFile = path.join(outDir, format === "esm" ? "runner.mjs" : "runner.cjs");
  const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as { version: string };
  const notice = `// runner ${pkg.version} (commit ${commit}): bundled by scripts/build.ts with esbuild. Edit src/, not this file.`;
  const workers: string[] = [];
  if (format === "esm") await rm(path.join(outDir, "chunks"), { recursive: true, force: true }); // stale hashes
  const result = await build({
    // bin/runner.js is the CLI wrapper around src/main.ts; its `#!/usr/bin/env node` line stays first
    entryPoints: { [path.basename(outFile, path.extname(outFile))]: path.join(ROOT, "bin", "runner.js") },
    outdir: outDir,
    outExtension: { ".js": format === "esm" ? ".mjs" : ".cjs" },
    // esm: each lazily imported command becomes a chunk; cjs (the SEA) must be one file
    splitting: format === "esm",
    chunkNames: "chunks/[name]-[hash]",
    bundle: true,
    platform: "node",
    target: "node24",
    format,
    minifySyntax: true,
    minifyWhitespace: true,
    // esm: external source maps (`node --enable-source-maps` maps stacks to src/); the SEA carries none
    sourcemap: format === "esm" ? "linked" : false,
    define: definitions(commit),
    banner: { js: format === "esm" ? `${notice}\n${REQUIRE_SHIM("import.meta.url")}` : notice },
    plugins: [workersPlugin(commit, workers)],
    metafile: true,
    logLevel: "warning",
    absWorkingDir: ROOT,
  });
  await chmod(outFile, 0o755);
  const outputs = Object.entries(result.metafile.outputs).filter(([file]) => !file.endsWith(".map"));
  return {
    outFile,
    bytes: outputs.reduce((sum, [, out]) => sum + out.bytes, 0),
    files: outputs.map(([file]) => path.resolve(ROOT, file)),
    commit,
    workers,
    warnings: result.warnings.map((w) => `${w.location?.file ?? ""}:${w.location?.line ?? ""} ${w.text}`),
  };
}

async function cli(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      outdir: { type: "string" },
      format: { type: "string", default: "esm" },
      commit: { type: "string" },
    },
  });
  if (values.format !== "esm" && values.format !== "cjs") {
    process.stderr.write(`build: --format must be esm or cjs, got "${values.format}"\n`);
    return 2;
  }
  try {
    const started = performance.now();
    const out = await buildRunner({
      format: values.format,
      ...(values.outdir !== undefined ? { outDir: values.outdir } : {}),
      ...(values.commit !== undefined ? { commit: values.commit } : {}),
    });
    const ms = Math.round(performance.now() - started);
    process.stdout.write(
      `build: wrote ${path.relative(process.cwd(), out.outFile)} and ${out.files.length - 1} chunk(s) (${(out.bytes / 1e6).toFixed(2)} MB, commit ${out.commit}, ${out.workers.length} worker(s) inlined) in ${ms} ms\n`,
    );
    return 0;
  } catch (err) {
    // esbuild has already printed the errors with their locations
    process.stderr.write(
      `build: failed: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}\n`,
    );
    return 1;
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await cli(process.argv.slice(2));
}
