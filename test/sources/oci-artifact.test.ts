import { execFile } from "node:child_process";
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rm,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PackError, packDirectory, unpackArchiveFile } from "../../src/sources/oci/artifact.ts";
import { UnsafeArchiveError } from "../../src/sources/oci/tar-extract.ts";
import { BLOCK_BYTES, encodeHeader, endOfArchive, paddingFor } from "../../src/sources/oci/tar-format.ts";

const execFileAsync = promisify(execFile);

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "oci-artifact-"));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function tree(
  root: string,
  files: Record<string, string>,
  order: string[] = Object.keys(files),
): Promise<string> {
  await mkdir(root, { recursive: true });
  for (const name of order) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), files[name] as string);
  }
  return root;
}

const MODULE = {
  "main.tf": 'resource "terraform_data" "x" {}\n',
  "variables.tf": 'variable "name" {}\n',
  "modules/inner/main.tf": "# inner\n",
  "scripts/run.sh": "#!/bin/sh\necho hi\n",
};

describe("reproducible packing", () => {
  it("gives the same digest for the same tree, whatever the file order, times and group/other bits", async () => {
    const first = await tree(path.join(tmp, "a"), MODULE);
    await chmod(path.join(first, "scripts/run.sh"), 0o755);
    const second = await tree(path.join(tmp, "b"), MODULE, Object.keys(MODULE).reverse());
    await chmod(path.join(second, "scripts/run.sh"), 0o700);
    await chmod(path.join(second, "main.tf"), 0o600);
    await utimes(
      path.join(second, "variables.tf"),
      new Date("2001-02-03T04:05:06Z"),
      new Date("2001-02-03T04:05:06Z"),
    );
    const a1 = await packDirectory({ dir: first, outFile: path.join(tmp, "a1.tgz") });
    const a2 = await packDirectory({ dir: first, outFile: path.join(tmp, "a2.tgz") });
    const b = await packDirectory({ dir: second, outFile: path.join(tmp, "b.tgz") });
    expect(a2.digest).toBe(a1.digest);
    expect(b.digest).toBe(a1.digest);
    expect(b.diffId).toBe(a1.diffId);
    expect((await readFile(path.join(tmp, "b.tgz"))).equals(await readFile(path.join(tmp, "a1.tgz")))).toBe(
      true,
    );
    expect(a1.files).toEqual(["main.tf", "modules/inner/main.tf", "scripts/run.sh", "variables.tf"]);
  });

  it("changes the digest when content or the executable bit changes", async () => {
    const dir = await tree(path.join(tmp, "m"), MODULE);
    const before = await packDirectory({ dir, outFile: path.join(tmp, "1.tgz") });
    await chmod(path.join(dir, "scripts/run.sh"), 0o755);
    const executable = await packDirectory({ dir, outFile: path.join(tmp, "2.tgz") });
    await writeFile(path.join(dir, "main.tf"), "# changed\n");
    const changed = await packDirectory({ dir, outFile: path.join(tmp, "3.tgz") });
    expect(new Set([before.digest, executable.digest, changed.digest]).size).toBe(3);
  });

  it("leaves .git out and writes a gzip header without name, time or OS", async () => {
    const dir = await tree(path.join(tmp, "g"), { ...MODULE, ".git/HEAD": "ref: refs/heads/main\n" });
    const packed = await packDirectory({ dir, outFile: path.join(tmp, "g.tgz") });
    expect(packed.files).not.toContain(".git/HEAD");
    const header = (await readFile(path.join(tmp, "g.tgz"))).subarray(0, 10);
    expect([...header]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
  });

  it("round-trips through unpacking, with modes, long paths, a prefix and inside symlinks", async () => {
    const longName = `${"d".repeat(90)}/${"e".repeat(90)}/${"f".repeat(60)}.tf`;
    const dir = await tree(path.join(tmp, "src"), { ...MODULE, [longName]: "long\n", "ünïcode.txt": "u\n" });
    await chmod(path.join(dir, "scripts/run.sh"), 0o755);
    await symlink("modules/inner/main.tf", path.join(dir, "link.tf"));
    const packed = await packDirectory({ dir, outFile: path.join(tmp, "rt.tgz"), prefix: "chart" });
    const out = path.join(tmp, "out");
    await mkdir(out);
    const result = await unpackArchiveFile(path.join(tmp, "rt.tgz"), out);
    expect(result.files.sort()).toEqual(packed.files.map((file) => `chart/${file}`).sort());
    expect(await readFile(path.join(out, "chart", longName), "utf8")).toBe("long\n");
    expect(await readFile(path.join(out, "chart/ünïcode.txt"), "utf8")).toBe("u\n");
    expect((await lstat(path.join(out, "chart/scripts/run.sh"))).mode & 0o777).toBe(0o755);
    expect((await lstat(path.join(out, "chart/main.tf"))).mode & 0o777).toBe(0o644);
    expect(await readlink(path.join(out, "chart/link.tf"))).toBe("modules/inner/main.tf");
    // GNU tar reads what we write.
    const { stdout } = await execFileAsync("tar", ["-tzf", path.join(tmp, "rt.tgz")]);
    expect(stdout.split("\n")).toContain(`chart/${longName}`);
  });

  it("refuses to pack a symlink that leads outside the directory", async () => {
    const dir = await tree(path.join(tmp, "s"), MODULE);
    await symlink("../../etc/passwd", path.join(dir, "escape"));
    await expect(packDirectory({ dir, outFile: path.join(tmp, "s.tgz") })).rejects.toThrow(PackError);
    await expect(packDirectory({ dir, outFile: path.join(tmp, "s.tgz") })).rejects.toThrow(/escape/);
  });
});

/** One crafted tar entry: a valid header with any type flag, name and link, and its content. */
function entry(
  name: string,
  typeflag: string,
  options: { linkname?: string; content?: string } = {},
): Buffer {
  const content = Buffer.from(options.content ?? "");
  const header = encodeHeader({
    path: name,
    type: "file",
    mode: 0o644,
    size: content.length,
    mtimeSeconds: 0,
    ...(options.linkname ? { linkname: options.linkname } : {}),
  });
  const block = header.subarray(header.length - BLOCK_BYTES);
  block.write(name, 0, 100, "utf8"); // exact name, even absolute or with ..
  block.write(typeflag, 156, 1, "latin1");
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "latin1");
  return Buffer.concat([block, content, Buffer.alloc(paddingFor(content.length))]);
}

