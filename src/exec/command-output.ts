/**
 * What happens to a command's output: each stream is split into lines as it arrives and handed to `onLine`
 * (never buffered whole), the last stderr lines are kept for error messages, and stdout is captured only when
 * asked, up to a byte limit.
 */
import { once } from "node:events";
import type { Readable } from "node:stream";
import { LineSplitter } from "./line-splitter.ts";

/** Which output stream a line came from. */
export type OutputStream = "stdout" | "stderr";

/** Receives each output line, without its newline. */
export type LineListener = (line: string, stream: OutputStream) => void;

/** How many stderr lines `stderrTail` keeps, each cut to STDERR_TAIL_LINE_CHARS. */
export const STDERR_TAIL_LINES = 10;
/** Longest stderr tail line kept for messages, in characters. */
export const STDERR_TAIL_LINE_CHARS = 500;

/** Options of CommandOutput. */
export interface CommandOutputOptions {
  onLine?: LineListener | undefined;
  /** Longest line handed to onLine, in bytes; longer ones arrive in pieces. */
  maxLineBytes: number;
  captureStdout: boolean;
  /** Most stdout bytes captured; past it `onFatal` is called with a capture-overflow marker. */
  maxCaptureBytes: number;
  /** Called once, on the first reason to stop the command: onLine threw, or capture overflowed. */
  onFatal: (reason: OutputFailure) => void;
}

/** Why output handling asked to stop the command. */
export type OutputFailure = { kind: "listener-threw"; error: unknown } | { kind: "capture-overflow" };

/** Per-command output handling; `attach` each stream once. */
export class CommandOutput {
  /** The last stderr lines (at most STDERR_TAIL_LINES). */
  readonly stderrTail: string[] = [];
  /** The first failure, if any. */
  failure: OutputFailure | undefined;
  readonly #options: CommandOutputOptions;
  readonly #captured: Buffer[] = [];
  #capturedBytes = 0;

  constructor(options: CommandOutputOptions) {
    this.#options = options;
  }

  /** Reads `stream` as it flows; resolves once it has ended or closed (never rejects). */
  attach(stream: Readable | null | undefined, name: OutputStream): Promise<void> {
    if (stream == null) return Promise.resolve();
    const splitter = new LineSplitter((line) => this.#line(line, name), this.#options.maxLineBytes);
    const capture = name === "stdout" && this.#options.captureStdout;
    stream.on("data", (chunk: Buffer | string) => {
      splitter.push(chunk);
      if (capture) this.#capture(chunk);
    });
    stream.once("end", () => splitter.end());
    // 'close' follows 'end', and also comes alone when the stream is destroyed; flush in both cases.
    return once(stream, "close").then(
      () => splitter.end(),
      () => splitter.end(),
    );
  }

  /** The captured stdout as UTF-8 text, or undefined when capture was off. */
  capturedStdout(): string | undefined {
    if (!this.#options.captureStdout) return undefined;
    return Buffer.concat(this.#captured).toString("utf8");
  }

  #line(line: string, stream: OutputStream): void {
    if (stream === "stderr") {
      this.stderrTail.push(
        line.length > STDERR_TAIL_LINE_CHARS ? `${line.slice(0, STDERR_TAIL_LINE_CHARS)}…` : line,
      );
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
    }
    if (this.#options.onLine === undefined || this.failure?.kind === "listener-threw") return;
    try {
      this.#options.onLine(line, stream);
    } catch (error) {
      this.#fail({ kind: "listener-threw", error });
    }
  }

  #capture(chunk: Buffer | string): void {
    if (this.failure?.kind === "capture-overflow") return;
    const bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    if (this.#capturedBytes + bytes.length > this.#options.maxCaptureBytes) {
      this.#captured.length = 0;
      this.#fail({ kind: "capture-overflow" });
      return;
    }
    this.#captured.push(bytes);
    this.#capturedBytes += bytes.length;
  }

  #fail(reason: OutputFailure): void {
    if (this.failure !== undefined) return;
    this.failure = reason;
    this.#options.onFatal(reason);
  }
}
