/**
 * Chunk-boundary-safe streaming redaction (see redact.ts). A secret may arrive split across any number of
 * chunks; the stream emits everything that can no longer become part of a match and holds back only the
 * text the automaton is still inside of, so its concatenated output equals one-shot redaction exactly.
 */
import { type Automaton, scan } from "./redact-automaton.ts";

/** Chunk-boundary-safe redaction of one stream of text; concatenated output equals `redact(whole).text`. */
export interface StreamRedactor {
  /** Returns the redacted text that is safe to emit now; holds back at most (longest form − 1) characters. */
  push(chunk: string): string;
  /** Returns the held-back rest, redacted; the stream may then be reused for a new text. */
  flush(): string;
}

/** What a stream needs from its redactor. */
export interface StreamDeps {
  /** Text put in place of each secret. */
  replacement: string;
  /** The current automaton and its version (a new version means secrets were added); undefined when none. */
  automaton(): { automaton: Automaton; version: number } | undefined;
  /** Called once per replacement emitted (the redactor's count). */
  onReplace(): void;
}

/**
 * The stream keeps, in absolute offsets of the whole text: `pos` (end of text seen), the automaton `state`,
 * `tail` = raw text [tailStart, pos) where tailStart = pos − depth(state) (no match can start earlier),
 * `rawOut` (text before it is final: emitted raw or covered by an emitted replacement), and `intervals`:
 * match intervals not yet closed. An interval starting before rawOut was already emitted as a replacement and
 * may still grow; one starting at or after rawOut is pending until no earlier-starting match is possible.
 */
export function createStream(deps: StreamDeps): StreamRedactor {
  let automaton: Automaton | undefined;
  let version = -1;
  let state = 0;
  let pos = 0;
  let tail = "";
  let tailStart = 0;
  let rawOut = 0;
  let intervals: number[] = [];

  const sync = (): void => {
    const cur = deps.automaton();
    if (cur === undefined || cur.version === version) return;
    automaton = cur.automaton;
    version = cur.version;
    // Secrets were added (mid-stream, or before the first push): rescan the held-back tail with the new
    // automaton. Emitted replacements stay; pending matches are found again.
    const emitted: number[] = [];
    for (let k = 0; k < intervals.length; k += 2) {
      if (intervals[k]! < rawOut) emitted.push(intervals[k]!, intervals[k + 1]!);
    }
    intervals = emitted;
    state = scan(automaton, tail, 0, tail.length, 0, tailStart, intervals);
  };

  /** Emits what is final once no match can start before `safe`; everything when `final`. */
  const emit = (text: string, textStart: number, safe: number, final: boolean): string => {
    let out = "";
    let k = 0;
    for (; k < intervals.length; k += 2) {
      const start = intervals[k]!;
      const end = intervals[k + 1]!;
      if (start < rawOut) {
        if (end > rawOut) rawOut = end; // an emitted replacement grew
      } else {
        if (start > safe && !final) break;
        out += text.slice(rawOut - textStart, start - textStart) + deps.replacement;
        deps.onReplace();
        rawOut = end;
      }
      if (end > safe && !final) break; // may still grow: keep it
    }
    if (k > 0) intervals.splice(0, k);
    const limit = final ? pos : safe;
    if (limit > rawOut) {
      out += text.slice(rawOut - textStart, limit - textStart);
      rawOut = limit;
    }
    return out;
  };

  return {
    push(chunk) {
      sync();
      if (automaton === undefined) {
        pos += chunk.length;
        tailStart = rawOut = pos;
        return chunk;
      }
      state = scan(automaton, chunk, 0, chunk.length, state, pos, intervals);
      const text = tail + chunk;
      const textStart = tailStart;
      pos += chunk.length;
      const safe = pos - automaton.depth[state]!;
      const out = emit(text, textStart, safe, false);
      tailStart = Math.min(safe, rawOut);
      tail = text.slice(tailStart - textStart);
      return out;
    },
    flush() {
      sync();
      const out = emit(tail, tailStart, pos, true);
      state = 0;
      tail = "";
      tailStart = rawOut = pos;
      intervals = [];
      return out;
    },
  };
}