async function unpackCrafted(...entries: Buffer[]): Promise<{ out: string; error: unknown }> {
  const file = path.join(tmp, `crafted-${Math.random()}.tgz`);
  await writeFile(file, gzipSync(Buffer.concat([...entries, endOfArchive()])));
  const out = path.join(tmp, `out-${Math.random()}`);
  await mkdir(out);
  const error = await unpackArchiveFile(file, out).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { out, error };
}

describe("safe unpacking", () => {
  it.each([
    ["a path climbing out with ..", [entry("../escaped.txt", "0", { content: "x" })], /climbs out/],
    ["a path hidden below a directory", [entry("ok/../../escaped.txt", "0", { content: "x" })], /climbs out/],
    ["an absolute path", [entry("/tmp/escaped.txt", "0", { content: "x" })], /absolute/],
    ["a symlink pointing outside", [entry("link", "2", { linkname: "../../etc" })], /points outside/],
    ["an absolute symlink", [entry("link", "2", { linkname: "/etc/passwd" })], /absolute/],
    [
      "a symlink escaping through another symlink",
      [
        entry("d1/d2/", "5"),
        entry("d1/d2/s", "2", { linkname: ".." }),
        entry("d1/d2/s/t", "2", { linkname: "../.." }),
      ],
      /points outside/,
    ],
    ["a hardlink to a file outside", [entry("hard", "1", { linkname: "../outside.txt" })], /climbs out/],
    ["a character device", [entry("dev", "3")], /device/],
    ["a block device", [entry("dev", "4")], /device/],
    ["a FIFO", [entry("fifo", "6")], /FIFO/],
  ])("refuses %s", async (_what, entries, message) => {
    await writeFile(path.join(tmp, "outside.txt"), "outside\n");
    const { error } = await unpackCrafted(...entries);
    expect(error).toBeInstanceOf(UnsafeArchiveError);
    expect((error as Error).message).toMatch(message);
    await expect(lstat(path.join(tmp, "escaped.txt"))).rejects.toThrow();
  });

  it("never writes through a symlink planted by an earlier entry", async () => {
    const { out, error } = await unpackCrafted(
      entry("sub/", "5"),
      entry("sub/link", "2", { linkname: "." }),
      entry("sub/link/file.txt", "0", { content: "inside" }),
    );
    expect(error).toBeUndefined();
    expect(await readFile(path.join(out, "sub/file.txt"), "utf8")).toBe("inside");
  });

  it("replaces a symlink by a later file entry of the same name instead of writing through it", async () => {
    await writeFile(path.join(tmp, "victim.txt"), "original\n");
    const { out, error } = await unpackCrafted(
      entry("a", "2", { linkname: "b" }),
      entry("b", "0", { content: "b" }),
      entry("a", "0", { content: "new" }),
    );
    expect(error).toBeUndefined();
    expect(await readFile(path.join(out, "a"), "utf8")).toBe("new");
    expect(await readFile(path.join(out, "b"), "utf8")).toBe("b");
  });

  it("reads archives written by GNU tar, including GNU long names", async () => {
    const src = await tree(path.join(tmp, "gnu"), {
      [`${"x".repeat(120)}.txt`]: "long\n",
      "short.txt": "s\n",
    });
    await execFileAsync("tar", ["--format=gnu", "-czf", path.join(tmp, "gnu.tgz"), "-C", src, "."]);
    const out = path.join(tmp, "gnu-out");
    await mkdir(out);
    const result = await unpackArchiveFile(path.join(tmp, "gnu.tgz"), out);
    expect(result.files.sort()).toEqual(["short.txt", `${"x".repeat(120)}.txt`]);
    expect(await readFile(path.join(out, `${"x".repeat(120)}.txt`), "utf8")).toBe("long\n");
  });

  it("stops at the configured size limit", async () => {
    const file = path.join(tmp, "big.tgz");
    await writeFile(
      file,
      gzipSync(Buffer.concat([entry("big.bin", "0", { content: "z".repeat(5000) }), endOfArchive()])),
    );
    const out = path.join(tmp, "big-out");
    await mkdir(out);
    await expect(unpackArchiveFile(file, out, { maxTotalBytes: 1000 })).rejects.toThrow(
      /more than 1000 bytes/,
    );
  });

  it("refuses a truncated archive", async () => {
    const file = path.join(tmp, "trunc.tgz");
    await writeFile(file, gzipSync(entry("file.txt", "0", { content: "y".repeat(2000) }).subarray(0, 900)));
    const out = path.join(tmp, "trunc-out");
    await mkdir(out);
    await expect(unpackArchiveFile(file, out)).rejects.toThrow(/truncated/);
  });
});
