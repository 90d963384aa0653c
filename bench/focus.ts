/**
 * One benchmark scenario at a time, for working on a figure (not for the record: `npm run bench` is):
 *
 *   node bench/focus.ts <scenario> [--sources] [--jobs N] [--cpu-prof DIR] [--env NAME=VALUE …]
 *
 * Scenarios: `sequential` (pickup and wall time of noop jobs one at a time), `throughput1`, `throughput16`
 * (noop jobs enqueued at once), `rss` (idle RSS). The runner runs from a fresh bundle unless `--sources`;
 * `--cpu-prof DIR` writes the runner's V8 CPU profile into DIR when it stops; `--env` (repeatable) adds a
 * variable to the runner's environment (an A/B of a setting, e.g. `--env LOG_LEVEL=warn`).
 */
import { parseArgs } from "node:util";
import { startControlPlane } from "../src/mock-control-plane/server.ts";
import { noopThroughput, sequentialNoops } from "./agent-jobs.ts";
import { buildBenchBundle } from "./bundle.ts";
import { killAllBenchRunners, runnerStarted, spawnBenchRunner } from "./runner.ts";
import { idleRssMb } from "./startup.ts";

const SCENARIOS = ["sequential", "throughput1", "throughput16", "rss"] as const;
type Scenario = (typeof SCENARIOS)[number];

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      sources: { type: "boolean", default: false },
      jobs: { type: "string" },
      "cpu-prof": { type: "string" },
      env: { type: "string", multiple: true },
    },
  });
  const scenario = positionals[0] as Scenario | undefined;
  if (scenario === undefined || !SCENARIOS.includes(scenario)) {
    process.stderr.write(
      `usage: node bench/focus.ts <${SCENARIOS.join("|")}> [--sources] [--jobs N] [--cpu-prof DIR] [--env NAME=VALUE …]\n`,
    );
    return 2;
  }
  process.once("exit", killAllBenchRunners);
  const bundle = values.sources ? undefined : await buildBenchBundle();
  const cp = await startControlPlane();
  try {
    const env: Record<string, string> = scenario === "throughput16" ? { RUNNER_CONCURRENCY: "16" } : {};
    for (const pair of values.env ?? []) {
      const at = pair.indexOf("=");
      if (at <= 0) {
        process.stderr.write(`focus: --env takes NAME=VALUE, got "${pair}"\n`);
        return 2;
      }
      env[pair.slice(0, at)] = pair.slice(at + 1);
    }
    const cpuProf = values["cpu-prof"];
    const runner = await spawnBenchRunner(cp, {
      ...(bundle ? { entry: bundle.entry } : {}),
      env,
      ...(cpuProf !== undefined ? { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${cpuProf}`] } : {}),
    });
    try {
      await runnerStarted(runner);
      if (scenario === "rss") {
        process.stdout.write(`idle RSS: ${(await idleRssMb(runner.pid)).toFixed(1)} MB\n`);
        return 0;
      }
      const jobs = Number(values.jobs ?? (scenario === "throughput16" ? 600 : 200));
      if (scenario === "sequential") {
        await sequentialNoops(cp, runner.runnerId, 20);
        const r = await sequentialNoops(cp, runner.runnerId, jobs);
        process.stdout.write(
          `pickup p50 ${r.pickupP50Ms.toFixed(2)} ms p99 ${r.pickupP99Ms.toFixed(2)} ms; wall p50 ${r.wallP50Ms.toFixed(2)} ms; ` +
            `${r.requestsPerJobTotal.toFixed(1)} requests/job; ${r.failed} failed\n`,
        );
        return 0;
      }
      await noopThroughput(cp, runner, 50);
      const r = await noopThroughput(cp, runner, jobs, 60_000);
      process.stdout.write(
        `${r.jobsPerSecond.toFixed(0)} jobs/s (${r.completed}/${r.jobs}, ${r.failed} failed); CPU per job: runner ` +
          `${r.runnerCpuMsPerJob.toFixed(2)} ms, control plane + harness ${r.controlPlaneCpuMsPerJob.toFixed(2)} ms\n`,
      );
      return 0;
    } finally {
      await runner.stop();
    }
  } finally {
    await cp.close();
    await bundle?.remove();
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
