/**
 * The sequence numbers a receiver has seen for one execution, as sorted disjoint ranges: a runner sends its
 * records in order, so the set is almost always one range growing at its end (O(1) per record), and stays a few
 * numbers however many records arrive. `add` says how many numbers were new, which is what de-duplication needs.
 */
export class SeqRanges {
  /** starts[i]..ends[i] inclusive, sorted, disjoint and not adjacent. */
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];
  #covered = 0;

  /** How many sequence numbers are in the set. */
  get covered(): number {
    return this.#covered;
  }

  /** The largest sequence number in the set (0 when empty). */
  get max(): number {
    return this.#ends.at(-1) ?? 0;
  }

  /** Adds from..to (inclusive); returns how many of those numbers were not in the set yet. */
  add(from: number, to = from): number {
    if (to < from) return 0;
    const last = this.#ends.length - 1;
    if (last < 0 || from > this.#ends[last]! + 1) {
      this.#starts.push(from);
      this.#ends.push(to);
      this.#covered += to - from + 1;
      return to - from + 1;
    }
    if (from >= this.#starts[last]!) {
      // The common case: at (or inside) the end of the last range.
      const grown = Math.max(0, to - this.#ends[last]!);
      this.#ends[last] = Math.max(this.#ends[last]!, to);
      this.#covered += grown;
      return grown;
    }
    // General case: merge every range that overlaps or touches from..to.
    let first = this.#indexAfter(from - 1) - 1; // the last range starting at or before from - 1
    if (first < 0 || this.#ends[first]! < from - 1) first++;
    let end = first;
    let overlap = 0;
    let start = from;
    let stop = to;
    while (end < this.#starts.length && this.#starts[end]! <= to + 1) {
      const s = this.#starts[end]!;
      const e = this.#ends[end]!;
      overlap += Math.max(0, Math.min(e, to) - Math.max(s, from) + 1);
      start = Math.min(start, s);
      stop = Math.max(stop, e);
      this.#covered -= e - s + 1;
      end++;
    }
    this.#starts.splice(first, end - first, start);
    this.#ends.splice(first, end - first, stop);
    this.#covered += stop - start + 1;
    return to - from + 1 - overlap;
  }

  /** The ranges, for snapshots and assertions. */
  ranges(): Array<[number, number]> {
    return this.#starts.map((s, i) => [s, this.#ends[i]!]);
  }

  /** Index of the first range starting after `seq`. */
  #indexAfter(seq: number): number {
    let lo = 0;
    let hi = this.#starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#starts[mid]! <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
