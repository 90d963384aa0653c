import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { createRedactor } from "../../src/logs/redact.ts";
import { secretForms } from "../../src/logs/redact-forms.ts";

const SECRET = "s3cr3t/T0ken+value?&=é";
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const b64url = (s: string) => Buffer.from(s, "utf8").toString("base64url");

function redactorWith(...secrets: string[]) {
  const r = createRedactor();
  for (const s of secrets) r.add(s);
  return r;
}

describe("secretForms and redact: each derived form is redacted in context", () => {
  const cases: [name: string, form: string][] = [
    ["the plain value", SECRET],
    ["standard base64, padded", b64(SECRET)],
    ["standard base64, unpadded", b64(SECRET).replace(/=+$/, "")],
    ["base64url, unpadded", b64url(SECRET)],
    ["base64url, padded", `${b64url(SECRET)}${"=".repeat((4 - (b64url(SECRET).length % 4)) % 4)}`],
    ["encodeURIComponent", encodeURIComponent(SECRET)],
    [
      "form encoding with + for spaces (URLSearchParams)",
      new URLSearchParams({ v: `${SECRET} x` }).toString().slice(2),
    ],
    [
      "lower-case percent escapes",
      encodeURIComponent(SECRET).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    ],
    ["JSON.stringify inner text", JSON.stringify(SECRET).slice(1, -1)],
    ["JSON with \\/ escaped slashes (PHP)", JSON.stringify(SECRET).slice(1, -1).replaceAll("/", "\\/")],
    ["JSON with ASCII-only \\u escapes (Python)", "s3cr3t/T0ken+value?&=\\u00e9"],
    ["JSON with Go's \\u0026 for & and ASCII-only escapes", "s3cr3t/T0ken+value?\\u0026=\\u00e9"],
  ];
  it.each(cases)("%s", (_name, form) => {
    const r = redactorWith(SECRET, `${SECRET} x`);
    const text = `before ${form} after`;
    const out = r.redact(text);
    expect(out.text).toBe("before [REDACTED] after");
    expect(out.count).toBe(1);
  });

  it("redacts JSON escapes of quotes, backslashes, newlines, tabs and control characters", () => {
    const secret = 'pa"ss\\wo\nrd\t\u0001end';
    const r = redactorWith(secret);
    const json = JSON.stringify({ password: secret });
    expect(r.redact(json).text).toBe('{"password":"[REDACTED]"}');
    // A JSON document carried inside a JSON string (plan_json) escapes everything twice.
    expect(r.redact(JSON.stringify({ plan_json: json })).text).toBe(
      JSON.stringify({ plan_json: '{"password":"[REDACTED]"}' }),
    );
  });

  it("redacts Go encoding/json escapes of <, > and &", () => {
    const secret = "a<b>c&d1234";
    const r = redactorWith(secret);
    expect(r.redact('{"k":"a\\u003cb\\u003ec\\u0026d1234"}').text).toBe('{"k":"[REDACTED]"}');
  });

  it("matches a secret with regex metacharacters literally, and only literally", () => {
    const secret = "a.b*c+d?(e)[f]{g}|h^$\\";
    const r = redactorWith(secret);
    expect(r.redact(`x ${secret} y`).text).toBe("x [REDACTED] y");
    expect(r.redact("x aXbbbc+d?(e)[f]{g}|h^$\\ y").count).toBe(0);
  });
});

