/**
 * The terminal view of a run, a subscriber of the event bus. On a TTY: one line per job (status, elapsed
 * time, the step running now and the last log line) redrawn in place with ANSI escapes, at most every
 * `throttleMs`. Elsewhere (CI, a pipe): one plain line per job and step change, never redrawn.
 */
import type { Writable } from "node:stream";
import type { EventBus } from "../events/bus.ts";
import type { AnyRunEvent } from "../events/events.ts";
import { formatMs, truncate } from "./summary.ts";

/** Options of createLiveView. */
export interface LiveViewOptions {
  out: Writable;
  /** Redraw in place (true) or print plain lines (false); default `out.isTTY`. */
  tty?: boolean;
  /** Terminal width; default `out.columns`, else 100. */
  columns?: () => number;
  /** Smallest time between two redraws, in ms; default 100. */
  throttleMs?: number;
  /** Clock in epoch ms; default Date.now. */
  nowMs?: () => number;
}

/** A running live view. */
export interface LiveView {
  /** Draws the final state and stops redrawing; idempotent. */
  stop(): void;
}

interface JobLine {
  name: string;
  type: string;
  status: string;
  enqueuedMs?: number;
  endedMs?: number;
  durationMs?: number;
  step?: { name: string; sinceMs: number };
  lastLog?: string;
}

const ESC = "\x1b[";
const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const MARKS: Record<string, string> = {
  waiting: "·",
  enqueued: "○",
  queued: "○",
  available: "○",
  finished: "✔",
  failed: "✖",
  "timed-out": "✖",
  "not-attempted": "✖",
  cancelled: "⊘",
  skipped: "↷",
};
const COLORS: Record<string, string> = {
  finished: "32",
  failed: "31",
  "timed-out": "31",
  "not-attempted": "31",
  cancelled: "33",
  skipped: "2",
  waiting: "2",
};

/** Subscribes a live view to the bus. */
export function createLiveView(bus: EventBus, opts: LiveViewOptions): LiveView & { unsubscribe: () => void } {
  const out = opts.out as Writable & { isTTY?: boolean; columns?: number };
  const tty = opts.tty ?? out.isTTY === true;
  const columns = opts.columns ?? (() => out.columns || 100);
  const throttleMs = opts.throttleMs ?? 100;
  const now = opts.nowMs ?? Date.now;
  const jobs = new Map<string, JobLine>();
  let runId = "";
  let drawnLines = 0;
  let lastDrawMs = 0;
  let timer: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let frame = 0;
  let stopped = false;

  const plain = (text: string) => {
    const t = new Date(now()).toISOString().slice(11, 19);
    out.write(`[${t}] ${text}\n`);
  };

  function onEvent(event: AnyRunEvent): void {
    if (stopped) return;
    const line = "job" in event.data ? jobs.get((event.data as { job: string }).job) : undefined;
    switch (event.type) {
      case "run:started":
        runId = event.data.runId;
        for (const j of event.data.jobs) jobs.set(j.name, { name: j.name, type: j.type, status: "waiting" });
        if (!tty) plain(`run ${runId}: ${event.data.jobs.length} job(s)`);
        else ticker = setInterval(schedule, 250).unref();
        break;
      case "job:enqueued":
        if (line === undefined) break;
        line.status = "enqueued";
        line.enqueuedMs = now();
        if (!tty) plain(`${line.name}: enqueued (${line.type})`);
        break;
      case "job:status":
        if (line === undefined || line.endedMs !== undefined) break;
        line.status = event.data.status;
        break;
      case "step:status": {
        if (line === undefined) break;
        const d = event.data;
        const label = d.kind === "action" ? `step ${d.step}` : d.step;
        if (d.status === "in-progress") {
          line.step = { name: label, sinceMs: now() };
          if (!tty) plain(`${line.name}: ${label}`);
        } else {
          if (line.step?.name === label) line.step = undefined;
          if (!tty && (d.kind === "action" || d.status !== "finished"))
            plain(
              `${line.name}: ${label} ${d.status}${d.durationMs !== undefined ? ` in ${formatMs(d.durationMs)}` : ""}`,
            );
        }
        break;
      }
      case "job:log":
        if (line !== undefined && event.data.line.trim() !== "") line.lastLog = event.data.line;
        break;
      case "job:finished":
        if (line === undefined) break;
        line.status = event.data.status;
        line.endedMs = now();
        line.durationMs = event.data.durationMs;
        line.step = undefined;
        if (!tty) {
          const why = event.data.error !== undefined ? `: ${truncate(event.data.error, 200)}` : "";
          plain(`${line.name}: ${event.data.status} in ${formatMs(event.data.durationMs)}${why}`);
        }
        break;
      case "run:finished":
        if (!tty)
          plain(`run ${event.data.runId}: ${event.data.status} in ${formatMs(event.data.durationMs)}`);
        break;
      default:
        break;
    }
    if (tty) schedule();
  }

  function schedule(): void {
    if (stopped || timer !== undefined) return;
    const wait = Math.max(0, lastDrawMs + throttleMs - now());
    timer = setTimeout(() => {
      timer = undefined;
      draw();
    }, wait);
    timer.unref?.();
  }

  function render(): string[] {
    const width = Math.max(40, columns()) - 1;
    const nameWidth = Math.max(4, ...[...jobs.values()].map((j) => j.name.length));
    const typeWidth = Math.max(4, ...[...jobs.values()].map((j) => j.type.length));
    const lines = [`run ${runId}`];
    frame = (frame + 1) % SPINNER.length;
    for (const j of jobs.values()) {
      const ended = j.endedMs !== undefined;
      const mark = MARKS[j.status] ?? SPINNER[frame] ?? "*";
      const elapsed = ended
        ? formatMs(j.durationMs)
        : j.enqueuedMs !== undefined
          ? formatMs(now() - j.enqueuedMs)
          : "";
      const step = j.step !== undefined ? `▸ ${j.step.name} ${formatMs(now() - j.step.sinceMs)}` : "";
      const head = `${mark} ${j.name.padEnd(nameWidth)}  ${j.type.padEnd(typeWidth)}  ${j.status.padEnd(11)} ${elapsed.padStart(7)}`;
      const rest = [step, j.lastLog !== undefined && !ended ? `│ ${j.lastLog}` : ""]
        .filter((s) => s !== "")
        .join("  ");
      const plainLine = truncate(rest === "" ? head.trimEnd() : `${head}  ${rest}`, width);
      const color = COLORS[j.status];
      lines.push(
        color === undefined
          ? plainLine
          : `${ESC}${color}m${plainLine.slice(0, 1)}${ESC}0m${plainLine.slice(1)}`,
      );
    }
    return lines;
  }

  function draw(): void {
    lastDrawMs = now();
    const lines = render();
    let text = drawnLines > 0 ? `${ESC}${drawnLines}F` : `${ESC}?25l`;
    for (const l of lines) text += `${ESC}2K${l}\n`;
    text += `${ESC}J`;
    out.write(text);
    drawnLines = lines.length;
  }

  const unsubscribe = bus.onAny(onEvent);
  return {
    unsubscribe,
    stop() {
      if (stopped) return;
      clearTimeout(timer);
      clearInterval(ticker);
      timer = undefined;
      if (tty && jobs.size > 0) {
        draw();
        out.write(`${ESC}?25h`);
      }
      stopped = true;
      unsubscribe();
    },
  };
}
