import { describe, expect, it } from "vitest";
import { createRedactor, redactValue } from "../../src/logs/redact.ts";
import { secretForms } from "../../src/logs/redact-forms.ts";

function redactorWith(...secrets: string[]) {
  const r = createRedactor();
  for (const s of secrets) r.add(s);
  return r;
}

describe("redact", () => {
  it("returns the same string and a zero count when nothing is registered or nothing matches", () => {
    const text = "plain log line\n";
    expect(createRedactor().redact(text)).toEqual({ text, count: 0 });
    expect(redactorWith("tok-abcdef").redact(text)).toEqual({ text, count: 0 });
  });

  it("replaces every occurrence and counts them", () => {
    const r = redactorWith("tok-abcdef");
    expect(r.redact("tok-abcdef,tok-abcdef tok-abcdef")).toEqual({
      text: "[REDACTED],[REDACTED] [REDACTED]",
      count: 3,
    });
  });

  it.each([
    ["a secret that is a prefix of another", ["abcd", "abcdefgh"], "x abcdefgh y", "x [REDACTED] y"],
    ["the same, registered the other way round", ["abcdefgh", "abcd"], "x abcdefgh y", "x [REDACTED] y"],
    ["a secret inside another", ["cdef", "abcdefgh"], "abcdefgh", "[REDACTED]"],
    ["a secret that is a suffix of another", ["efgh", "abcdefgh"], "-abcdefgh-", "-[REDACTED]-"],
    ["two overlapping secrets, none showing half", ["abcdef", "defghi"], "<abcdefghi>", "<[REDACTED]>"],
    ["a match found late that starts earlier", ["cdef", "abcdefgXY"], "abcdefgXY", "[REDACTED]"],
    ["the shorter only, when the longer is absent", ["abcd", "abcdefgh"], "abcdefg", "[REDACTED]efg"],
    ["adjacent occurrences, each replaced", ["abcd"], "abcdabcd", "[REDACTED][REDACTED]"],
  ])("with %s, the longest match wins", (_name, secrets, text, expected) => {
    expect(redactorWith(...secrets).redact(text).text).toBe(expected);
  });

  it("uses the configured replacement", () => {
    const r = createRedactor({ replacement: "***" });
    r.add("tok-abcdef");
    expect(r.redact("a tok-abcdef b").text).toBe("a *** b");
  });

  it("honours a custom minSecretLength", () => {
    const r = createRedactor({ minSecretLength: 2 });
    r.add("ab");
    expect(r.redact("xaby").text).toBe("x[REDACTED]y");
  });

  it("counts registered forms in size (deduplicated) and replacements in count", () => {
    const r = createRedactor();
    r.add("abcdefgh");
    const forms = new Set(secretForms("abcdefgh", 4));
    expect(r.size).toBe(forms.size);
    r.add("abcdefgh");
    expect(r.size).toBe(forms.size);
    r.redact("abcdefgh abcdefgh");
    r.redact("nothing");
    expect(r.count).toBe(2);
  });

  it("picks up secrets added after earlier redactions", () => {
    const r = redactorWith("first-secret");
    expect(r.redact("first-secret second-secret").text).toBe("[REDACTED] second-secret");
    r.add("second-secret");
    expect(r.redact("first-secret second-secret").text).toBe("[REDACTED] [REDACTED]");
  });

  it("handles astral characters (surrogate pairs) in secrets and text", () => {
    const r = redactorWith("k😀y-1234");
    expect(r.redact("😀k😀y-1234😀").text).toBe("😀[REDACTED]😀");
  });
});

