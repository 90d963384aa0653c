/** The handler registry: every job type loads its handler, with and without the runner's dependencies. */
import { describe, expect, it } from "vitest";
import { JOB_TYPES } from "../../src/control-plane/schemas.ts";
import { createHandlerRegistry, HANDLERS } from "../../src/jobs/registry.ts";
import { createRedactor } from "../../src/logs/redact.ts";

describe("handler registry", () => {
  it("only registers job types the wire knows", () => {
    for (const type of Object.keys(HANDLERS)) expect(JOB_TYPES).toContain(type);
  });

  it("loads a named handler for every registered type, with and without the runner's dependencies", async () => {
    const plain = createHandlerRegistry();
    const withDeps = createHandlerRegistry(
      {},
      { apiToken: "token-for-registry-test", redactor: createRedactor() },
    );
    expect(plain.types().sort()).toEqual(Object.keys(HANDLERS).sort());
    for (const registry of [plain, withDeps]) {
      for (const type of registry.types()) {
        const handler = await registry.find(type)!();
        expect(handler.name, type).toMatch(/\S/);
        expect(typeof handler.execute, type).toBe("function");
      }
    }
  });

  it("has no handler for a type it does not know", () => {
    expect(createHandlerRegistry().find("no-such-type")).toBeUndefined();
    expect(createHandlerRegistry().find(undefined)).toBeUndefined();
  });
});
