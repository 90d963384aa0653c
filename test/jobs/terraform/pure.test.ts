import { describe, expect, it } from "vitest";
import { redactingLog } from "../../../src/jobs/redacting-log.ts";
import {
  applyArgs,
  applySavedPlanArgs,
  initArgs,
  outputJsonArgs,
  planArgs,
  showJsonArgs,
} from "../../../src/jobs/terraform/args.ts";
import { httpBackendAddresses, httpBackendEnv } from "../../../src/jobs/terraform/backend.ts";
import { terraformEnv } from "../../../src/jobs/terraform/env.ts";
import { terraformOperation } from "../../../src/jobs/terraform/handler.ts";
import { maskedOutputs, parseOutputJson, secretTexts } from "../../../src/jobs/terraform/outputs.ts";
import { createRedactor } from "../../../src/logs/redact.ts";

describe("terraform argv", () => {
  it.each([
    [initArgs(), ["init", "-input=false", "-json", "-no-color"]],
    [planArgs({ out: "/w/tfplan" }), ["plan", "-input=false", "-json", "-out=/w/tfplan"]],
    [
      planArgs({ out: "/w/tfplan", destroy: true, varFiles: ["/w/a.tfvars", "/w/b.tfvars.json"] }),
      [
        "plan",
        "-input=false",
        "-json",
        "-destroy",
        "-out=/w/tfplan",
        "-var-file=/w/a.tfvars",
        "-var-file=/w/b.tfvars.json",
      ],
    ],
    [applySavedPlanArgs("/w/tfplan"), ["apply", "-input=false", "-json", "-auto-approve", "/w/tfplan"]],
    [
      applyArgs({ varFiles: ["/w/a.tfvars"] }),
      ["apply", "-input=false", "-json", "-auto-approve", "-var-file=/w/a.tfvars"],
    ],
    [showJsonArgs(), ["show", "-json", "-no-color"]],
    [showJsonArgs("/w/tfplan"), ["show", "-json", "-no-color", "/w/tfplan"]],
    [outputJsonArgs(), ["output", "-json", "-no-color"]],
  ])("builds %j", (actual, expected) => {
    expect(actual).toEqual(expected);
  });
});

describe("http backend", () => {
  const ref = { baseUrl: "https://runner.example/", token: "tok/en+1", workspaceId: "ws 1", jobId: "job-1" };

  it("builds Nuon's three addresses with the token, workspace and job in the query", () => {
    expect(httpBackendAddresses(ref)).toEqual({
      address:
        "https://runner.example/v1/terraform-backend?token=tok%2Fen%2B1&workspace_id=ws+1&job_id=job-1",
      lock: "https://runner.example/v1/terraform-workspaces/ws%201/lock?token=tok%2Fen%2B1&job_id=job-1",
      unlock: "https://runner.example/v1/terraform-workspaces/ws%201/unlock?token=tok%2Fen%2B1&job_id=job-1",
    });
  });

  it("hands them to terraform as TF_HTTP_* variables with POST lock methods", () => {
    const env = httpBackendEnv(ref);
    expect(Object.keys(env).sort()).toEqual([
      "TF_HTTP_ADDRESS",
      "TF_HTTP_LOCK_ADDRESS",
      "TF_HTTP_LOCK_METHOD",
      "TF_HTTP_UNLOCK_ADDRESS",
      "TF_HTTP_UNLOCK_METHOD",
    ]);
    expect(env.TF_HTTP_LOCK_METHOD).toBe("POST");
    expect(env.TF_HTTP_UNLOCK_METHOD).toBe("POST");
  });
});

describe("terraformEnv", () => {
  it("keeps only the runner's allowlist, puts the plan's env over it and the handler's settings over both", () => {
    const env = terraformEnv({
      processEnv: { PATH: "/bin", RUNNER_API_TOKEN: "secret", TF_LOG: "TRACE" },
      planEnv: {
        PATH: "/plan/bin",
        AWS_REGION: "eu-west-1",
        TF_DATA_DIR: "/elsewhere",
        TF_HTTP_ADDRESS: "x",
      },
      dataDir: "/w/tf-data",
      cliConfigFile: "/w/terraformrc",
      backendEnv: { TF_HTTP_ADDRESS: "https://cp/v1/terraform-backend" },
    });
    expect(env).toEqual({
      PATH: "/plan/bin",
      AWS_REGION: "eu-west-1",
      TF_IN_AUTOMATION: "1",
      TF_INPUT: "0",
      CHECKPOINT_DISABLE: "1",
      TF_DATA_DIR: "/w/tf-data",
      TF_CLI_CONFIG_FILE: "/w/terraformrc",
      TF_HTTP_ADDRESS: "https://cp/v1/terraform-backend",
    });
  });
});

describe("terraform outputs", () => {
  const text = JSON.stringify({
    url: { sensitive: false, type: "string", value: "https://x" },
    creds: {
      sensitive: true,
      type: ["object", {}],
      value: { user: "admin", password: "hunter22", port: 5432 },
    },
  });

  it("maps `output -json` to name → value and lists the sensitive names", () => {
    expect(parseOutputJson(text)).toEqual({
      values: { url: "https://x", creds: { user: "admin", password: "hunter22", port: 5432 } },
      sensitive: ["creds"],
    });
    expect(parseOutputJson("  \n")).toEqual({ values: {}, sensitive: [] });
    expect(parseOutputJson("{}")).toEqual({ values: {}, sensitive: [] });
  });

  it("masks sensitive values for display", () => {
    expect(maskedOutputs(parseOutputJson(text))).toEqual({ url: "https://x", creds: "(sensitive)" });
  });

  it("lists every text a sensitive value could be printed as", () => {
    expect(secretTexts({ user: "admin", password: "hunter22", port: 5432 })).toEqual([
      '{"user":"admin","password":"hunter22","port":5432}',
      "admin",
      "hunter22",
      "5432",
    ]);
    expect(secretTexts(null)).toEqual([]);
  });

  it("says so when the text is not JSON", () => {
    expect(() => parseOutputJson("Warning: no outputs")).toThrow(/did not print JSON/);
  });
});

describe("terraformOperation", () => {
  it.each([
    ["create-apply-plan", "create-apply-plan"],
    ["create-teardown-plan", "create-teardown-plan"],
    ["apply-plan", "apply-plan"],
    ["exec", "exec"],
    ["unknown", "exec"],
    [undefined, "exec"],
  ])("maps %s to %s", (operation, expected) => {
    expect(terraformOperation(operation)).toBe(expected);
  });
});

describe("redactingLog", () => {
  it("scrubs registered secrets from messages, fields and output lines, including ones added later", () => {
    const seen: string[] = [];
    const inner = {
      info: (msg: string, fields?: Record<string, unknown>) =>
        seen.push(`info ${msg} ${JSON.stringify(fields)}`),
      warn: (msg: string) => seen.push(`warn ${msg}`),
      error: (msg: string) => seen.push(`error ${msg}`),
      debug: (msg: string) => seen.push(`debug ${msg}`),
      line: (text: string, stream: string) => seen.push(`${stream} ${text}`),
    };
    const redactor = createRedactor();
    redactor.add("runner-token-123");
    const log = redactingLog(inner, redactor);
    log.info("address has runner-token-123", { url: "https://cp/x?token=runner-token-123" });
    redactor.add("sk-sensitive-output");
    log.line("echo sk-sensitive-output", "stdout");
    log.warn("fine");
    expect(seen).toEqual([
      'info address has [REDACTED] {"url":"https://cp/x?token=[REDACTED]"}',
      "stdout echo [REDACTED]",
      "warn fine",
    ]);
  });
});
