import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createControlPlaneClient } from "../../src/control-plane/client.ts";
import { runnerResource } from "../../src/logs/otlp-records.ts";
import { createShipper, resumePending } from "../../src/logs/shipper.ts";
import { startControlPlane } from "../../src/mock-control-plane/server.ts";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const src = (path: string) => pathToFileURL(resolve(import.meta.dirname, "../../src", path)).href;

/** A runner process that writes job output steadily and ships it, until it is killed. */
const CHILD = `
import { pino } from "pino";
import { createControlPlaneClient } from "${src("control-plane/client.ts")}";
import { openJobLog } from "${src("logs/job-log.ts")}";
import { runnerResource } from "${src("logs/otlp-records.ts")}";
import { createRedactor } from "${src("logs/redact.ts")}";
import { createShipper } from "${src("logs/shipper.ts")}";
const env = process.env;
const silent = pino({ level: "silent" });
const client = createControlPlaneClient({ baseUrl: env.CP_URL, token: env.CP_TOKEN, runnerId: env.RUNNER_ID });
const shipper = createShipper({ client, resource: runnerResource({ runnerId: env.RUNNER_ID, version: "child" }),
  logger: silent, maxBatchRecords: 50, batchDelayMs: 20 });
const log = openJobLog({ stateDir: env.STATE_DIR, job: JSON.parse(env.JOB), execution: { id: env.EXECUTION_ID },
  stepName: () => "execute", redactor: createRedactor(), logger: silent, shipper });
let i = 0;
setInterval(() => { for (let k = 0; k < 25; k++) log.line("line " + ++i, "stdout"); }, 2);
`;

describe("log shipping after kill -9", () => {
  it("ships every record a killed runner left on disk; the control plane gets the batch in flight twice at most and keeps one", async () => {
    const cp = await startControlPlane();
    cleanups.push(() => cp.close());
    const runner = cp.admin.createRunner();
    const client = createControlPlaneClient({ baseUrl: cp.url, token: runner.token, runnerId: runner.id });
    cleanups.push(() => client.close());
    const job = cp.admin.enqueueJob(runner.id, { type: "noop" });
    const execution = await client.createExecution(job.id);
    const stateDir = mkdtempSync(join(tmpdir(), "runner-crash-"));
    cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));

    const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD], {
      cwd: resolve(import.meta.dirname, "../.."),
      env: {
        ...process.env,
        CP_URL: cp.url,
        CP_TOKEN: runner.token,
        RUNNER_ID: runner.id,
        STATE_DIR: stateDir,
        JOB: JSON.stringify(job),
        EXECUTION_ID: execution.id,
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const exited = new Promise<NodeJS.Signals | null>((done) =>
      child.once("exit", (_code, signal) => done(signal)),
    );
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    await cp.waitForJob(job.id, (j) => j.logStats.records >= 1_000, 20_000);
    // Stall the control plane (it runs in this process) so a request is in flight and a backlog builds up in
    // the spool, then kill: the control plane stores a request whose answer the runner never gets.
    const stallUntil = performance.now() + 300;
    while (performance.now() < stallUntil) {
      // busy: the control plane answers nothing meanwhile
    }
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    const shippedBeforeKill = cp.admin.getJob(job.id)!.logStats.records;

    const shipper = createShipper({
      client,
      resource: runnerResource({ runnerId: runner.id, version: "next" }),
      logger: pino({ level: "silent" }),
    });
    cleanups.push(() => shipper.close());
    const { resumed } = resumePending({ stateDir, shipper, logger: pino({ level: "silent" }) });
    expect(resumed).toHaveLength(1);
    const onDisk = resumed[0]!.lastSeq;
    expect(onDisk).toBeGreaterThan(shippedBeforeKill);
    expect(await shipper.flush(resumed[0]!, 10_000)).toBe(true);

    const done = cp.admin.getJob(job.id)!;
    // Every record once: the batch in flight at the kill was sent again and dropped by the control plane.
    expect(done.logs.map((r) => r.attributes["runner.log.seq"])).toEqual(
      Array.from({ length: onDisk }, (_, i) => i + 1),
    );
    expect(done.logStats.duplicates).toBeLessThanOrEqual(50);
    expect(done.logStats.duplicateRequests).toBeLessThanOrEqual(1);
  });
});
