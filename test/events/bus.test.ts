import { describe, expect, it } from "vitest";
import { createEventBus, safeEmit } from "../../src/events/bus.ts";
import type { AnyRunEvent } from "../../src/events/events.ts";

const enqueued = (job: string) => ({ job, jobId: `id-${job}`, type: "noop" });

describe("the event bus", () => {
  it("stamps events with increasing sequence numbers and an ISO time", () => {
    const bus = createEventBus({ now: () => new Date("2026-01-02T03:04:05.000Z") });
    const first = bus.emit("job:enqueued", enqueued("a"));
    const second = bus.emit("job:enqueued", enqueued("b"));
    expect([first.seq, second.seq]).toEqual([1, 2]);
    expect(first.time).toBe("2026-01-02T03:04:05.000Z");
    expect(bus.seq).toBe(2);
  });

  it("delivers an event to the subscribers of its name and to every onAny subscriber, in order", () => {
    const bus = createEventBus();
    const seen: string[] = [];
    bus.on("job:enqueued", (e) => seen.push(`on ${e.data.job}`));
    bus.on("job:finished", () => seen.push("wrong name"));
    bus.onAny((e) => seen.push(`any ${e.type}`));
    bus.emit("job:enqueued", enqueued("a"));
    expect(seen).toEqual(["on a", "any job:enqueued"]);
  });

  it("stops delivering after unsubscribe", () => {
    const bus = createEventBus();
    const seen: AnyRunEvent[] = [];
    const off = bus.onAny((e) => seen.push(e));
    bus.emit("job:enqueued", enqueued("a"));
    off();
    bus.emit("job:enqueued", enqueued("b"));
    expect(seen).toHaveLength(1);
  });

  it("logs a subscriber that throws and still delivers to the others", () => {
    const errors: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const bus = createEventBus({ log: { error: (fields, message) => errors.push({ fields, message }) } });
    const seen: string[] = [];
    bus.onAny(() => {
      throw new Error("the terminal is gone");
    });
    bus.onAny((e) => seen.push(e.type));
    expect(() => bus.emit("job:enqueued", enqueued("a"))).not.toThrow();
    expect(seen).toEqual(["job:enqueued"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/subscriber failed/);
    expect(errors[0]?.fields).toMatchObject({ event: "job:enqueued", seq: 1 });
    expect((errors[0]!.fields.err as Error).message).toBe("the terminal is gone");
  });

  it("logs a subscriber whose promise rejects", async () => {
    const errors: unknown[] = [];
    const bus = createEventBus({ log: { error: (fields) => errors.push(fields.err) } });
    bus.onAny(async () => {
      throw new Error("disk full");
    });
    bus.emit("job:enqueued", enqueued("a"));
    await new Promise((r) => setImmediate(r));
    expect((errors[0] as Error).message).toBe("disk full");
  });

  it("safeEmit hands a throw to onError instead of the caller", () => {
    const caught: unknown[] = [];
    safeEmit(
      () => {
        throw new Error("boom");
      },
      1,
      (err) => caught.push(err),
    );
    expect(caught).toHaveLength(1);
  });
});
