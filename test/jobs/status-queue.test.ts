/**
 * The status queue: every status reported is sent, in order, one at a time (the next only after the previous
 * answer), the first one at once; after one that could not be delivered, those already waiting behind it are
 * dropped; `drained()` waits for all of them and never rejects.
 */
import { describe, expect, it } from "vitest";
import type { ExecutionStatus } from "../../src/control-plane/schemas.ts";
import { createStatusQueue } from "../../src/jobs/status-queue.ts";

function heldSender() {
  const events: string[] = [];
  const answers: Array<() => void> = [];
  const send = (status: ExecutionStatus) => {
    events.push(`sent ${status}`);
    return new Promise<boolean>((resolve) => {
      answers.push(() => {
        events.push(`answered ${status}`);
        resolve(true);
      });
    });
  };
  return { events, answers, send };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("status queue", () => {
  it("sends the first status at once and each next one only after the previous answer, skipping none", async () => {
    const s = heldSender();
    const queue = createStatusQueue(s.send);
    queue.report("initializing");
    expect(s.events).toEqual(["sent initializing"]); // synchronously
    queue.report("in-progress");
    queue.report("cleaning-up");
    await tick();
    expect(s.events).toEqual(["sent initializing"]);
    s.answers.shift()?.();
    await tick();
    expect(s.events).toEqual(["sent initializing", "answered initializing", "sent in-progress"]);
    s.answers.shift()?.();
    await tick();
    s.answers.shift()?.();
    await queue.drained();
    expect(s.events).toEqual([
      "sent initializing",
      "answered initializing",
      "sent in-progress",
      "answered in-progress",
      "sent cleaning-up",
      "answered cleaning-up",
    ]);
  });

  it("drops the statuses waiting behind one that was given up, and sends those reported later", async () => {
    const sent: string[] = [];
    let failing = true;
    const queue = createStatusQueue(async (status) => {
      sent.push(status);
      await tick();
      return !failing;
    });
    queue.report("initializing");
    queue.report("in-progress"); // waits behind `initializing`, which is given up: dropped
    await expect(queue.drained()).resolves.toBeUndefined();
    expect(sent).toEqual(["initializing"]);
    failing = false;
    queue.report("cleaning-up");
    await queue.drained();
    expect(sent).toEqual(["initializing", "cleaning-up"]);
  });

  it("treats a send that rejects or throws as given up, and drained() still resolves", async () => {
    const sent: string[] = [];
    const queue = createStatusQueue((status) => {
      sent.push(status);
      if (status === "initializing") throw new Error("thrown before any promise");
      if (status === "in-progress") return Promise.reject(new Error("rejected"));
      return Promise.resolve(true);
    });
    queue.report("initializing");
    await expect(queue.drained()).resolves.toBeUndefined();
    queue.report("in-progress");
    await expect(queue.drained()).resolves.toBeUndefined();
    queue.report("cleaning-up");
    await expect(queue.drained()).resolves.toBeUndefined();
    expect(sent).toEqual(["initializing", "in-progress", "cleaning-up"]);
  });

  it("sends at once again once it was drained", async () => {
    const s = heldSender();
    const queue = createStatusQueue(s.send);
    queue.report("initializing");
    s.answers.shift()?.();
    await queue.drained();
    queue.report("in-progress");
    expect(s.events.at(-1)).toBe("sent in-progress");
    let drained = false;
    void queue.drained().then(() => {
      drained = true;
    });
    await tick();
    expect(drained).toBe(false);
    s.answers.shift()?.();
    await tick();
    expect(drained).toBe(true);
  });
});
