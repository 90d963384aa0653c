/** Reading exact byte counts from a stream of chunks (the tar extractor's input). */

/** Reads exact byte counts from an async iterable of chunks. */
export class ByteReader {
  #iterator: AsyncIterator<Uint8Array>;
  #buffer: Buffer = Buffer.alloc(0);
  #done = false;

  #truncated: () => Error;

  /** `truncated` makes the error thrown when the input ends in the middle of what was asked for. */
  constructor(source: AsyncIterable<Uint8Array>, truncated: () => Error) {
    this.#iterator = source[Symbol.asyncIterator]();
    this.#truncated = truncated;
  }

  async #fill(): Promise<boolean> {
    if (this.#done) return false;
    const next = await this.#iterator.next();
    if (next.done) {
      this.#done = true;
      return false;
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    return true;
  }

  /** Exactly `n` bytes, or undefined at a clean end of input before any of them. */
  async read(n: number): Promise<Buffer | undefined> {
    while (this.#buffer.length < n) {
      if (!(await this.#fill())) {
        if (this.#buffer.length === 0) return undefined;
        throw this.#truncated();
      }
    }
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  /** Exactly `n` bytes; a truncated archive throws. */
  async readExactly(n: number): Promise<Buffer> {
    if (n === 0) return Buffer.alloc(0);
    const out = await this.read(n);
    if (out === undefined) throw this.#truncated();
    return out;
  }

  /** Between 1 and `max` bytes (what is buffered, or the next chunk); a truncated archive throws. */
  async readSome(max: number): Promise<Buffer> {
    if (this.#buffer.length === 0 && !(await this.#fill())) throw this.#truncated();
    const n = Math.min(max, this.#buffer.length);
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }
}
