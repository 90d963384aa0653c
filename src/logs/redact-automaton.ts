/**
 * An Aho–Corasick automaton over UTF-16 code units: finds every occurrence of many literal patterns in one
 * left-to-right pass, and can stop at any code unit and resume with the next chunk (the state is one integer).
 *
 * Why not one RegExp alternation of escaped literals (sorted longest first)? Measured with bench/redact.ts
 * (`--regexp`) on this 2-core machine, 20 secrets (~145 forms) over 50 MB of log text, best of 3: the RegExp
 * ran at ~113 MB/s, this automaton at ~280 MB/s one-shot and ~230 MB/s streamed in 64 KiB chunks. The RegExp
 * also has the wrong semantics (leftmost alternative wins, so of two overlapping secrets the second half
 * shows) and no way to resume mid-match at a chunk boundary; here the state's depth is exactly how much text
 * may still become part of a match. (Scanning a latin1 Buffer copy instead of charCodeAt measured ~20%
 * faster for ASCII text; not worth a second copy of the hot loop.)
 *
 * Layout: characters that occur in no pattern share class 0; states are numbered breadth-first; the first
 * `denseCount` states (the shallow ones, where a scan spends nearly all its time) have a full transition row
 * in `delta`, the deeper ones keep only their trie edges and fall back along `fail`. The dense budget keeps
 * memory bounded however many secrets are registered; throughput measured flat from 1 to 2,000 secrets
 * (10k forms, 233k states; compiling that many takes ~0.9 s, 20 secrets ~10 ms).
 */

/** Upper bound on dense transition-table entries (4 bytes each): 1 Mi entries = 4 MiB. */
const DENSE_BUDGET_ENTRIES = 1 << 20;

/** A compiled set of literal patterns; immutable once built. */
export interface Automaton {
  /** Code unit → character class; 0 for code units in no pattern. */
  readonly classOf: Uint8Array | Uint16Array;
  /** Number of classes (row width of `delta`). */
  readonly width: number;
  /** States [0, denseCount) have full rows in `delta`. */
  readonly denseCount: number;
  /**
   * Dense transitions: delta[state * width + class] = target * width when the target is dense and ends no
   * match (the hot case: the value is the target's row), else ~target.
   */
  readonly delta: Int32Array;
  /** Trie edges of sparse states: edges of s are [edgeStart[s], edgeStart[s + 1]). */
  readonly edgeStart: Int32Array;
  readonly edgeClass: Int32Array;
  readonly edgeTarget: Int32Array;
  /** Failure link: the longest proper suffix of the state's string that is a trie state. */
  readonly fail: Int32Array;
  /** Length of the state's string (how much text a pending match may span). */
  readonly depth: Int32Array;
  /** Length of the longest pattern ending at this state, 0 when none. */
  readonly matchLength: Int32Array;
  /** Length of the longest pattern, in UTF-16 code units. */
  readonly maxLength: number;
}

/**
 * Builds the automaton for `patterns` (non-empty strings; duplicates allowed). `denseBudgetEntries` caps the
 * dense table (default 1 Mi entries = 4 MiB); tests shrink it to exercise the sparse states.
 */
