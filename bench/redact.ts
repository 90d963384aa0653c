/**
 * Micro-benchmark of log redaction: 50 MB of terraform-like log text with 20 registered secrets (each
 * occurring plainly, base64-embedded, URL-encoded and JSON-escaped), redacted one-shot and streamed in
 * 64 KiB chunks. Prints MB/s (1 MB = 10^6 UTF-16 code units; the text is ASCII, so also bytes).
 *
 *   node bench/redact.ts             one-shot and streaming
 *   node bench/redact.ts --regexp    also the RegExp-alternation baseline the automaton replaced
 */
import { Buffer } from "node:buffer";
import { createRedactor } from "../src/logs/redact.ts";
import { secretForms } from "../src/logs/redact-forms.ts";

/** One measured row. */
export interface RedactBenchRow {
  name: string;
  mbPerSecond: number;
  replacements: number;
}

/** Size of the generated log text in UTF-16 code units (default 50 MB). */
const TEXT_CHARS = 50_000_000;
const SECRET_COUNT = 20;
const CHUNK_CHARS = 64 * 1024;
const ROUNDS = 3;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  "module.vpc.aws_subnet.private[0]:",
  "Creating...",
  "Still creating...",
  "[10s elapsed]",
  "Creation complete after 2s",
  "[id=subnet-0a1b2c3d4e5f]",
  "helm:",
  "upgrade",
  "release",
  "deployed",
  "kubectl",
  "apply",
  "configmap/app-config",
  "unchanged",
  "Refreshing state...",
  "data.aws_iam_policy_document.this:",
  "Read complete",
  "Plan:",
  "3 to add, 0 to change, 0 to destroy.",
  'msg="pulling image"',
  "image=public.ecr.aws/nuon/runner:latest",
  "level=info",
  "level=debug",
  "ts=2025-01-01T12:00:00.000Z",
];

/** Builds the log text and the secrets, deterministically. */
export function makeBenchInput(chars = TEXT_CHARS): { text: string; secrets: string[] } {
  const rand = prng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_/+=.:";
  const secrets = Array.from({ length: SECRET_COUNT }, () => {
    let s = "";
    const len = 20 + Math.floor(rand() * 30);
    for (let i = 0; i < len; i++) s += pick([...alphabet]);
    return s;
  });
  const lines: string[] = [];
  let size = 0;
  while (size < chars) {
    let line = `${new Date(1_700_000_000_000 + lines.length * 7).toISOString()} `;
    const words = 4 + Math.floor(rand() * 10);
    for (let i = 0; i < words; i++) line += `${pick(WORDS)} `;
    if (rand() < 0.001) {
      const s = pick(secrets);
      line += pick([
        s,
        `Authorization: Basic ${Buffer.from(`user:${s}`).toString("base64")}`,
        `https://example.invalid/?token=${encodeURIComponent(s)}`,
        JSON.stringify({ token: s }),
        Buffer.from(JSON.stringify({ auths: { r: { auth: s } } })).toString("base64"),
      ]);
    }
    lines.push(line);
    size += line.length + 1;
  }
  return { text: lines.join("\n").slice(0, chars), secrets };
}

function best(rounds: number, fn: () => number): { seconds: number; replacements: number } {
  let seconds = Number.POSITIVE_INFINITY;
  let replacements = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    replacements = fn();
    seconds = Math.min(seconds, (performance.now() - t0) / 1000);
  }
  return { seconds, replacements };
}

/** Runs the benchmark; with `withRegExp`, also the RegExp baseline. */
export function benchRedact(opts: { withRegExp?: boolean; chars?: number } = {}): RedactBenchRow[] {
  const { text, secrets } = makeBenchInput(opts.chars);
  const redactor = createRedactor();
  for (const s of secrets) redactor.add(s);
  const mb = text.length / 1e6;
  const rows: RedactBenchRow[] = [];

  const expected = redactor.redact(text);
  const oneShot = best(ROUNDS, () => redactor.redact(text).count);
  rows.push({ name: "one-shot", mbPerSecond: mb / oneShot.seconds, replacements: oneShot.replacements });

  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += CHUNK_CHARS) chunks.push(text.slice(i, i + CHUNK_CHARS));
  let parts: string[] = [];
  const stream = best(ROUNDS, () => {
    const before = redactor.count;
    const s = redactor.stream();
    parts = []; // a real consumer writes each piece to the spool; joining is not part of the cost
    for (const c of chunks) parts.push(s.push(c));
    parts.push(s.flush());
    return redactor.count - before;
  });
  if (parts.join("") !== expected.text) throw new Error("streamed output differs from one-shot output");
  rows.push({ name: "stream 64 KiB", mbPerSecond: mb / stream.seconds, replacements: stream.replacements });

  if (opts.withRegExp) {
    const forms = [...new Set(secrets.flatMap((s) => secretForms(s, 4)))].sort((a, b) => b.length - a.length);
    const re = new RegExp(forms.map((f) => f.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")).join("|"), "g");
    const regexp = best(1, () => {
      let n = 0;
      text.replace(re, () => {
        n++;
        return "[REDACTED]";
      });
      return n;
    });
    rows.push({
      name: "RegExp baseline",
      mbPerSecond: mb / regexp.seconds,
      replacements: regexp.replacements,
    });
  }
  return rows;
}

if (import.meta.main) {
  const rows = benchRedact({ withRegExp: process.argv.includes("--regexp") });
  console.log(`redact: ${TEXT_CHARS / 1e6} MB of log text, ${SECRET_COUNT} secrets`);
  for (const r of rows) {
    console.log(
      `  ${r.name.padEnd(16)} ${r.mbPerSecond.toFixed(0).padStart(6)} MB/s  (${r.replacements} replacements)`,
    );
  }
}
