import { describe, expect, it } from "vitest";
import { orderJobs } from "../../src/agent/job-order.ts";
import type { Job } from "../../src/control-plane/schemas.ts";

const job = (id: string, created_at?: string): Job => ({ id, ...(created_at ? { created_at } : {}) });

describe("job order", () => {
  const newestFirst = [
    job("c", "2026-01-01T00:00:03Z"),
    job("b", "2026-01-01T00:00:02Z"),
    job("x"),
    job("a", "2026-01-01T00:00:01Z"),
  ];

  it("tries the oldest job first so a stream of new jobs cannot starve an old one", () => {
    expect(orderJobs(newestFirst, "oldest").map((j) => j.id)).toEqual(["a", "b", "c", "x"]);
  });

  it("tries the newest first when asked, as Nuon's runner takes jobs[0]", () => {
    expect(orderJobs(newestFirst, "newest").map((j) => j.id)).toEqual(["c", "b", "a", "x"]);
  });

  it("keeps the server's order between jobs created at the same instant and does not mutate the input", () => {
    const same = [job("1", "2026-01-01T00:00:00Z"), job("2", "2026-01-01T00:00:00Z")];
    expect(orderJobs(same, "oldest").map((j) => j.id)).toEqual(["1", "2"]);
    expect(newestFirst.map((j) => j.id)).toEqual(["c", "b", "x", "a"]);
  });
});