export function compileAutomaton(
  patterns: readonly string[],
  denseBudgetEntries = DENSE_BUDGET_ENTRIES,
): Automaton {
  const classes = new Map<number, number>();
  for (const p of patterns) {
    for (let i = 0; i < p.length; i++) {
      const code = p.charCodeAt(i);
      if (!classes.has(code)) classes.set(code, classes.size + 1);
    }
  }
  const width = classes.size + 1;
  const classOf = width <= 256 ? new Uint8Array(65536) : new Uint16Array(65536);
  for (const [code, cls] of classes) classOf[code] = cls;

  // The trie, with temporary ids in insertion order.
  const children: Map<number, number>[] = [new Map()];
  const trieDepth: number[] = [0];
  const terminal: boolean[] = [false];
  let maxLength = 0;
  for (const p of patterns) {
    let s = 0;
    for (let i = 0; i < p.length; i++) {
      const cls = classOf[p.charCodeAt(i)]!;
      let next = children[s]!.get(cls);
      if (next === undefined) {
        next = children.length;
        children.push(new Map());
        trieDepth.push(trieDepth[s]! + 1);
        terminal.push(false);
        children[s]!.set(cls, next);
      }
      s = next;
    }
    terminal[s] = true;
    if (p.length > maxLength) maxLength = p.length;
  }

  // Breadth-first order, failure links and longest-match lengths (on temporary ids).
  const n = children.length;
  const order: number[] = [0];
  const tmpFail = new Int32Array(n);
  const tmpMatch = new Int32Array(n);
  for (let head = 0; head < order.length; head++) {
    const u = order[head]!;
    for (const [cls, v] of children[u]!) {
      order.push(v);
      let f = u === 0 ? -1 : tmpFail[u]!;
      while (f >= 0 && !children[f]!.has(cls)) f = f === 0 ? -1 : tmpFail[f]!;
      tmpFail[v] = f < 0 ? 0 : children[f]!.get(cls)!;
      tmpMatch[v] = terminal[v] ? trieDepth[v]! : tmpMatch[tmpFail[v]!]!;
    }
  }

  // Renumber breadth-first, so that every failure link points to a smaller id.
  const id = new Int32Array(n);
  for (let i = 0; i < n; i++) id[order[i]!] = i;
  const fail = new Int32Array(n);
  const depth = new Int32Array(n);
  const matchLength = new Int32Array(n);
  const edgeStart = new Int32Array(n + 1);
  let edgeCount = 0;
  const denseCount = Math.max(1, Math.min(n, Math.floor(denseBudgetEntries / width)));
  for (let i = 0; i < n; i++) {
    const old = order[i]!;
    fail[i] = id[tmpFail[old]!]!;
    depth[i] = trieDepth[old]!;
    matchLength[i] = tmpMatch[old]!;
    edgeStart[i] = edgeCount;
    if (i >= denseCount) edgeCount += children[old]!.size;
  }
  edgeStart[n] = edgeCount;
  const edgeClass = new Int32Array(edgeCount);
  const edgeTarget = new Int32Array(edgeCount);
  const delta = new Int32Array(denseCount * width);
  const encode = (target: number): number =>
    target < denseCount && matchLength[target] === 0 ? target * width : ~target;
  for (let i = 0; i < n; i++) {
    const kids = children[order[i]!]!;
    if (i < denseCount) {
      const row = i * width;
      if (i !== 0) delta.set(delta.subarray(fail[i]! * width, fail[i]! * width + width), row);
      for (const [cls, v] of kids) delta[row + cls] = encode(id[v]!);
    } else {
      let e = edgeStart[i]!;
      for (const [cls, v] of kids) {
        edgeClass[e] = cls;
        edgeTarget[e++] = id[v]!;
      }
    }
  }
  return {
    classOf,
    width,
    denseCount,
    delta,
    edgeStart,
    edgeClass,
    edgeTarget,
    fail,
    depth,
    matchLength,
    maxLength,
  };
}

/**
 * Scans text[from, to) starting in `state`, and returns the state after the last code unit. Each match is
 * added to `intervals` (flat [start, end, start, end, …], absolute offsets = `offset` + index, sorted and
 * disjoint): a match overlapping earlier intervals swallows them, so overlapping and nested secrets become one
 * interval and the longest always wins. Adjacent (touching) intervals stay separate.
 */
export function scan(
  a: Automaton,
  text: string,
  from: number,
  to: number,
  state: number,
  offset: number,
  intervals: number[],
): number {
  const { classOf, width, denseCount, delta, matchLength } = a;
  let s = state;
  let i = from;
  while (i < to) {
    if (s < denseCount) {
      // The hot loop: dense states that end no match, one table load per code unit.
      let row = s * width;
      let v = 0;
      do {
        v = delta[row + classOf[text.charCodeAt(i++)]!]!;
        if (v < 0) break;
        row = v;
      } while (i < to);
      if (v >= 0) return row / width;
      s = ~v;
    } else {
      s = sparseNext(a, s, classOf[text.charCodeAt(i++)]!);
    }
    const len = matchLength[s]!;
    if (len !== 0) {
      const end = offset + i;
      let start = end - len;
      while (intervals.length > 0 && intervals[intervals.length - 1]! > start) {
        const prevStart = intervals[intervals.length - 2]!;
        if (prevStart < start) start = prevStart;
        intervals.length -= 2;
      }
      intervals.push(start, end);
    }
  }
  return s;
}

/** The transition from sparse state `s` on class `cls`: a trie edge, else along failure links. */
function sparseNext(a: Automaton, s: number, cls: number): number {
  const { width, denseCount, delta, edgeStart, edgeClass, edgeTarget, fail } = a;
  for (;;) {
    if (s < denseCount) {
      const v = delta[s * width + cls]!;
      return v >= 0 ? v / width : ~v;
    }
    const end = edgeStart[s + 1]!;
    for (let e = edgeStart[s]!; e < end; e++) if (edgeClass[e] === cls) return edgeTarget[e]!;
    s = fail[s]!;
  }
}
