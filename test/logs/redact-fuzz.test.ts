import { describe, expect, it } from "vitest";
import { createRedactor } from "../../src/logs/redact.ts";
import { compileAutomaton, scan } from "../../src/logs/redact-automaton.ts";
import { secretForms } from "../../src/logs/redact-forms.ts";
import { seededRandom } from "../support/seeded-random.ts";

// Secrets never contain brackets, so no form can straddle a "[REDACTED]" and the output check below is exact.
const SECRET_CHARS = [...'abcAB01xyz-_./+=%"\\ \n\t<>&é😀'];
const TEXT_CHARS = [...SECRET_CHARS, "[", "]", "D", "E", "\r", ":", "{", "}"];

function randomString(rand: () => number, chars: readonly string[], min: number, max: number): string {
  const len = min + Math.floor(rand() * (max - min + 1));
  let s = "";
  for (let i = 0; i < len; i++) s += chars[Math.floor(rand() * chars.length)];
  return s;
}

/** The reference: every occurrence of every form by indexOf, overlapping intervals merged. */
function naiveIntervals(text: string, forms: readonly string[]): [number, number][] {
  const found: [number, number][] = [];
  for (const f of forms) {
    for (let at = text.indexOf(f); at >= 0; at = text.indexOf(f, at + 1)) found.push([at, at + f.length]);
  }
  found.sort((x, y) => x[0] - y[0] || y[1] - x[1]);
  const merged: [number, number][] = [];
  for (const [s, e] of found) {
    const last = merged.at(-1);
    if (last !== undefined && s < last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  return merged;
}

function naiveRedact(text: string, forms: readonly string[], replacement: string): string {
  let out = "";
  let pos = 0;
  for (const [s, e] of naiveIntervals(text, forms)) {
    out += text.slice(pos, s) + replacement;
    pos = e;
  }
  return out + text.slice(pos);
}

/** Random secrets, some deliberately sharing prefixes/suffixes with others so matches overlap and nest. */
function randomSecrets(rand: () => number): string[] {
  const secrets: string[] = [];
  const n = 1 + Math.floor(rand() * 5);
  for (let i = 0; i < n; i++) {
    const prev = secrets.at(-1);
    const r = rand();
    if (prev !== undefined && r < 0.2) secrets.push(prev + randomString(rand, SECRET_CHARS, 1, 6));
    else if (prev !== undefined && r < 0.35) secrets.push(`${prev.slice(Math.floor(prev.length / 2))}zz01`);
    else secrets.push(randomString(rand, SECRET_CHARS, 3, 18));
  }
  return secrets;
}

function randomText(rand: () => number, forms: readonly string[]): string {
  let text = randomString(rand, TEXT_CHARS, 0, 400);
  const inserts = Math.floor(rand() * 8);
  for (let k = 0; k < inserts && forms.length > 0; k++) {
    const form = forms[Math.floor(rand() * forms.length)]!;
    const at = Math.floor(rand() * (text.length + 1));
    text = text.slice(0, at) + form + text.slice(at);
  }
  return text;
}

function randomChunks(rand: () => number, text: string): string[] {
  const mode = Math.floor(rand() * 3);
  const chunks: string[] = [];
  for (let i = 0; i < text.length; ) {
    const size = mode === 0 ? 1 : mode === 1 ? 1 + Math.floor(rand() * 8) : 1 + Math.floor(rand() * 120);
    chunks.push(text.slice(i, i + size));
    i += size;
  }
  if (rand() < 0.3) chunks.splice(Math.floor(rand() * (chunks.length + 1)), 0, ""); // empty pushes are fine
  return chunks;
}

const SEEDS = Array.from({ length: 400 }, (_, i) => i + 1);

function withSeed(seed: number, check: () => void): void {
  try {
    check();
  } catch (err) {
    throw new Error(`fuzz failure with seed ${seed}: ${(err as Error).message}`, { cause: err });
  }
}

describe("redaction fuzz", () => {
  it("streams in random chunks exactly as one-shot, matches the indexOf reference, and leaves no form behind", () => {
    for (const seed of SEEDS) {
      withSeed(seed, () => {
        const rand = seededRandom(seed);
        const secrets = randomSecrets(rand);
        const redactor = createRedactor();
        for (const s of secrets) redactor.add(s);
        const forms = [...new Set(secrets.flatMap((s) => secretForms(s, 4)))].filter(
          (f) => !"[REDACTED]".includes(f),
        );
        expect(redactor.size).toBe(forms.length);
        const text = randomText(rand, forms);

        const oneShot = redactor.redact(text);
        expect(oneShot.text).toBe(naiveRedact(text, forms, "[REDACTED]"));
        expect(oneShot.count).toBe(naiveIntervals(text, forms).length);
        for (const f of forms)
          expect(oneShot.text.includes(f), `form ${JSON.stringify(f)} survived`).toBe(false);

        const stream = redactor.stream();
        const countBefore = redactor.count;
        let streamed = "";
        for (const chunk of randomChunks(rand, text)) streamed += stream.push(chunk);
        streamed += stream.flush();
        expect(streamed).toBe(oneShot.text);
        expect(redactor.count - countBefore).toBe(oneShot.count);
      });
    }
  });

  it("finds the same matches whether the automaton is fully dense or almost entirely sparse", () => {
    for (const seed of SEEDS) {
      withSeed(seed, () => {
        const rand = seededRandom(seed * 7919);
        const patterns = randomSecrets(rand).flatMap((s) => secretForms(s, 2));
        if (patterns.length === 0) return;
        const text = randomText(rand, patterns);
        const expected = naiveIntervals(text, patterns).flat();
        for (const budget of [1, 64, 1 << 20]) {
          const a = compileAutomaton(patterns, budget);
          const oneShot: number[] = [];
          scan(a, text, 0, text.length, 0, 0, oneShot);
          expect(oneShot, `budget ${budget}`).toEqual(expected);
          // Resuming from the returned state at every code unit changes nothing.
          const stepwise: number[] = [];
          let state = 0;
          for (let i = 0; i < text.length; i++) state = scan(a, text, i, i + 1, state, 0, stepwise);
          expect(stepwise, `budget ${budget}, stepwise`).toEqual(expected);
        }
      });
    }
  });
});
