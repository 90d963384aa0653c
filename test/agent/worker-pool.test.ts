import { describe, expect, it } from "vitest";
import { createWorkerPool } from "../../src/agent/worker-pool.ts";

describe("worker pool", () => {
  it("hands out at most capacity slots and serves waiters in FIFO order", async () => {
    const pool = createWorkerPool(2);
    const a = await pool.reserve();
    const b = await pool.reserve();
    expect(pool.inUse).toBe(2);
    expect(pool.tryReserve()).toBeUndefined();
    const order: string[] = [];
    const c = pool.reserve().then((slot) => {
      order.push("c");
      return slot;
    });
    const d = pool.reserve().then((slot) => {
      order.push("d");
      return slot;
    });
    a.release();
    const slotC = await c;
    expect(order).toEqual(["c"]);
    b.release();
    await d;
    expect(order).toEqual(["c", "d"]);
    expect(pool.inUse).toBe(2);
    slotC.release();
    expect(pool.inUse).toBe(1);
  });

  it("makes release idempotent so a double release never frees a slot someone else holds", async () => {
    const pool = createWorkerPool(1);
    const a = await pool.reserve();
    a.release();
    const b = await pool.reserve();
    a.release();
    expect(pool.inUse).toBe(1);
    expect(pool.tryReserve()).toBeUndefined();
    b.release();
    expect(pool.inUse).toBe(0);
  });

  it("rejects a waiting reservation with the signal's reason and forgets it", async () => {
    const pool = createWorkerPool(1);
    const held = await pool.reserve();
    const controller = new AbortController();
    const waiting = pool.reserve(controller.signal);
    controller.abort(new Error("draining"));
    await expect(waiting).rejects.toThrow("draining");
    held.release();
    expect(pool.inUse).toBe(0);
    expect(pool.tryReserve()).toBeDefined();
  });

  it("does not let tryReserve jump ahead of a waiter", async () => {
    const pool = createWorkerPool(1);
    const held = await pool.reserve();
    const waiting = pool.reserve();
    held.release();
    expect(pool.tryReserve()).toBeUndefined();
    (await waiting).release();
  });

  it("resolves idle() once every slot is back", async () => {
    const pool = createWorkerPool(3);
    await expect(pool.idle()).resolves.toBeUndefined();
    const a = await pool.reserve();
    const b = await pool.reserve();
    let idle = false;
    const waiting = pool.idle().then(() => {
      idle = true;
    });
    a.release();
    await Promise.resolve();
    expect(idle).toBe(false);
    b.release();
    await waiting;
    expect(idle).toBe(true);
  });

  it("treats a capacity below one as one", () => {
    expect(createWorkerPool(0).capacity).toBe(1);
    expect(createWorkerPool(2.7).capacity).toBe(2);
  });
});
