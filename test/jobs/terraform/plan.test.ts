import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ZodError } from "zod";
import { compress } from "../../../src/control-plane/compress.ts";
import { parseTerraformPlan } from "../../../src/jobs/terraform/plan.ts";
import { decodeSavedPlan } from "../../../src/jobs/terraform/plan-file.ts";

describe("parseTerraformPlan", () => {
  it("reads a DeployPlan's settings from `terraform` and its WorkspaceID case-insensitively", () => {
    const plan = parseTerraformPlan("deploy", {
      install_id: "inst-1",
      src_registry: { Repository: "r" },
      src_tag: "v1",
      terraform: {
        vars: { a: 1 },
        env_vars: { X: "y" },
        vars_files: ['b = "2"'],
        terraform_backend: { WorkspaceID: "ws-1" },
      },
      apply_plan_contents: "UEsDBA==",
    });
    expect(plan).toEqual({
      source: { kind: "oci", registry: { Repository: "r" }, tag: "v1" },
      vars: { a: 1 },
      varsFiles: ['b = "2"'],
      varFilePaths: [],
      envVars: { X: "y" },
      workspaceId: "ws-1",
      applyPlanContents: "UEsDBA==",
    });
  });

  it("reads a SandboxRunPlan's settings from the top level, with Go's null maps and the camelCase workspaceID", () => {
    const plan = parseTerraformPlan("sandbox", {
      git_source: { url: "https://git.example/m.git", ref: "main", path: "infra", recurse_submodules: false },
      vars: null,
      env_vars: null,
      vars_files: null,
      terraform_backend: { workspaceID: "ws-2" },
    });
    expect(plan.source).toEqual({
      kind: "git",
      url: "https://git.example/m.git",
      ref: "main",
      path: "infra",
    });
    expect(plan.vars).toEqual({});
    expect(plan.envVars).toEqual({});
    expect(plan.workspaceId).toBe("ws-2");
  });

  it.each([
    ["local_dir", { local_dir: "/mods/a", git_source: { url: "u" } }, { kind: "local", dir: "/mods/a" }],
    ["source.path", { source: { path: "rel/a" }, src_registry: {} }, { kind: "local", dir: "rel/a" }],
    ["git_source before OCI", { git_source: { url: "u" }, src_registry: {} }, { kind: "git", url: "u" }],
    [
      "local_archive",
      { local_archive: { local_archive: "/a.tgz" } },
      { kind: "local-archive", archive: "/a.tgz" },
    ],
  ])("picks the module source by precedence (%s)", (_name, fields, expected) => {
    expect(parseTerraformPlan("sandbox", fields).source).toEqual(expected);
  });

  it("names the missing `terraform` field of a DeployPlan", () => {
    const attempt = () => parseTerraformPlan("deploy", { src_registry: {} });
    expect(attempt).toThrow(ZodError);
    expect(attempt).toThrow(/terraform/);
  });

  it("names a field of the wrong type", () => {
    expect(() => parseTerraformPlan("sandbox", { local_dir: "/m", env_vars: { A: 1 } })).toThrow(/env_vars/);
  });

  it("says which sources it accepts when the plan names none", () => {
    expect(() => parseTerraformPlan("sandbox", { vars: {} })).toThrow(
      /src_registry\/src_tag, git_source, or .*local_dir/,
    );
  });
});

describe("decodeSavedPlan", () => {
  const tfplan = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from("rest of the zip")]);

  it.each([
    ["std base64 (Nuon's apply_plan_contents)", tfplan.toString("base64")],
    ["base64url(gzip) (a runner's result contents)", compress(tfplan)],
    ["std base64 of gzip", gzipSync(tfplan).toString("base64")],
    ["base64 with line breaks", tfplan.toString("base64").replace(/(.{8})/g, "$1\n")],
  ])("decodes %s", (_name, text) => {
    expect(decodeSavedPlan(text).equals(tfplan)).toBe(true);
  });

  it.each([
    ["", /empty/],
    ["not base64!", /not base64/],
    [Buffer.from("just text").toString("base64"), /does not hold a terraform plan/],
    [Buffer.from([0x1f, 0x8b, 1, 2, 3]).toString("base64"), /does not decompress/],
  ])("refuses %j with a clear message", (text, message) => {
    expect(() => decodeSavedPlan(text)).toThrow(message);
  });
});
