import { describe, expect, it } from "vitest";
import { awsEnv, buildStepEnv } from "../../../src/jobs/actions/env.ts";
import { addStepOutputs, parseStepOutputs } from "../../../src/jobs/actions/outputs.ts";
import { ActionWorkflowRunPlan, stepId, stepName } from "../../../src/jobs/actions/plan.ts";
import { splitCommand } from "../../../src/jobs/actions/shell-words.ts";

describe("splitCommand (no shell)", () => {
  it.each([
    ["echo hello", ["echo", "hello"]],
    ["  echo   a\tb \n c ", ["echo", "a", "b", "c"]],
    [`echo 'a b' "c d"`, ["echo", "a b", "c d"]],
    [`echo it\\'s`, ["echo", "it's"]],
    [`echo "say \\"hi\\"" 'back\\slash'`, ["echo", 'say "hi"', "back\\slash"]],
    [`echo "\\$HOME \\n"`, ["echo", "$HOME \\n"]],
    ["echo $HOME *.txt ~", ["echo", "$HOME", "*.txt", "~"]],
    [`a""b ''`, ["ab", ""]],
    ["echo a\\ b", ["echo", "a b"]],
    ["echo a \\\n b", ["echo", "a", "b"]],
    [`jq '.a | .b' "|" \\;`, ["jq", ".a | .b", "|", ";"]],
    ["kubectl get pods -o=json", ["kubectl", "get", "pods", "-o=json"]],
    // Only whole-word operators are refused: inside a word they are plain characters (as in Nuon's runner).
    ["curl http://h/?a=1&b=2 x;", ["curl", "http://h/?a=1&b=2", "x;"]],
  ])("splits %j", (command, argv) => {
    expect(splitCommand(command)).toEqual(argv);
  });

  it.each([
    ["echo 'open", "unterminated ' quote"],
    ['echo "open', 'unterminated " quote'],
    ["echo \\", "lone backslash"],
    ["   ", "empty"],
    ["echo a | grep a", 'shell operator "|"'],
    ["make && make install", 'shell operator "&&"'],
    ["echo a ; echo b", 'shell operator ";"'],
    ["echo a > out.txt", 'shell operator ">"'],
    ["cmd 2>&1", 'shell operator "2>&1"'],
  ])("refuses %j", (command, message) => {
    expect(() => splitCommand(command)).toThrow(message);
  });

  it("says that commands are not run through a shell", () => {
    expect(() => splitCommand("a | b")).toThrow("not run through a shell");
  });
});

describe("parseStepOutputs", () => {
  it.each([
    ["", {}],
    ["\n\n", {}],
    ["A=1\nB=two=2\n", { A: "1", B: "two=2" }],
    ["A=1\r\nA=2\r\n", { A: "2" }],
    ["EMPTY=\n", { EMPTY: "" }],
    ['{"a": 1, "b": {"c": [1, 2]}}', { a: 1, b: { c: [1, 2] } }],
    ['{\n  "pretty": true,\n  "n": 3\n}\n', { pretty: true, n: 3 }],
    ['{"a": 1}\nB=2\n{"a": 3}', { a: 3, B: "2" }],
  ])("parses %j", (text, expected) => {
    expect(parseStepOutputs(text)).toEqual(expected);
  });

  it.each([
    ["just words", "line 1 of the outputs file is neither KEY=VALUE nor a JSON object"],
    ["A=1\n=novalue", "line 2"],
    ["[1, 2]", "JSON array"],
    ["A=1\n[1]", "line 2 of the outputs file is a JSON array"],
    ["A=1\n{broken", "line 2 of the outputs file starts with { but is not a JSON object"],
  ])("refuses %j", (text, message) => {
    expect(() => parseStepOutputs(text)).toThrow(message);
  });

  it("keeps __proto__ a plain key", () => {
    const out = parseStepOutputs('{"__proto__": {"polluted": true}}\n__proto__=x');
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(out)).toEqual(["__proto__"]);
  });
});

