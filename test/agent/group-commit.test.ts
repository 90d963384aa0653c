import { describe, expect, it } from "vitest";
import { createGroupCommit } from "../../src/agent/group-commit.ts";

/** A writer whose writes finish only when the test says so; each write records the state it snapshotted. */
function gatedWriter(state: { value: number }) {
  const written: number[] = [];
  const gates: Array<{ open: () => void; fail: (err: Error) => void }> = [];
  const write = () => {
    const snapshot = state.value;
    return new Promise<void>((resolve, reject) => {
      gates.push({
        open: () => {
          written.push(snapshot);
          resolve();
        },
        fail: reject,
      });
    });
  };
  const nextGate = async () => {
    for (let i = 0; i < 100 && gates.length === 0; i++) await new Promise((r) => setImmediate(r));
    const gate = gates.shift();
    if (gate === undefined) throw new Error("no write started");
    return gate;
  };
  return { write, written, nextGate, pending: () => gates.length };
}

describe("group commit", () => {
  it("merges the changes made while a write is in flight into one next write", async () => {
    const state = { value: 0 };
    const w = gatedWriter(state);
    const group = createGroupCommit(w.write);
    state.value = 1;
    const first = group.commit();
    (await w.nextGate()).open(); // write 1 carries change 1
    await first;
    state.value = 2;
    const second = group.commit();
    const secondGate = await w.nextGate(); // write 2 in flight, carrying change 2
    const later: Array<Promise<void>> = [];
    for (let v = 3; v <= 10; v++) {
      state.value = v;
      later.push(group.commit());
    }
    expect(w.pending()).toBe(0); // nothing else started while write 2 runs
    secondGate.open();
    await second;
    (await w.nextGate()).open(); // write 3 carries changes 3..10
    await Promise.all(later);
    expect(w.written).toEqual([1, 2, 10]);
    expect(group.writes).toBe(3);
  });

  it("resolves a caller only once a write that started after its change is done", async () => {
    const state = { value: 0 };
    const w = gatedWriter(state);
    const group = createGroupCommit(w.write);
    state.value = 1;
    void group.commit();
    const inFlight = await w.nextGate();
    state.value = 2;
    let resolved = false;
    const mine = group.commit().then(() => {
      resolved = true;
    });
    inFlight.open(); // this write snapshotted 1, before the change to 2
    await new Promise((r) => setImmediate(r));
    expect(resolved).toBe(false);
    (await w.nextGate()).open();
    await mine;
    expect(w.written).toEqual([1, 2]);
  });

  it("rejects every caller of a failed write, and the next commit writes again", async () => {
    const state = { value: 1 };
    const w = gatedWriter(state);
    const group = createGroupCommit(w.write);
    const a = group.commit();
    const b = group.commit();
    (await w.nextGate()).fail(new Error("disk full"));
    await expect(a).rejects.toThrow("disk full");
    await expect(b).rejects.toThrow("disk full");
    const c = group.commit();
    (await w.nextGate()).open();
    await c;
    expect(w.written).toEqual([1]);
  });

  it("settles once nothing is queued or in flight, without rejecting", async () => {
    const state = { value: 1 };
    const w = gatedWriter(state);
    const group = createGroupCommit(w.write);
    void group.commit().catch(() => undefined);
    let settled = false;
    const done = group.settled().then(() => {
      settled = true;
    });
    (await w.nextGate()).fail(new Error("nope"));
    await done;
    expect(settled).toBe(true);
    await group.settled(); // idle: at once
  });
});
