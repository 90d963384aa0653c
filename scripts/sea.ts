/**
 * `npm run build:sea`: the runner as ONE executable with Node inside, `dist/runner-linux-x64` (named after the
 * platform and architecture that built it): the CommonJS bundle (scripts/build.ts `--format cjs`), a
 * generated `dist/sea-config.json`, `node --experimental-sea-config` for the preparation blob, then postject
 * injects the blob into a copy of the node binary. The node that runs this script is the one embedded.
 *
 *   node scripts/sea.ts [--outdir dist] [--commit SHA]
 */
import { execFile } from "node:child_process";
import { copyFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { buildRunner, ROOT } from "./build.ts";

const run = promisify(execFile);

/** The fuse Node looks for to know a SEA blob was injected (fixed by Node, see its SEA docs). */
export const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/** Options of `buildSea`. */
export interface SeaOptions {
  /** Output directory. Default `<root>/dist`. */
  outDir?: string;
  /** Commit baked in. Default as scripts/build.ts. */
  commit?: string;
  /** The node binary to embed; it also writes the blob (they must be the same version). Default this process's. */
  nodeBinary?: string;
}

/** What `buildSea` wrote. */
export interface SeaResult {
  /** Absolute path of the executable. */
  executable: string;
  /** Its size in bytes. */
  bytes: number;
  /** The `runner version` line the executable printed when checked. */
  versionLine: string;
}

/** The Node SEA configuration for a CommonJS main (Node 24 has no ESM SEA main). */
export function seaConfig(main: string, blob: string): Record<string, unknown> {
  return {
    main,
    output: blob,
    disableExperimentalSEAWarning: true,
    // V8 code cache made at build time: the 4 MB main is not parsed from scratch at every start
    useCodeCache: true,
    useSnapshot: false,
  };
}

/** Builds the single executable and checks that it answers `version`. */
export async function buildSea(options: SeaOptions = {}): Promise<SeaResult> {
  const outDir = path.resolve(options.outDir ?? path.join(ROOT, "dist"));
  const node = options.nodeBinary ?? process.execPath;
  const bundle = await buildRunner({
    outDir,
    format: "cjs",
    ...(options.commit !== undefined ? { commit: options.commit } : {}),
  });
  const configFile = path.join(outDir, "sea-config.json");
  const blob = path.join(outDir, "sea-prep.blob");
  // paths relative to outDir (the cwd below), so the generated file does not depend on where dist/ is
  await writeFile(
    configFile,
    `${JSON.stringify(seaConfig(path.basename(bundle.outFile), path.basename(blob)), null, 2)}\n`,
  );
  await run(node, ["--experimental-sea-config", configFile], { cwd: outDir });

  const executable = path.join(outDir, `runner-${process.platform}-${process.arch}`);
  const partial = `${executable}.partial`;
  await copyFile(node, partial);
  // postject's CLI in a child process: its ELF library prints harmless section warnings we keep off the terminal
  const postject = createRequire(import.meta.url).resolve("postject/dist/cli.js");
  try {
    await run(process.execPath, [postject, partial, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SEA_FUSE]);
  } catch (err) {
    const output = err as { stdout?: string; stderr?: string };
    throw new Error(
      `postject could not inject the blob into ${partial}: ${output.stdout ?? ""}${output.stderr ?? ""}`,
      {
        cause: err,
      },
    );
  }
  const { stdout } = await run(partial, ["version"], { env: { PATH: process.env.PATH ?? "" } });
  if (!stdout.startsWith("runner ")) {
    throw new Error(
      `the single executable printed ${JSON.stringify(stdout)} for "version"; expected "runner …"`,
    );
  }
  await rename(partial, executable); // atomic: a half-written executable never has the final name
  await rm(blob, { force: true });
  const { size } = await stat(executable);
  return { executable, bytes: size, versionLine: stdout.trim() };
}

async function cli(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { outdir: { type: "string" }, commit: { type: "string" } },
  });
  try {
    const started = performance.now();
    const out = await buildSea({
      ...(values.outdir !== undefined ? { outDir: values.outdir } : {}),
      ...(values.commit !== undefined ? { commit: values.commit } : {}),
    });
    const ms = Math.round(performance.now() - started);
    process.stdout.write(
      `build:sea: wrote ${path.relative(process.cwd(), out.executable)} (${(out.bytes / 1e6).toFixed(1)} MB) in ${ms} ms: ${out.versionLine}\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`build:sea: failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await cli(process.argv.slice(2));
}
