import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLiveView } from "../../src/dev/live-view.ts";
import { createEventBus } from "../../src/events/bus.ts";
import type { RunSettingsView } from "../../src/events/events.ts";

const settings = {} as RunSettingsView;

function sink() {
  const out = new PassThrough();
  let text = "";
  out.on("data", (c: Buffer) => {
    text += c.toString();
  });
  return { out, text: () => text };
}

function play(bus: ReturnType<typeof createEventBus>) {
  bus.emit("run:started", {
    runId: "r1",
    jobFiles: [],
    jobs: [
      { name: "infra", type: "terraform-deploy", dependsOn: [] },
      { name: "greet", type: "actions-workflow", dependsOn: ["infra"] },
    ],
    settings,
  });
  bus.emit("job:enqueued", { job: "infra", jobId: "j1", type: "terraform-deploy" });
  bus.emit("step:status", {
    job: "infra",
    jobId: "j1",
    step: "in-progress",
    kind: "phase",
    status: "in-progress",
    at: "t",
  });
  bus.emit("job:log", { job: "infra", jobId: "j1", level: "info", line: "Apply complete!", source: "agent" });
}

describe("the live view", () => {
  it("prints plain lines, never escape codes, when the output is not a TTY", () => {
    const s = sink();
    const bus = createEventBus();
    const view = createLiveView(bus, { out: s.out, tty: false, nowMs: () => 0 });
    play(bus);
    bus.emit("job:finished", {
      job: "infra",
      jobId: "j1",
      type: "terraform-deploy",
      status: "failed",
      durationMs: 1500,
      error: "boom",
    });
    view.stop();
    const lines = s.text().trimEnd().split("\n");
    expect(lines).toEqual([
      "[00:00:00] run r1: 2 job(s)",
      "[00:00:00] infra: enqueued (terraform-deploy)",
      "[00:00:00] infra: in-progress",
      "[00:00:00] infra: failed in 1.5s: boom",
    ]);
    expect(s.text()).not.toContain("\x1b[");
  });

  it("redraws in place on a TTY, throttled, showing the running step and the last log line", async () => {
    const s = sink();
    const bus = createEventBus();
    let now = 1_000;
    const view = createLiveView(bus, {
      out: s.out,
      tty: true,
      columns: () => 120,
      throttleMs: 20,
      nowMs: () => now,
    });
    play(bus);
    now += 2_300;
    await new Promise((r) => setTimeout(r, 60));
    const first = s.text();
    // One redraw for the burst of four events.
    expect(first.match(/run r1/g)).toHaveLength(1);
    expect(first).toContain("infra");
    expect(first).toContain("▸ in-progress 2.3s");
    expect(first).toContain("│ Apply complete!");
    expect(first).toMatch(/greet\s+actions-workflow\s+waiting/);
    bus.emit("job:finished", {
      job: "infra",
      jobId: "j1",
      type: "terraform-deploy",
      status: "finished",
      durationMs: 2300,
    });
    view.stop();
    const second = s.text().slice(first.length);
    expect(second.startsWith("\x1b[3F")).toBe(true); // back up over the three lines drawn before
    expect(second).toContain("\x1b[2K");
    expect(second).toMatch(/✔.*infra.*finished\s+2\.3s/);
    expect(second.endsWith("\x1b[?25h")).toBe(true);
  });

  it("cuts lines to the terminal width", async () => {
    const s = sink();
    const bus = createEventBus();
    const view = createLiveView(bus, {
      out: s.out,
      tty: true,
      columns: () => 50,
      throttleMs: 0,
      nowMs: () => 0,
    });
    play(bus);
    bus.emit("job:log", { job: "infra", jobId: "j1", level: "info", line: "x".repeat(300), source: "agent" });
    view.stop();
    for (const line of s.text().split("\n")) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing ANSI escapes
      const visible = line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
      expect(visible.length).toBeLessThanOrEqual(49);
    }
  });
});
