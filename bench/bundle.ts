/** Builds the bundle the image ships (scripts/build.ts) into a temporary directory, for the benchmark to run. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildRunner } from "../scripts/build.ts";

/** A built bundle: its entry (`runner.mjs`) and a way to remove it. */
export interface BenchBundle {
  entry: string;
  /** Milliseconds the build took. */
  buildMs: number;
  remove(): Promise<void>;
}

/** Bundles the current sources into a temporary directory. */
export async function buildBenchBundle(): Promise<BenchBundle> {
  const dir = await mkdtemp(join(tmpdir(), "runner-bench-bundle-"));
  const t0 = performance.now();
  try {
    const out = await buildRunner({ outDir: dir, commit: "bench" });
    return {
      entry: out.outFile,
      buildMs: performance.now() - t0,
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new Error("could not bundle the runner for the benchmark", { cause: err });
  }
}
