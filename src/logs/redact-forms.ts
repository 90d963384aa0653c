/**
 * The derived forms of a secret: every spelling under which it can reach a log line. A token is printed
 * plainly, but also base64-encoded (docker auth, kube secrets, basic auth), URL-encoded (query strings,
 * form bodies), JSON-escaped (a plan echoed back), and a multi-line secret (a PEM key) is split by the
 * line splitter. `secretForms` lists them all; the automaton in redact-automaton.ts finds them in one pass.
 */
import { Buffer } from "node:buffer";

/**
 * Values never treated as secrets whatever their length: a variable set to `true` would otherwise turn
 * every `true` in every log into `[REDACTED]`.
 */
export const NEVER_SECRET_VALUES: ReadonlySet<string> = new Set([
  "true",
  "false",
  "null",
  "none",
  "undefined",
]);

/**
 * Every form of `secret` at least `minLength` UTF-16 units long, deduplicated, in no particular order.
 * Returns [] when the trimmed secret is shorter than `minLength` or is a value in NEVER_SECRET_VALUES.
 */
export function secretForms(secret: string, minLength: number): string[] {
  const trimmed = secret.trim();
  if (trimmed.length < minLength || NEVER_SECRET_VALUES.has(trimmed.toLowerCase())) return [];
  const variants = new Set<string>([secret, trimmed]);
  for (const v of [...variants]) {
    if (v.includes("\r\n")) variants.add(v.replaceAll("\r\n", "\n"));
    else if (v.includes("\n")) variants.add(v.replaceAll("\n", "\r\n"));
  }
  const forms = new Set<string>();
  for (const v of variants) {
    forms.add(v);
    addJsonForms(forms, v);
    addUrlForms(forms, v);
    addBase64Forms(forms, v);
    if (v.includes("\n")) {
      // Log lines are split on newlines, so each line of a multi-line secret must stand on its own.
      for (const line of v.split("\n")) forms.add(line.trim());
    }
  }
  return [...forms].filter((f) => f.length >= minLength);
}

/**
 * JSON string contents: JSON.stringify, Go's encoding/json (<>& and U+2028/9 escaped), ASCII-only \uXXXX
 * (Python's default), `\/` (PHP), and escaped twice (a JSON document inside a JSON string).
 */
function addJsonForms(forms: Set<string>, v: string): void {
  const inner = JSON.stringify(v).slice(1, -1);
  forms.add(inner);
  const go = inner.replace(/[<>&\u2028\u2029]/g, unicodeEscape);
  forms.add(go);
  for (const base of [inner, go]) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is "every non-ASCII code unit".
    forms.add(base.replace(/[^\x00-\x7f]/g, unicodeEscape));
  }
  forms.add(inner.replaceAll("/", "\\/"));
  forms.add(JSON.stringify(inner).slice(1, -1));
}

function unicodeEscape(ch: string): string {
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** Characters left alone by each percent-encoder we expect to meet. */
const URL_KEEP = {
  /** encodeURIComponent */
  component: /[A-Za-z0-9\-_.!~*'()]/,
  /** WHATWG application/x-www-form-urlencoded (URLSearchParams), space as + */
  form: /[A-Za-z0-9*\-._]/,
  /** RFC 3986 unreserved (Go url.QueryEscape / PathEscape, Python quote) */
  unreserved: /[A-Za-z0-9\-_.~]/,
} as const;

/** Percent-encoded forms, with %20 and + for spaces, and with upper- and lower-case hex digits. */
function addUrlForms(forms: Set<string>, v: string): void {
  if (!v.isWellFormed()) return; // a lone surrogate has no UTF-8 encoding, so no URL form
  for (const keep of Object.values(URL_KEEP)) {
    const upper = percentEncode(v, keep);
    for (const enc of [upper, upper.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())]) {
      forms.add(enc);
      forms.add(enc.replaceAll("%20", "+"));
    }
  }
}

function percentEncode(v: string, keep: RegExp): string {
  let out = "";
  for (const ch of v) {
    if (keep.test(ch)) out += ch;
    else
      for (const byte of Buffer.from(ch, "utf8"))
        out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * Base64 forms: standard and URL alphabets, padded and not, and the "stable cores": the characters that
 * depend only on the secret's bytes when it sits at byte offset 0, 1 or 2 (mod 3) of a longer encoded
 * stream, e.g. inside base64 of `{"auth":"<secret>"}`.
 */
function addBase64Forms(forms: Set<string>, v: string): void {
  const bytes = Buffer.from(v, "utf8");
  const std = bytes.toString("base64");
  forms.add(std);
  forms.add(std.replace(/=+$/, ""));
  const url = toUrlAlphabet(std);
  forms.add(url);
  forms.add(url.replace(/=+$/, ""));
  const n = bytes.length;
  for (let k = 0; k < 3; k++) {
    const encoded = Buffer.concat([Buffer.alloc(k), bytes]).toString("base64");
    // Character j encodes bits [6j, 6j+6); keep those lying wholly inside the secret's bits [8k, 8(k+n)).
    const core = encoded.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + n)) / 6));
    forms.add(core);
    forms.add(toUrlAlphabet(core));
  }
}

function toUrlAlphabet(b64: string): string {
  return b64.replaceAll("+", "-").replaceAll("/", "_");
}
