import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import { prometheusName, renderPrometheus } from "../../src/telemetry/prometheus.ts";

class TestReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

async function render(record: (provider: MeterProvider) => void): Promise<string> {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  record(provider);
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return renderPrometheus(resourceMetrics);
}

describe("Prometheus text of OpenTelemetry metrics", () => {
  it("maps names and units the OpenTelemetry way", () => {
    expect(prometheusName("runner.step.duration", "s")).toBe("runner_step_duration_seconds");
    expect(prometheusName("runner.logs.shipped.bytes", "By")).toBe("runner_logs_shipped_bytes");
    expect(prometheusName("runner.jobs.completed", "{job}")).toBe("runner_jobs_completed");
    expect(prometheusName("http.latency_seconds", "s")).toBe("http_latency_seconds");
    expect(prometheusName("9lives", "1")).toBe("_9lives");
  });

  it("renders counters with _total, up-down counters as gauges, and escapes label values", async () => {
    const text = await render((p) => {
      const meter = p.getMeter("t");
      meter.createCounter("jobs.done", { description: "Jobs\ndone." }).add(2, { "job.type": 'a"b\\c' });
      meter.createUpDownCounter("queue.depth").add(-3);
    });
    expect(text).toBe(
      [
        "# HELP jobs_done_total Jobs\\ndone.",
        "# TYPE jobs_done_total counter",
        'jobs_done_total{job_type="a\\"b\\\\c"} 2',
        "# TYPE queue_depth gauge",
        "queue_depth -3",
        "",
      ].join("\n"),
    );
  });

  it("renders histograms as cumulative buckets with +Inf, _sum and _count", async () => {
    const text = await render((p) => {
      const h = p
        .getMeter("t")
        .createHistogram("wait", { unit: "s", advice: { explicitBucketBoundaries: [0.1, 1] } });
      for (const v of [0.05, 0.5, 0.7, 3]) h.record(v, { group: "sync" });
    });
    expect(text).toBe(
      [
        "# TYPE wait_seconds histogram",
        'wait_seconds_bucket{group="sync",le="0.1"} 1',
        'wait_seconds_bucket{group="sync",le="1"} 3',
        'wait_seconds_bucket{group="sync",le="+Inf"} 4',
        'wait_seconds_sum{group="sync"} 4.25',
        'wait_seconds_count{group="sync"} 4',
        "",
      ].join("\n"),
    );
  });

  it("renders nothing when nothing was recorded", async () => {
    expect(await render(() => undefined)).toBe("");
  });
});
