import { describe, expect, it } from "vitest";
import {
  describeEvent,
  describeFailure,
  parseEvent,
  toDiagnostic,
} from "../../../src/jobs/terraform/progress.ts";

const resource = { addr: "terraform_data.a", resource_type: "terraform_data" };

describe("terraform -json events", () => {
  it.each([
    [
      { type: "planned_change", change: { resource, action: "create" } },
      "info",
      "will create terraform_data.a",
    ],
    [{ type: "apply_start", hook: { resource, action: "create" } }, "info", "creating terraform_data.a"],
    [{ type: "apply_start", hook: { resource, action: "delete" } }, "info", "destroying terraform_data.a"],
    [
      { type: "apply_progress", hook: { resource, action: "update", elapsed_seconds: 10 } },
      "info",
      "still updating terraform_data.a",
    ],
    [
      { type: "apply_complete", hook: { resource, action: "create", id_value: "abc", elapsed_seconds: 0 } },
      "info",
      "created terraform_data.a",
    ],
    [{ type: "apply_complete", hook: { resource, action: "delete" } }, "info", "destroyed terraform_data.a"],
    [
      { type: "apply_errored", hook: { resource, action: "create" } },
      "error",
      "failed to create terraform_data.a",
    ],
    [
      { type: "apply_errored", hook: { resource, action: "delete" } },
      "error",
      "failed to destroy terraform_data.a",
    ],
    [
      { type: "provision_progress", hook: { resource, provisioner: "local-exec", output: "hi" } },
      "info",
      "terraform_data.a (local-exec): hi",
    ],
    [
      { type: "change_summary", "@message": "Apply complete! Resources: 1 added.", changes: { add: 1 } },
      "info",
      "Apply complete! Resources: 1 added.",
    ],
    [{ type: "diagnostic", diagnostic: { severity: "error", summary: "Bad thing" } }, "error", "Bad thing"],
    [{ type: "diagnostic", diagnostic: { severity: "warning", summary: "Careful" } }, "warn", "Careful"],
    [
      { type: "log", "@message": "\nInterrupt received.\nGracefully shutting down...\n" },
      "info",
      "Interrupt received. Gracefully shutting down...",
    ],
    [{ type: "version", "@message": "Terraform 1.11.4" }, "debug", "Terraform 1.11.4"],
  ])("describes %j", (event, level, msg) => {
    const entry = describeEvent(event);
    expect(entry.level).toBe(level);
    expect(entry.msg).toBe(msg);
  });

  it("puts the facts of an apply_complete in fields", () => {
    const entry = describeEvent({
      type: "apply_complete",
      hook: { resource, action: "create", id_value: "abc", elapsed_seconds: 2 },
    });
    expect(entry.fields).toEqual({
      resource: "terraform_data.a",
      action: "create",
      id: "abc",
      elapsedSeconds: 2,
    });
  });

  it("logs output names and sensitivity, never values", () => {
    const entry = describeEvent({
      type: "outputs",
      outputs: { a: { sensitive: false, value: "shown?" }, b: { sensitive: true } } as never,
    });
    expect(entry.fields).toEqual({
      outputs: [
        { name: "a", sensitive: false },
        { name: "b", sensitive: true },
      ],
    });
    expect(JSON.stringify(entry)).not.toContain("shown?");
  });

  it("reads only JSON object lines as events", () => {
    expect(parseEvent('{"type":"log"}')).toEqual({ type: "log" });
    expect(parseEvent("Error: plain text")).toBeUndefined();
    expect(parseEvent("{broken")).toBeUndefined();
    expect(parseEvent("[1,2]")).toBeUndefined();
  });

  it("extracts a diagnostic with its address and location", () => {
    const d = toDiagnostic({
      type: "diagnostic",
      diagnostic: {
        severity: "error",
        summary: "local-exec provisioner error",
        detail: "exit status 3",
        address: "terraform_data.broken",
        range: { filename: "main.tf", start: { line: 2 } },
      },
    });
    expect(d).toEqual({
      severity: "error",
      summary: "local-exec provisioner error",
      detail: "exit status 3",
      address: "terraform_data.broken",
      location: "main.tf:2",
    });
  });
});

describe("describeFailure", () => {
  it("joins distinct error diagnostics, skipping warnings and duplicates", () => {
    const text = describeFailure(
      [
        { severity: "warning", summary: "meh" },
        { severity: "error", summary: "Unreadable module directory", detail: "lstat x:\n no such file" },
        { severity: "error", summary: "execution halted" },
        { severity: "error", summary: "execution halted" },
        { severity: "error", summary: "local-exec provisioner error", address: "terraform_data.b" },
      ],
      [],
    );
    expect(text).toBe(
      "Unreadable module directory: lstat x: no such file; execution halted; terraform_data.b: local-exec provisioner error",
    );
  });

  it("falls back to the errored resources, then to nothing", () => {
    expect(describeFailure([], ["terraform_data.x"])).toBe("errored resources: terraform_data.x");
    expect(describeFailure([{ severity: "warning", summary: "w" }], [])).toBeUndefined();
  });

  it("cuts a long detail", () => {
    const text = describeFailure([{ severity: "error", summary: "s", detail: "x".repeat(1000) }], []) ?? "";
    expect(text.length).toBeLessThan(420);
    expect(text.endsWith("…")).toBe(true);
  });
});