describe("addStepOutputs", () => {
  it("merges at the top level (later wins) and keeps each step under steps.<name>", () => {
    const outputs: Record<string, unknown> = {};
    addStepOutputs(outputs, "first", { a: "1", shared: "first" });
    addStepOutputs(outputs, "second", { b: "2", shared: "second", steps: "not allowed to clobber" });
    expect(outputs).toEqual({
      a: "1",
      b: "2",
      shared: "second",
      steps: {
        first: { a: "1", shared: "first" },
        second: { b: "2", shared: "second", steps: "not allowed to clobber" },
      },
    });
  });
});

describe("buildStepEnv", () => {
  it("layers base < builtin < runner < step < override, and the runner's NUON_ACTIONS_* always win", () => {
    const env = buildStepEnv({
      base: { PATH: "/bin", X: "base" },
      builtin: { X: "builtin", B: "builtin", NUON_ACTIONS_ROOT: "/elsewhere" },
      runner: { X: "runner", R: "runner", NUON_KUBECONFIG_ENABLED: "false" },
      step: { X: "step", S: "step", R: "step" },
      override: { X: "override", NUON_ACTIONS_OUTPUT_FILEPATH: "/etc/passwd" },
      root: "/ws",
      index: 2,
    });
    expect(env).toEqual({
      PATH: "/bin",
      X: "override",
      B: "builtin",
      R: "step",
      S: "step",
      NUON_KUBECONFIG_ENABLED: "false",
      NUON_ACTIONS_ROOT: "/ws",
      NUON_ACTIONS_OUTPUT_FILEPATH: "/ws/2.nuon-outputs.json",
    });
  });

  it("accepts missing layers", () => {
    expect(
      buildStepEnv({ base: {}, builtin: null, step: undefined, override: null, root: "/r", index: 0 }),
    ).toEqual({
      NUON_ACTIONS_ROOT: "/r",
      NUON_ACTIONS_OUTPUT_FILEPATH: "/r/0.nuon-outputs.json",
    });
  });
});

describe("awsEnv", () => {
  it("maps static credentials, region and profile", () => {
    expect(
      awsEnv({
        region: "us-west-2",
        profile: "p",
        static: { access_key_id: "AKIA1", secret_access_key: "sek", session_token: "tok" },
      }),
    ).toEqual({
      env: {
        AWS_REGION: "us-west-2",
        AWS_DEFAULT_REGION: "us-west-2",
        AWS_PROFILE: "p",
        AWS_ACCESS_KEY_ID: "AKIA1",
        AWS_SECRET_ACCESS_KEY: "sek",
        AWS_SESSION_TOKEN: "tok",
      },
    });
  });

  it("says when assume_role cannot be honoured, and ignores nothing given", () => {
    expect(awsEnv({ assume_role: { role_arn: "arn:aws:iam::1:role/x" } }).unsupported).toContain(
      "assume_role",
    );
    expect(awsEnv(null)).toEqual({ env: {} });
    expect(awsEnv("nonsense")).toEqual({ env: {} });
  });
});

describe("the plan", () => {
  it("needs only steps, and keeps unknown fields", () => {
    const plan = ActionWorkflowRunPlan.parse({ steps: [{}], extra: 1 });
    expect(plan.steps).toHaveLength(1);
    expect((plan as Record<string, unknown>).extra).toBe(1);
    expect(() => ActionWorkflowRunPlan.parse({})).toThrow();
    expect(() => ActionWorkflowRunPlan.parse({ steps: [{ timeout: -1 }] })).toThrow();
  });

  it("names steps from attrs, then name, then index, and identifies them by id, then run_id", () => {
    expect(stepName({ attrs: { name: "from-attrs" }, name: "n" }, 0)).toBe("from-attrs");
    expect(stepName({ name: "n" }, 0)).toBe("n");
    expect(stepName({ name: " " }, 3)).toBe("3");
    expect(stepId({ id: "a", run_id: "b" })).toBe("a");
    expect(stepId({ run_id: "b" })).toBe("b");
    expect(stepId({})).toBeUndefined();
  });
});
