/**
 * The agent's numbers: jobs by type and status, pickup latency, heartbeat gaps, time to first poll — kept
 * in memory and rendered as Prometheus text for /metrics (OpenTelemetry may replace the rendering later).
 */

/** One pickup: how long claiming took once the job was seen, and how old the job was when claimed. */
export interface PickupSample {
  jobId: string;
  group: string;
  /** Milliseconds from the loop receiving the job to the claim being acknowledged. */
  receiveToClaimMs: number;
  /** Milliseconds from the job's created_at to the claim (undefined when created_at is unreadable). */
  createdToClaimMs: number | undefined;
}

/** Live values the renderer reads when /metrics is scraped. */
export interface MetricsSnapshot {
  up: boolean;
  state: string;
  heartbeatWorstGapMs: number;
  heartbeatsSent: number;
  heartbeatsFailed: number;
  runningByGroup: Record<string, number>;
  /** Milliseconds from process start to the first ask for work, when it happened. */
  firstPollMs: number | undefined;
}

/** The agent's counters. */
export interface AgentMetrics {
  recordJob(type: string, status: string): void;
  recordPickup(sample: PickupSample): void;
  /** Every pickup so far (the newest 10 000). */
  pickups(): PickupSample[];
  /** Jobs by `type|status`. */
  jobs(): Record<string, number>;
  render(snapshot: MetricsSnapshot): string;
}

const MAX_SAMPLES = 10_000;
const QUANTILES = [0.5, 0.9, 0.99] as const;

/** The q-quantile of `values` (nearest rank), or NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

function label(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function num(value: number): string {
  return Number.isNaN(value) ? "NaN" : String(value);
}

/** Creates empty metrics. */
export function createAgentMetrics(): AgentMetrics {
  const jobs = new Map<string, number>();
  let samples: PickupSample[] = [];
  let pickupSumS = 0;
  let pickupCount = 0;

  function summary(
    lines: string[],
    name: string,
    help: string,
    values: number[],
    sum: number,
    count: number,
  ) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} summary`);
    for (const q of QUANTILES) lines.push(`${name}{quantile="${q}"} ${num(quantile(values, q))}`);
    lines.push(`${name}_sum ${sum}`, `${name}_count ${count}`);
  }

  return {
    recordJob(type, status) {
      const key = `${type}|${status}`;
      jobs.set(key, (jobs.get(key) ?? 0) + 1);
    },
    recordPickup(sample) {
      samples.push(sample);
      // trimmed in bulk (amortized O(1) per job), not by one copy of MAX_SAMPLES entries per job
      if (samples.length >= 2 * MAX_SAMPLES) samples = samples.slice(-MAX_SAMPLES);
      pickupSumS += sample.receiveToClaimMs / 1000;
      pickupCount += 1;
    },
    pickups: () => samples.slice(-MAX_SAMPLES),
    jobs: () => Object.fromEntries(jobs),
    render(snapshot) {
      const lines: string[] = [];
      const recent = samples.slice(-MAX_SAMPLES);
      lines.push("# HELP runner_up 1 while the runner is starting or running, 0 once it drains.");
      lines.push("# TYPE runner_up gauge", `runner_up ${snapshot.up ? 1 : 0}`);
      lines.push(
        "# HELP runner_state The agent's lifecycle state (1 for the current one).",
        "# TYPE runner_state gauge",
      );
      for (const state of ["starting", "running", "draining", "stopped"]) {
        lines.push(`runner_state{state="${state}"} ${snapshot.state === state ? 1 : 0}`);
      }
      lines.push(
        "# HELP runner_jobs_total Jobs run, by type and terminal status.",
        "# TYPE runner_jobs_total counter",
      );
      for (const [key, count] of jobs) {
        const [type = "", status = ""] = key.split("|");
        lines.push(`runner_jobs_total{type="${label(type)}",status="${label(status)}"} ${count}`);
      }
      lines.push(
        "# HELP runner_jobs_running Jobs running now, by group.",
        "# TYPE runner_jobs_running gauge",
      );
      for (const [group, count] of Object.entries(snapshot.runningByGroup)) {
        lines.push(`runner_jobs_running{group="${label(group)}"} ${count}`);
      }
      summary(
        lines,
        "runner_pickup_latency_seconds",
        "Seconds from receiving an available job to its claim being acknowledged.",
        recent.map((s) => s.receiveToClaimMs / 1000),
        pickupSumS,
        pickupCount,
      );
      const ages = recent.flatMap((s) =>
        s.createdToClaimMs === undefined ? [] : [s.createdToClaimMs / 1000],
      );
      summary(
        lines,
        "runner_pickup_age_seconds",
        "Seconds from a job's created_at to its claim (recent samples).",
        ages,
        ages.reduce((a, b) => a + b, 0),
        ages.length,
      );
      lines.push(
        "# HELP runner_heartbeat_worst_gap_seconds Largest gap between two heartbeat sends.",
        "# TYPE runner_heartbeat_worst_gap_seconds gauge",
        `runner_heartbeat_worst_gap_seconds ${snapshot.heartbeatWorstGapMs / 1000}`,
        "# HELP runner_heartbeats_total Heartbeats sent.",
        "# TYPE runner_heartbeats_total counter",
        `runner_heartbeats_total ${snapshot.heartbeatsSent}`,
        "# HELP runner_heartbeat_failures_total Heartbeats whose request failed.",
        "# TYPE runner_heartbeat_failures_total counter",
        `runner_heartbeat_failures_total ${snapshot.heartbeatsFailed}`,
      );
      if (snapshot.firstPollMs !== undefined) {
        lines.push(
          "# HELP runner_first_poll_seconds Seconds from process start to the first ask for work.",
          "# TYPE runner_first_poll_seconds gauge",
          `runner_first_poll_seconds ${snapshot.firstPollMs / 1000}`,
        );
      }
      return `${lines.join("\n")}\n`;
    },
  };
}