describe("base64 of a longer payload containing the secret", () => {
  // A 3-byte alignment has three phases; these prefixes put the secret at byte offsets ≡ 0, 1 and 2 (mod 3).
  const prefixes = ['{"t":"', '{"token":"', '{"tok":"'];
  const secrets = ["ghp_16C7e42F292c6912E7710c838347Ae178B4a", "abcd", "Zx9!pq"];
  for (const secret of secrets) {
    it.each(prefixes)(
      `leaves no character that encodes only ${secret.length} secret bytes, prefix %s`,
      (prefix) => {
        const payload = `${prefix}${secret}","other":"some trailing data"}`;
        expect(Buffer.byteLength(prefix) % 3).toBe(prefixes.indexOf(prefix));
        for (const encode of [b64, b64url]) {
          const encoded = encode(payload);
          const out = redactorWith(secret).redact(`auth=${encoded};`).text;
          const at = out.indexOf("[REDACTED]");
          expect(at, out).toBeGreaterThanOrEqual(0);
          // The redacted span, in encoded characters, must cover every character whose 6 bits lie inside the
          // secret's bytes; only the (at most two) characters mixing secret and neighbour bits may survive.
          const start = at - "auth=".length;
          const end = start + encoded.length - (out.length - "auth=;".length - "[REDACTED]".length);
          const secretBitsFrom = 8 * Buffer.byteLength(prefix);
          const secretBitsTo = secretBitsFrom + 8 * Buffer.byteLength(secret);
          expect(start).toBeLessThanOrEqual(Math.ceil(secretBitsFrom / 6));
          expect(end).toBeGreaterThanOrEqual(Math.floor(secretBitsTo / 6));
        }
      },
    );
  }

  it("redacts a docker config auth (base64 of user:token) inside base64 of the whole config", () => {
    const token = "dckr_pat_2b3e36beeb386dfdaacb9b46004ccb7c";
    const config = JSON.stringify({ auths: { "registry.invalid": { auth: b64(`nuon:${token}`) } } });
    const r = redactorWith(token);
    expect(r.redact(config).text).not.toContain(b64(`nuon:${token}`).slice(8, -8));
    expect(r.redact(b64(`nuon:${token}`)).count).toBe(1);
  });
});

describe("multi-line secrets", () => {
  const key = [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "QyNTUxOQAAACDx2v2g7V9Kk0hJ0lYj4a6Zt1Zz",
    "ab",
    "-----END OPENSSH PRIVATE KEY-----",
  ].join("\n");

  it("redacts each line on its own, as a line splitter would deliver it", () => {
    const r = redactorWith(key);
    for (const line of key.split("\n").filter((l) => l.length >= 4)) {
      expect(r.redact(`stderr: ${line}`).text).toBe("stderr: [REDACTED]");
    }
  });

  it("does not register lines shorter than minSecretLength", () => {
    expect(secretForms(key, 4)).not.toContain("ab");
    expect(redactorWith(key).redact("ab").count).toBe(0);
  });

  it("redacts the whole secret with \\n or with \\r\\n line ends as one replacement", () => {
    const r = redactorWith(key);
    expect(r.redact(`x${key}y`).text).toBe("x[REDACTED]y");
    expect(r.redact(`x${key.replaceAll("\n", "\r\n")}y`).text).toBe("x[REDACTED]y");
  });

  it("registers a secret given with \\r\\n in its \\n form too", () => {
    const r = redactorWith("line-one\r\nline-two");
    expect(r.redact("<line-one\nline-two>").text).toBe("<[REDACTED]>");
  });
});

describe("what is not a secret", () => {
  it.each([
    ["", 4],
    ["abc", 4],
    ["   abc\n", 4],
    ["abcdefg", 8],
  ])("ignores %j with minSecretLength %i", (secret, min) => {
    const r = createRedactor({ minSecretLength: min });
    r.add(secret);
    expect(r.size).toBe(0);
    expect(r.redact(`x ${secret} y`).count).toBe(0);
  });

  it.each(["true", "False", "null", "none", "undefined"])("ignores the trivial value %j", (value) => {
    const r = redactorWith(value);
    expect(r.size).toBe(0);
    expect(r.redact(`enabled=${value}`).count).toBe(0);
  });

  it("never registers a form that occurs inside the replacement text", () => {
    const r = redactorWith("REDACTED");
    expect(r.size).toBeGreaterThan(0);
    expect(r.redact("a REDACTED b").text).toBe("a REDACTED b");
  });

  it("registers the trimmed value of a secret read with a trailing newline", () => {
    const r = redactorWith("tok-123456\n");
    expect(r.redact('"tok-123456"').text).toBe('"[REDACTED]"');
  });
});
