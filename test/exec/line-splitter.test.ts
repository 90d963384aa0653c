import { describe, expect, it } from "vitest";
import { LineSplitter, utf8Boundary } from "../../src/exec/line-splitter.ts";

function split(chunks: (string | Uint8Array)[], maxLineBytes?: number): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line), maxLineBytes);
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return lines;
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

describe("LineSplitter", () => {
  it.each<[string, (string | Uint8Array)[], string[]]>([
    ["one line per newline", ["a\nb\n"], ["a", "b"]],
    ["a line spread over chunks", ["he", "ll", "o\nwor", "ld\n"], ["hello", "world"]],
    ["a final line without a newline", ["a\nrest"], ["a", "rest"]],
    ["empty lines", ["\n\nx\n"], ["", "", "x"]],
    ["CRLF line endings", ["a\r\nb\r\n"], ["a", "b"]],
    ["nothing for no output", [], []],
    ["a two-byte character split across chunks", [bytes(0x63, 0xc3), bytes(0xa9, 0x0a)], ["cé"]],
    ["a four-byte character split in three", [bytes(0xf0, 0x9f), bytes(0x98), bytes(0x80, 0x0a)], ["😀"]],
    ["invalid UTF-8 as replacement characters", [bytes(0xff, 0x41, 0x0a)], ["\uFFFDA"]],
  ])("splits %s", (_name, chunks, expected) => {
    expect(split(chunks)).toEqual(expected);
  });

  it("cuts a line longer than maxLineBytes into pieces of at most that many bytes", () => {
    expect(split(["abcdefghij\n"], 4)).toEqual(["abcd", "efgh", "ij"]);
    expect(split(["abcdefgh\n"], 4)).toEqual(["abcd", "efgh"]);
  });

  it("keeps a long line's pieces on character boundaries", () => {
    // "aéé" = 61 c3 a9 c3 a9: a cut after 4 bytes would split the second é.
    expect(split(["aéé\n"], 4)).toEqual(["aé", "é"]);
  });

  it("holds at most maxLineBytes of an unfinished line", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line), 8);
    for (let i = 0; i < 10; i++) splitter.push("xxxx");
    expect(lines).toEqual(["xxxxxxxx", "xxxxxxxx", "xxxxxxxx", "xxxxxxxx"]);
    splitter.end();
    expect(lines.at(-1)).toBe("xxxxxxxx");
  });

  it("rejects a maxLineBytes too small for one character", () => {
    expect(() => new LineSplitter(() => {}, 2)).toThrow(RangeError);
  });

  it("end is idempotent", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line));
    splitter.push("x");
    splitter.end();
    splitter.end();
    expect(lines).toEqual(["x"]);
  });
});

describe("utf8Boundary", () => {
  it.each<[string, number[], number, number]>([
    ["an ASCII position unchanged", [0x61, 0x62, 0x63], 2, 2],
    ["backs up to the start of a two-byte character", [0x61, 0xc3, 0xa9], 2, 1],
    ["backs up over three continuation bytes", [0x61, 0xf0, 0x9f, 0x98, 0x80], 4, 1],
    ["cuts anyway when only continuation bytes follow the minimum", [0x80, 0x80, 0x80, 0x80, 0x80], 4, 4],
  ])("%s", (_name, data, at, expected) => {
    expect(utf8Boundary(Uint8Array.from(data), at, 0)).toBe(expected);
  });
});
