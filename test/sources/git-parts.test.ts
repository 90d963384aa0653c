import { describe, expect, it } from "vitest";
import { classifyGitError } from "../../src/sources/git-errors.ts";
import { type AdvertisedRef, chooseRef } from "../../src/sources/git-refs.ts";
import { parseGitmodules, resolveSubmoduleUrl } from "../../src/sources/git-submodules.ts";
import { credentialsOf, displayUrl, parseRepoUrl, sameOrigin } from "../../src/sources/git-url.ts";

const A = "a".repeat(40);
const B = "b".repeat(40);
const C = "c".repeat(40);
const T = "7".repeat(40);
const REFS: AdvertisedRef[] = [
  { ref: "HEAD", oid: A, target: "refs/heads/main" },
  { ref: "refs/heads/main", oid: A },
  { ref: "refs/heads/release", oid: B },
  { ref: "refs/tags/release", oid: T, peeled: C },
  { ref: "refs/tags/v1", oid: B },
  { ref: "refs/heads/cafe", oid: C },
];

describe("chooseRef", () => {
  it.each([
    ["", { kind: "ref", name: "HEAD", oid: A }],
    ["HEAD", { kind: "ref", name: "HEAD", oid: A }],
    ["main", { kind: "ref", name: "refs/heads/main", oid: A }],
    ["refs/heads/release", { kind: "ref", name: "refs/heads/release", oid: B }],
    ["heads/release", { kind: "ref", name: "refs/heads/release", oid: B }],
    // A tag wins over a branch of the same name, as in git rev-parse.
    ["release", { kind: "ref", name: "refs/tags/release", oid: T }],
    ["v1", { kind: "ref", name: "refs/tags/v1", oid: B }],
    // A branch whose name looks like hex is still a branch.
    ["cafe", { kind: "ref", name: "refs/heads/cafe", oid: C }],
    // A commit a ref points at is fetched through that ref (peeled tags count).
    ["aaaaaaa", { kind: "ref", name: "refs/heads/main", oid: A }],
    [C, { kind: "ref", name: "refs/tags/release", oid: T }],
    // B is the tip of a branch and a tag: one commit, so the first ref is fine.
    ["bbbbbbbb", { kind: "ref", name: "refs/heads/release", oid: B }],
    // A commit no ref points at: fetch everything.
    ["1234abcd", { kind: "commit", prefix: "1234abcd" }],
    ["ABCDEF12", { kind: "commit", prefix: "abcdef12" }],
  ])("resolves %j", (ref, expected) => {
    expect(chooseRef(ref, REFS)).toEqual(expected);
  });

  it.each(["no-such-branch", "abc", "feature/x", "refs/heads/nope"])("finds nothing for %j", (ref) => {
    expect(chooseRef(ref, REFS)).toBeUndefined();
  });
});

describe("repository URLs", () => {
  it("takes credentials out of the URL", () => {
    expect(parseRepoUrl("https://user:p%40ss@git.example.com/org/repo.git")).toEqual({
      url: "https://git.example.com/org/repo.git",
      display: "https://git.example.com/org/repo.git",
      credentials: { username: "user", password: "p@ss" },
    });
  });

  it("shows no query or fragment", () => {
    expect(parseRepoUrl("https://h.example/r.git?token=abc#x").display).toBe("https://h.example/r.git");
  });

  it.each([
    ["git://h.example/r.git", "uses git"],
    ["ssh://git@h.example/r.git", "uses ssh"],
    ["not a url", "is not a valid URL"],
  ])("refuses %j", (url, message) => {
    expect(() => parseRepoUrl(url)).toThrow(message);
  });

  it.each([
    ["https://u:secret@h.example/r.git?x=1", "https://h.example/r.git"],
    ["git@github.com:org/repo.git", "github.com:org/repo.git"],
    ["ssh://u:secret@h.example/r.git", "ssh://h.example/r.git"],
  ])("displays %j without credentials", (raw, shown) => {
    expect(displayUrl(raw)).toBe(shown);
  });

  it("sends tokens as x-access-token basic auth", () => {
    expect(credentialsOf({ token: "t0k" })).toEqual({ username: "x-access-token", password: "t0k" });
    expect(credentialsOf({ username: "u", password: "p" })).toEqual({ username: "u", password: "p" });
  });

  it("compares origins", () => {
    expect(sameOrigin("https://h.example/a.git", "https://h.example/b/c.git")).toBe(true);
    expect(sameOrigin("https://h.example/a.git", "https://other.example/a.git")).toBe(false);
    expect(sameOrigin("https://h.example/a.git", "http://h.example/a.git")).toBe(false);
  });
});

describe(".gitmodules", () => {
  it("parses sections, quotes and comments", () => {
    const text = [
      "# comment",
      '[submodule "lib"]',
      "\tpath = vendor/lib",
      "\turl = ../lib.git ; trailing comment",
      '[submodule "quoted name"]',
      '  path = "with space"',
      "  URL = https://h.example/q.git",
      "[core]",
      "  path = ignored",
      '[submodule "incomplete"]',
      "  path = x",
    ].join("\n");
    expect(parseGitmodules(text)).toEqual([
      { name: "lib", path: "vendor/lib", url: "../lib.git" },
      { name: "quoted name", path: "with space", url: "https://h.example/q.git" },
    ]);
  });

  it.each([
    ["https://h.example/org/app.git", "../lib.git", "https://h.example/org/lib.git"],
    ["https://h.example/org/app.git", "./lib.git", "https://h.example/org/app.git/lib.git"],
    ["https://h.example/org/app", "../../x/lib", "https://h.example/x/lib"],
    ["https://h.example/org/app.git", "https://o.example/lib.git", "https://o.example/lib.git"],
  ])("resolves submodule URL relative to %s: %s", (base, url, expected) => {
    expect(resolveSubmoduleUrl(base, url)).toBe(expected);
  });
});

describe("classifyGitError", () => {
  const http = (statusCode: number) => ({ code: "HttpError", data: { statusCode, statusMessage: "x" } });
  it.each([
    [http(401), false, "AUTH_FAILED", "requires credentials"],
    [http(401), true, "AUTH_FAILED", "refused"],
    [http(403), true, "AUTH_FAILED", "refused"],
    [http(404), false, "REPOSITORY_NOT_FOUND", "HTTP 404"],
    [http(500), false, "FAILED", "HTTP 500"],
    [Object.assign(new Error("connect"), { code: "ECONNREFUSED" }), false, "UNREACHABLE", "ECONNREFUSED"],
    [Object.assign(new Error("dns"), { code: "ENOTFOUND" }), false, "UNREACHABLE", "ENOTFOUND"],
    [new Error("Request timed out"), false, "UNREACHABLE", "in time"],
    [new Error("odd"), false, "FAILED", "odd"],
  ])("classifies %j", (err, authGiven, code, reason) => {
    const out = classifyGitError(err, { authGiven, aborted: false });
    expect(out.code).toBe(code);
    expect(out.reason).toContain(reason);
  });

  it("reports an abort as CANCELED whatever was thrown", () => {
    expect(classifyGitError(new Error("socket hang up"), { authGiven: false, aborted: true }).code).toBe(
      "CANCELED",
    );
  });
});
