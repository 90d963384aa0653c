/**
 * Rows from the other benchmarks: log redaction (bench/redact.ts) and job-log shipping (bench/logs.ts). Each
 * is loaded when it exists and exports its function; a missing or failing one becomes a row saying so.
 */
import { failedRow } from "./rows.ts";
import { type BenchRow, formatNumber } from "./stats.ts";

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function redactRows(quick: boolean): Promise<BenchRow[]> {
  try {
    const { benchRedact } = await import("./redact.ts");
    const chars = quick ? 5_000_000 : 20_000_000;
    return benchRedact({ chars }).map((r) => ({
      figure: `log redaction, ${r.name} (${chars / 1e6} MB, 20 secrets)`,
      measured: formatNumber(r.mbPerSecond, "MB/s"),
      floor: "—",
      target: "—",
      ok: undefined,
    }));
  } catch (err) {
    return [failedRow("log redaction (bench/redact.ts)", errorText(err))];
  }
}

async function logsRows(quick: boolean): Promise<BenchRow[]> {
  try {
    const { benchLogs } = await import("./logs.ts");
    const mb = quick ? 5 : 20;
    const r = await benchLogs({ mb });
    return [
      {
        figure: `job logs delivered, paced (${r.mbWritten.toFixed(0)} MB: redact → spool → OTLP → control plane)`,
        measured: formatNumber(r.mbPerSecond, "MB/s", 1),
        floor: "—",
        target: "—",
        ok: undefined,
      },
      {
        figure: "job log records lost",
        measured: `${r.lost} of ${r.records} (${r.duplicated} duplicated, ${r.droppedByCap} dropped by the cap)`,
        floor: "—",
        target: "0",
        ok: r.lost === 0,
      },
      {
        figure: "RSS growth while shipping job logs",
        measured: `${formatNumber(r.rssGrowthMb, "MB")} (${formatNumber(r.rssGrowthBeyondYoungMb, "MB")} beyond V8's young generation)`,
        floor: "—",
        target: "—",
        ok: undefined,
      },
    ];
  } catch (err) {
    return [failedRow("job log shipping (bench/logs.ts)", errorText(err))];
  }
}

/** The redaction and log-shipping rows; `quick` runs them smaller. */
export async function extraRows(quick: boolean): Promise<BenchRow[]> {
  process.stderr.write("bench: redaction and log shipping…\n");
  return [...(await redactRows(quick)), ...(await logsRows(quick))];
}
