/**
 * A run record as one self-contained HTML page (`runner runs show <id> --html FILE`): a timeline of every
 * job's steps, the jobs table with outputs and errors, and the event log. Inline CSS, no script, no external
 * asset; every piece of text from the record goes through escapeHtml, so a job named `<script>` is shown,
 * never run.
 */
import { formatMs, shortOutputs } from "../dev/summary.ts";
import type { RunSettingsView } from "../events/events.ts";
import type { RunRecord } from "./run-record.ts";
import { stepSpan, timeAxis } from "./timeline.ts";

/** Escapes `& < > " '` for HTML text and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1d2330;background:#fafbfc}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.meta{color:#5b6475;margin:2px 0}.status{font-weight:600;padding:1px 8px;border-radius:10px;background:#e6e9ef}
.s-finished,.s-success{background:#d8f3df;color:#135c2a}.s-failed,.s-failure,.s-timed-out,.s-not-attempted,.s-error{background:#fbdcdc;color:#8a1c1c}
.s-cancelled,.s-interrupted,.s-skipped,.s-noop{background:#fff1cc;color:#7a5a00}
.timeline{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:10px 14px}
.row{display:flex;align-items:center;height:22px}.label{width:260px;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.label.job{font-weight:600}.label.step{padding-left:16px;color:#3c4555}
.track{position:relative;flex:1;height:14px;background:#f1f3f6;border-radius:3px}
.bar{position:absolute;top:0;height:14px;border-radius:3px;min-width:2px;background:#6b8fd6}
.bar.job{background:#c9d3e6;height:6px;top:4px}.bar.s-finished{background:#4caf6e}.bar.s-failed,.bar.s-error,.bar.s-timed-out{background:#d9534f}
.bar.s-cancelled,.bar.s-noop{background:#e0b43c}.dur{width:80px;flex:none;text-align:right;color:#5b6475}
table{border-collapse:collapse;background:#fff;border:1px solid #dde1e8;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eef0f4;vertical-align:top}th{background:#f4f6f9}
pre{background:#f4f6f9;padding:8px;border-radius:4px;overflow:auto;margin:4px 0;white-space:pre-wrap}
details{margin:6px 0}.ev td{font-family:ui-monospace,Menlo,monospace;font-size:12px}
`;

/** Renders the page. */
export function renderRunHtml(record: RunRecord): string {
  const e = escapeHtml;
  const axis = timeAxis(record);
  const badge = (status: string) => `<span class="status s-${e(status)}">${e(status)}</span>`;
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const rows: string[] = [];
  for (const job of record.jobs) {
    const start = job.enqueuedAt ?? job.startedAt;
    const span =
      start === undefined
        ? undefined
        : stepSpan({ startedAt: start, ...(job.endedAt ? { endedAt: job.endedAt } : {}) }, axis);
    rows.push(
      `<div class="row"><div class="label job" title="${e(job.name)}">${e(job.name)} ${badge(job.status)}</div><div class="track">${
        span === undefined
          ? ""
          : `<div class="bar job" style="left:${pct(span.from)};width:${pct(Math.max(0, span.to - span.from))}"></div>`
      }</div><div class="dur">${e(formatMs(job.durationMs))}</div></div>`,
    );
    for (const step of job.steps) {
      const s = stepSpan(step, axis);
      const label = step.kind === "action" ? `step ${step.name}` : step.name;
      rows.push(
        `<div class="row"><div class="label step" title="${e(label)}: ${e(step.status)}">${e(label)}</div><div class="track">${
          s === undefined
            ? ""
            : `<div class="bar s-${e(step.status)}" title="${e(label)} ${e(step.status)} ${e(formatMs(step.durationMs))}" style="left:${pct(s.from)};width:${pct(Math.max(0, s.to - s.from))}"></div>`
        }</div><div class="dur">${e(formatMs(step.durationMs))}</div></div>`,
      );
    }
  }
  const jobRows = record.jobs
    .map(
      (j) =>
        `<tr><td>${e(j.name)}</td><td>${e(j.type)}</td><td>${badge(j.status)}</td><td>${e(formatMs(j.durationMs))}</td><td>${e(
          shortOutputs(j.outputs, j.type, 80),
        )}</td><td>${j.failedStep !== undefined ? `<b>${e(j.failedStep)}</b>: ` : ""}${e(j.error ?? "")}</td></tr>`,
    )
    .join("\n");
  const outputs = record.jobs
    .filter((j) => j.outputs !== undefined)
    .map(
      (j) =>
        `<details><summary>${e(j.name)}</summary><pre>${e(JSON.stringify(j.outputs, null, 2))}</pre></details>`,
    )
    .join("\n");
  const events = record.events
    .map((ev) => {
      const data = ev.data as unknown as Record<string, unknown>;
      const job = typeof data.job === "string" ? data.job : "";
      const rest = { ...data };
      delete rest.job;
      return `<tr class="ev"><td>${ev.seq}</td><td>${e(ev.time)}</td><td>${e(ev.type)}</td><td>${e(job)}</td><td>${e(
        JSON.stringify(rest).slice(0, 400),
      )}</td></tr>`;
    })
    .join("\n");
  const s: Partial<RunSettingsView> = record.settings;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>run ${e(record.runId)}</title><style>${CSS}</style></head>
<body>
<h1>run ${e(record.runId)} ${badge(record.status)}</h1>
<p class="meta">started ${e(record.startedAt)}${record.endedAt ? ` · ended ${e(record.endedAt)}` : ""} · ${e(formatMs(record.durationMs))}${
    record.exitCode !== undefined ? ` · exit ${record.exitCode}` : ""
  }</p>
<p class="meta">job files: ${e(record.jobFiles.join(", "))}</p>
<p class="meta">fail-fast ${s.failFast === true ? "on" : "off"} · timeout ${e(formatMs(s.timeoutMs))} · control plane ${e(String(s.controlPlane ?? "-"))}</p>
${record.reason !== undefined ? `<p class="meta">reason: ${e(record.reason)}</p>` : ""}
<h2>Timeline</h2>
<div class="timeline" id="timeline">
${rows.join("\n")}
</div>
<h2>Jobs</h2>
<table><thead><tr><th>job</th><th>type</th><th>status</th><th>duration</th><th>outputs</th><th>error</th></tr></thead>
<tbody>
${jobRows}
</tbody></table>
${outputs === "" ? "" : `<h2>Outputs</h2>\n${outputs}`}
<h2>Events</h2>
<details><summary>${record.events.length} events${record.droppedEvents > 0 ? ` (${record.droppedEvents} log lines left out)` : ""}</summary>
<table><thead><tr><th>seq</th><th>time</th><th>type</th><th>job</th><th>data</th></tr></thead>
<tbody>
${events}
</tbody></table></details>
</body></html>
`;
}
