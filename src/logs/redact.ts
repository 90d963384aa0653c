/**
 * Redaction of secrets before anything leaves the process: job logs, output displays, error messages,
 * telemetry attributes, run records. Register secrets with `add` (or from env / a parsed plan); every
 * derived form (redact-forms.ts) is then replaced wherever it occurs, in one pass (redact-automaton.ts).
 * Overlapping and nested matches merge into one replacement, so the longest always wins and no secret is
 * ever half shown. `stream()` does the same across chunk boundaries, holding back only what may still
 * turn out to be the start of a secret.
 */
import { type Automaton, compileAutomaton, scan } from "./redact-automaton.ts";
import { secretForms } from "./redact-forms.ts";
import { secretsFromEnv, secretsFromObject } from "./redact-names.ts";
import { createStream, type StreamRedactor } from "./redact-stream.ts";

export { isSecretEnvName, isSecretKey, SECRET_NAME_RULES } from "./redact-names.ts";
export type { StreamRedactor } from "./redact-stream.ts";

/** Options of createRedactor. */
export interface RedactorOptions {
  /** Text put in place of each secret. Default "[REDACTED]". */
  replacement?: string;
  /** Secrets (and forms) shorter than this many UTF-16 units are ignored, so "1" is never redacted. Default 4. */
  minSecretLength?: number;
}

/** The result of redacting one string. */
export interface RedactResult {
  text: string;
  /** Number of replacements made. */
  count: number;
}

/** A set of secrets and the means to scrub them from text and values. */
export interface Redactor {
  /** Registers `secret` and its derived forms; ignored when shorter than minSecretLength or trivial ("true"). */
  add(secret: string): void;
  /** Registers the values of variables named like secrets (`*_TOKEN`, `*_SECRET`, `*_PASSWORD`, `*_KEY`, …). */
  addFromEnv(env: Readonly<Record<string, string | undefined>>): void;
  /** Registers string values under secret-looking keys at any depth (or under keys matching `keyPattern`). */
  addFromObject(value: unknown, keyPattern?: RegExp): void;
  /** Replaces every occurrence of every registered form. */
  redact(text: string): RedactResult;
  /** A streaming redactor; secrets added later apply from its next push (to its held-back tail too). */
  stream(): StreamRedactor;
  /** A deep copy of a JSON-like value with every string (and object key) redacted; see redactValue docs. */
  redactValue(value: unknown): unknown;
  /** Number of registered forms. */
  readonly size: number;
  /** Total replacements made by this redactor so far (for a metric). */
  readonly count: number;
}

/** Default replacement text. */
export const DEFAULT_REPLACEMENT = "[REDACTED]";
/** Default minimum secret length in UTF-16 units. */
export const DEFAULT_MIN_SECRET_LENGTH = 4;

/** Creates an empty redactor. */
export function createRedactor(opts: RedactorOptions = {}): Redactor {
  const replacement = opts.replacement ?? DEFAULT_REPLACEMENT;
  const minLength = Math.max(1, opts.minSecretLength ?? DEFAULT_MIN_SECRET_LENGTH);
  const forms = new Set<string>();
  let automaton: Automaton | undefined;
  let version = 0;
  let builtVersion = 0;
  let count = 0;

  const current = (): Automaton | undefined => {
    if (builtVersion !== version) {
      automaton = compileAutomaton([...forms]);
      builtVersion = version;
    }
    return automaton;
  };

  const add = (secret: string): void => {
    for (const form of secretForms(secret, minLength)) {
      // A form inside the replacement would be "revealed" by the replacement itself.
      if (forms.has(form) || replacement.includes(form)) continue;
      forms.add(form);
      version++;
    }
  };

  const redact = (text: string): RedactResult => {
    const a = current();
    if (a === undefined || text.length === 0) return { text, count: 0 };
    const intervals: number[] = [];
    scan(a, text, 0, text.length, 0, 0, intervals);
    if (intervals.length === 0) return { text, count: 0 };
    let out = "";
    let pos = 0;
    for (let k = 0; k < intervals.length; k += 2) {
      out += text.slice(pos, intervals[k]) + replacement;
      pos = intervals[k + 1]!;
    }
    out += text.slice(pos);
    const n = intervals.length / 2;
    count += n;
    return { text: out, count: n };
  };

  const redactor: Redactor = {
    add,
    addFromEnv: (env) => {
      for (const s of secretsFromEnv(env)) add(s);
    },
    addFromObject: (value, keyPattern) => {
      for (const s of secretsFromObject(value, keyPattern)) add(s);
    },
    redact,
    stream: () =>
      createStream({
        replacement,
        automaton: () => {
          const a = current();
          return a === undefined ? undefined : { automaton: a, version };
        },
        onReplace: () => {
          count++;
        },
      }),
    redactValue: (value) => redactValue(value, (s) => redact(s).text),
    get size() {
      return forms.size;
    },
    get count() {
      return count;
    },
  };
  return redactor;
}

/**
 * A deep copy of `value` with `redactString` applied to every string and object key. Arrays and plain
 * objects are copied; values with `toJSON` (Date, Buffer…) are replaced by its result, as JSON.stringify
 * would; an Error becomes a plain object {name, message, stack, cause, …own fields}; a reference cycle
 * becomes "[Circular]"; other primitives are returned as they are.
 */
export function redactValue(value: unknown, redactString: (s: string) => string): unknown {
  const stack = new Set<object>();
  const visit = (v: unknown): unknown => {
    if (typeof v === "string") return redactString(v);
    if (typeof v !== "object" || v === null) return v;
    if (stack.has(v)) return "[Circular]";
    stack.add(v);
    try {
      if (Array.isArray(v)) return v.map(visit);
      if (v instanceof Error) {
        const plain: Record<string, unknown> = { name: v.name, message: v.message, stack: v.stack };
        if (v.cause !== undefined) plain.cause = v.cause;
        return visit(Object.assign(plain, v));
      }
      const toJSON = (v as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === "function") return visit(toJSON.call(v));
      const out: Record<string, unknown> = {};
      for (const [k, child] of Object.entries(v)) out[redactString(k)] = visit(child);
      return out;
    } finally {
      stack.delete(v);
    }
  };
  return visit(value);
}