describe("stream", () => {
  const secret = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";

  it("catches a secret split across many chunks, including one-character chunks", () => {
    const r = redactorWith(secret);
    const s = r.stream();
    const text = `line 1\nhere is ${secret} and more\n`;
    let out = "";
    for (const ch of text) out += s.push(ch);
    out += s.flush();
    expect(out).toBe("line 1\nhere is [REDACTED] and more\n");
  });

  it("holds back at most (longest form length - 1) characters", () => {
    const r = redactorWith(secret);
    const longest = Math.max(...secretForms(secret, 4).map((f) => f.length));
    const s = r.stream();
    // Text that keeps the automaton deep in a partial match as long as possible: prefixes of the secret.
    const text = `${secret.slice(0, -1)}!`.repeat(3) + "plain text ".repeat(20);
    let pushed = 0;
    let emitted = 0;
    for (const ch of text) {
      emitted += s.push(ch).length;
      pushed += ch.length;
      expect(pushed - emitted).toBeLessThanOrEqual(longest - 1);
    }
    emitted += s.flush().length;
    expect(emitted).toBe(text.length);
  });

  it("passes chunks through untouched when no secret is registered", () => {
    const s = createRedactor().stream();
    expect(s.push("abc")).toBe("abc");
    expect(s.flush()).toBe("");
  });

  it("can be reused after flush", () => {
    const r = redactorWith(secret);
    const s = r.stream();
    expect(s.push(secret.slice(0, 10)) + s.flush()).toBe(secret.slice(0, 10));
    expect(s.push(secret.slice(0, 10)) + s.push(secret.slice(10)) + s.flush()).toBe("[REDACTED]");
  });

  it("applies a secret added mid-stream to later text and to the held-back tail", () => {
    const r = redactorWith("first-secret");
    const s = r.stream();
    let out = s.push("a first-sec"); // "first-sec" is held back: it may still become "first-secret"
    expect(out).toBe("a ");
    r.add("first-sec-NEW");
    r.add("late-secret");
    out += s.push("-NEW b late-secret c");
    out += s.flush();
    expect(out).toBe("a [REDACTED] b [REDACTED] c");
  });

  it("applies the first secret to a stream created before any was registered", () => {
    const r = createRedactor();
    const s = r.stream();
    let out = s.push("a b ");
    r.add("tok-abcdef");
    out += s.push("tok-abc");
    out += s.push("def c");
    expect(out + s.flush()).toBe("a b [REDACTED] c");
  });

  it("adds stream replacements to the redactor's count", () => {
    const r = redactorWith(secret);
    const s = r.stream();
    s.push(`${secret} ${secret.slice(0, 5)}`);
    s.push(secret.slice(5));
    s.flush();
    expect(r.count).toBe(2);
  });
});

describe("redactValue", () => {
  const r = redactorWith("tok-abcdef");

  it("deep-copies JSON-like values, redacting strings and keys and leaving other values alone", () => {
    const input = {
      a: "x tok-abcdef y",
      n: 1,
      b: true,
      nil: null,
      list: ["tok-abcdef", 2, { deep: ["z tok-abcdef"] }],
      "tok-abcdef": "as a key",
    };
    const out = r.redactValue(input);
    expect(out).toEqual({
      a: "x [REDACTED] y",
      n: 1,
      b: true,
      nil: null,
      list: ["[REDACTED]", 2, { deep: ["z [REDACTED]"] }],
      "[REDACTED]": "as a key",
    });
    expect(input.list[2]).toEqual({ deep: ["z tok-abcdef"] }); // the input is untouched
  });

  it("turns errors into plain objects with redacted message, stack, fields and cause", () => {
    const cause = new Error("inner tok-abcdef");
    const err = Object.assign(new Error("login failed with tok-abcdef", { cause }), { code: "E_AUTH" });
    const out = r.redactValue(err) as Record<string, unknown>;
    expect(out.name).toBe("Error");
    expect(out.message).toBe("login failed with [REDACTED]");
    expect(out.code).toBe("E_AUTH");
    expect(String(out.stack)).not.toContain("tok-abcdef");
    expect((out.cause as Record<string, unknown>).message).toBe("inner [REDACTED]");
  });

  it("uses toJSON like JSON.stringify, and marks reference cycles", () => {
    const cyclic: Record<string, unknown> = { when: new Date(0), secret: "tok-abcdef" };
    cyclic.self = cyclic;
    expect(redactValue(cyclic, (s) => s.toUpperCase())).toEqual({
      WHEN: "1970-01-01T00:00:00.000Z",
      SECRET: "TOK-ABCDEF",
      SELF: "[Circular]",
    });
  });

  it("returns primitives as they are", () => {
    expect(r.redactValue(42)).toBe(42);
    expect(r.redactValue(undefined)).toBe(undefined);
    expect(r.redactValue("tok-abcdef")).toBe("[REDACTED]");
  });
});
