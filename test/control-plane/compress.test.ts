import { randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { ResultInput } from "../../src/control-plane/api.ts";
import { buildResultBody, compress, decompress } from "../../src/control-plane/compress.ts";
import type { CreateResultRequest } from "../../src/control-plane/schemas.ts";

/**
 * What Go's `gzip.NewWriterLevel(w, gzip.NoCompression)` + `base64.URLEncoding` produce for "hello, world":
 * the header Go writes (no mtime, OS byte 0xff), one stored block, the final empty stored block Go's flate
 * adds on Close, CRC-32 and size. Built byte by byte from Go's stored-block format; gzip output of the default
 * level differs between implementations, so this vector pins the encoding, not the compressor.
 */
const GO_VECTOR = "H4sIAAAAAAAA_wAMAPP_aGVsbG8sIHdvcmxkAQAA__86cqv_DAAAAA==";

describe("compress", () => {
  it("round-trips random bytes of many sizes through decompress", () => {
    for (const size of [0, 1, 2, 3, 4, 5, 63, 64, 65, 1000, 65_537]) {
      const bytes = randomBytes(size);
      expect(decompress(compress(bytes)).equals(bytes)).toBe(true);
    }
  });

  it("encodes strings as UTF-8", () => {
    expect(decompress(compress("héllo ✓")).toString("utf8")).toBe("héllo ✓");
  });

  it("uses the URL alphabet with = padding, like Go's base64.URLEncoding", () => {
    let sawUrlChars = false;
    let sawPadding = false;
    for (let i = 0; i < 200; i++) {
      const out = compress(randomBytes(i));
      expect(out).toMatch(/^[A-Za-z0-9_-]*={0,2}$/);
      expect(out.length % 4).toBe(0);
      sawUrlChars ||= /[-_]/.test(out);
      sawPadding ||= out.endsWith("=");
    }
    expect(sawUrlChars).toBe(true);
    expect(sawPadding).toBe(true);
  });

  it("produces gzip that any gunzip reads, with standard base64 after swapping the alphabet back", () => {
    const out = compress("plan bytes");
    const std = out.replaceAll("-", "+").replaceAll("_", "/");
    expect(gunzipSync(Buffer.from(std, "base64")).toString()).toBe("plan bytes");
  });
});

describe("decompress", () => {
  it("reads the Go vector, padded and unpadded", () => {
    expect(decompress(GO_VECTOR).toString()).toBe("hello, world");
    expect(decompress(GO_VECTOR.replace(/=+$/, "")).toString()).toBe("hello, world");
  });

  it("rejects the standard alphabet and other characters", () => {
    const std = GO_VECTOR.replaceAll("_", "/");
    expect(() => decompress(std)).toThrow(/not base64url/);
    expect(() => decompress("abc$")).toThrow(/not base64url/);
  });

  it("throws on base64url that is not gzip", () => {
    expect(() => decompress("aGVsbG8=")).toThrow();
  });
});

describe("buildResultBody", () => {
  const cases: Array<{ name: string; input: ResultInput; want: CreateResultRequest }> = [
    { name: "a bare success", input: { success: true }, want: { success: true } },
    {
      name: "a bare failure gets error_code 0",
      input: { success: false },
      want: { success: false, error_code: 0 },
    },
    {
      name: "a failure keeps its code and metadata",
      input: { success: false, errorCode: 3, errorMetadata: { step: "execute", message: "boom" } },
      want: { success: false, error_code: 3, error_metadata: { step: "execute", message: "boom" } },
    },
    {
      name: "a success with an explicit code keeps it",
      input: { success: true, errorCode: 7 },
      want: { success: true, error_code: 7 },
    },
  ];
  for (const c of cases) {
    it(`maps ${c.name}`, () => {
      expect(buildResultBody(c.input)).toStrictEqual(c.want);
    });
  }

  it("compresses contents and contentsDisplay into the *_compressed fields", () => {
    const plan = randomBytes(300);
    const body = buildResultBody({
      success: true,
      contents: plan,
      contentsDisplay: '{"format_version":"1.2"}',
    });
    expect(Object.keys(body).sort()).toEqual([
      "contents_compressed",
      "contents_display_compressed",
      "success",
    ]);
    expect(decompress(body.contents_compressed!).equals(plan)).toBe(true);
    expect(decompress(body.contents_display_compressed!).toString()).toBe('{"format_version":"1.2"}');
  });
});
