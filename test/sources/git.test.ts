import { mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchGitSource, GitSourceError } from "../../src/sources/git.ts";
import { type GitServer, git, publish, startGitServer } from "../support/git-server.ts";
import { rejectionOf } from "../support/rejection.ts";

let tmp: string;
let served: string;
let open: GitServer;
let locked: GitServer;
const commits: Record<string, string> = {};
let target = 0;
const AUTH = { username: "deployer", password: "s3cret-pass-word" };

/** A fresh target directory for one fetch. */
function nextDir(): string {
  target += 1;
  return path.join(tmp, "checkouts", String(target));
}

const rejection = (promise: Promise<unknown>) => rejectionOf(promise, GitSourceError);

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "git-source-"));
  served = path.join(tmp, "served");
  await mkdir(served);

  // lib: two commits; the app records the first, so fetching it needs the full history.
  const lib = path.join(tmp, "lib");
  await mkdir(lib);
  await git(lib, "init", "--quiet", "--initial-branch=main");
  await writeFile(path.join(lib, "lib.txt"), "lib v1\n");
  await git(lib, "add", ".");
  await git(lib, "commit", "--quiet", "-m", "lib one");
  commits.lib1 = await git(lib, "rev-parse", "HEAD");
  await writeFile(path.join(lib, "lib.txt"), "lib v2\n");
  await git(lib, "commit", "--quiet", "-am", "lib two");
  await publish(lib, served, "lib");

  const app = path.join(tmp, "app");
  await mkdir(path.join(app, "sub"), { recursive: true });
  await git(app, "init", "--quiet", "--initial-branch=main");
  await writeFile(path.join(app, "README"), "version 1\n");
  await writeFile(path.join(app, "sub", "app.txt"), "in sub\n");
  await git(app, "add", ".");
  await git(app, "commit", "--quiet", "-m", "one");
  commits.one = await git(app, "rev-parse", "HEAD");
  await git(app, "tag", "-a", "v1", "-m", "release 1");
  await writeFile(path.join(app, "README"), "version 2\n");
  await git(app, "commit", "--quiet", "-am", "two");
  commits.two = await git(app, "rev-parse", "HEAD");
  await writeFile(path.join(app, "README"), "version 3\n");
  await git(app, "commit", "--quiet", "-am", "three");
  commits.three = await git(app, "rev-parse", "HEAD");
  await git(app, "tag", "light");

  await git(app, "checkout", "--quiet", "-b", "feature", commits.two!);
  await writeFile(path.join(app, "feature.txt"), "feature\n");
  await git(app, "add", ".");
  await git(app, "commit", "--quiet", "-m", "feature");
  commits.feature = await git(app, "rev-parse", "HEAD");

  await git(app, "checkout", "--quiet", "-b", "links", commits.three!);
  await symlink("../../../../../../../../etc/hostname", path.join(app, "escape"));
  await symlink("/etc/passwd", path.join(app, "absolute"));
  await symlink("sub/app.txt", path.join(app, "inside"));
  await symlink("../../outside", path.join(app, "sub", "climb"));
  await git(app, "add", ".");
  await git(app, "commit", "--quiet", "-m", "links");

  await git(app, "checkout", "--quiet", "-b", "with-sub", commits.three!);
  await writeFile(
    path.join(app, ".gitmodules"),
    '[submodule "lib"]\n\tpath = vendor/lib\n\turl = ../lib.git\n',
  );
  await git(app, "update-index", "--add", "--cacheinfo", `160000,${commits.lib1},vendor/lib`);
  await git(app, "add", ".gitmodules");
  await git(app, "commit", "--quiet", "-m", "submodule");
  await git(app, "checkout", "--quiet", "main");
  await publish(app, served, "app");

  open = await startGitServer({ root: served });
  locked = await startGitServer({ root: served, auth: AUTH });
});

afterAll(async () => {
  await open?.close();
  await locked?.close();
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
});

describe("fetchGitSource over a real git http-backend", () => {
  it("checks out the default branch when the ref is empty and records its commit", async () => {
    const result = await fetchGitSource({ url: open.repoUrl("app"), ref: "", dir: nextDir() });
    expect(result.commit).toBe(commits.three);
    expect(await readFile(path.join(result.dir, "README"), "utf8")).toBe("version 3\n");
  });

  it("checks out a branch by name", async () => {
    const result = await fetchGitSource({ url: open.repoUrl("app"), ref: "feature", dir: nextDir() });
    expect(result.commit).toBe(commits.feature);
    expect(await readFile(path.join(result.dir, "feature.txt"), "utf8")).toBe("feature\n");
  });

  it("checks out an annotated tag at the commit it points to", async () => {
    const result = await fetchGitSource({ url: open.repoUrl("app"), ref: "v1", dir: nextDir() });
    expect(result.commit).toBe(commits.one);
    expect(await readFile(path.join(result.dir, "README"), "utf8")).toBe("version 1\n");
  });

  it("checks out a lightweight tag", async () => {
    const result = await fetchGitSource({ url: open.repoUrl("app"), ref: "light", dir: nextDir() });
    expect(result.commit).toBe(commits.three);
  });

  it("checks out a full commit id that no ref points at", async () => {
    const result = await fetchGitSource({ url: open.repoUrl("app"), ref: commits.two!, dir: nextDir() });
    expect(result.commit).toBe(commits.two);
    expect(await readFile(path.join(result.dir, "README"), "utf8")).toBe("version 2\n");
  });

  it("checks out a short commit id and returns the full one", async () => {
    const result = await fetchGitSource({
      url: open.repoUrl("app"),
      ref: commits.two!.slice(0, 8),
      dir: nextDir(),
    });
    expect(result.commit).toBe(commits.two);
  });

  it("returns the directory named by path inside the checkout", async () => {
    const result = await fetchGitSource({
      url: open.repoUrl("app"),
      ref: "main",
      path: "sub",
      dir: nextDir(),
    });
    expect(result.dir).toBe(path.join(result.checkoutDir, "sub"));
    expect(await readFile(path.join(result.dir, "app.txt"), "utf8")).toBe("in sub\n");
  });

  it("rejects a path that climbs out of the checkout", async () => {
    const err = await rejection(
      fetchGitSource({ url: open.repoUrl("app"), ref: "main", path: "../..", dir: nextDir() }),
    );
    expect(err.code).toBe("UNSAFE_PATH");
  });

  it("rejects a path that is not a directory of the repository", async () => {
    const err = await rejection(
      fetchGitSource({ url: open.repoUrl("app"), ref: "main", path: "nope", dir: nextDir() }),
    );
    expect(err.code).toBe("INVALID_SOURCE");
    expect(err.message).toContain('"nope"');
  });

  it("fails a missing ref with a message naming the repository and the ref", async () => {
    const err = await rejection(
      fetchGitSource({ url: open.repoUrl("app"), ref: "no-such-branch", dir: nextDir() }),
    );
    expect(err.code).toBe("REF_NOT_FOUND");
    expect(err.message).toContain(open.repoUrl("app"));
    expect(err.message).toContain('"no-such-branch"');
  });

  it("fails a commit id that does not exist", async () => {
    const err = await rejection(
      fetchGitSource({ url: open.repoUrl("app"), ref: "deadbeefdead", dir: nextDir() }),
    );
    expect(err.code).toBe("REF_NOT_FOUND");
  });

  it("fails a repository the server does not have", async () => {
    const err = await rejection(
      fetchGitSource({ url: open.repoUrl("missing"), ref: "main", dir: nextDir() }),
    );
    expect(err.code).toBe("REPOSITORY_NOT_FOUND");
    expect(err.message).toContain(open.repoUrl("missing"));
  });

  it("fails an unreachable host (a closed loopback port)", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const err = await rejection(
      fetchGitSource({ url: `http://127.0.0.1:${port}/app.git`, ref: "main", dir: nextDir() }),
    );
    expect(err.code).toBe("UNREACHABLE");
    expect(err.message).toContain(`127.0.0.1:${port}/app.git`);
    expect(err.message).toContain('"main"');
  });

  it("refuses non-http URLs", async () => {
    const err = await rejection(
      fetchGitSource({ url: "git://127.0.0.1/app.git", ref: "main", dir: nextDir() }),
    );
    expect(err.code).toBe("INVALID_SOURCE");
  });

  it("refuses a target directory that is not empty", async () => {
    const dir = nextDir();
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "left-over"), "x");
    const err = await rejection(fetchGitSource({ url: open.repoUrl("app"), ref: "main", dir }));
    expect(err.code).toBe("INVALID_SOURCE");
  });

  it("stops at once when the signal already aborted", async () => {
    const err = await rejection(
      fetchGitSource({ url: open.repoUrl("app"), ref: "main", dir: nextDir(), signal: AbortSignal.abort() }),
    );
    expect(err.code).toBe("CANCELED");
  });
});

describe("credentials", () => {
  it("authenticates with basic auth given as options, and keeps them out of .git/config", async () => {
    const result = await fetchGitSource({
      url: locked.repoUrl("app"),
      ref: "main",
      auth: AUTH,
      dir: nextDir(),
    });
    expect(result.commit).toBe(commits.three);
    const config = await readFile(path.join(result.checkoutDir, ".git", "config"), "utf8");
    expect(config).not.toContain(AUTH.password);
  });

  it("authenticates with credentials in the URL without writing them to disk", async () => {
    const url = locked.repoUrl("app").replace("http://", `http://${AUTH.username}:${AUTH.password}@`);
    const result = await fetchGitSource({ url, ref: "v1", dir: nextDir() });
    expect(result.commit).toBe(commits.one);
    const config = await readFile(path.join(result.checkoutDir, ".git", "config"), "utf8");
    expect(config).not.toContain(AUTH.password);
  });

  it("fails with AUTH_FAILED when the server wants credentials and none are given", async () => {
    const err = await rejection(fetchGitSource({ url: locked.repoUrl("app"), ref: "main", dir: nextDir() }));
    expect(err.code).toBe("AUTH_FAILED");
    expect(err.message).toContain("requires credentials");
    expect(err.message).toContain(locked.repoUrl("app"));
  });

  it("fails with AUTH_FAILED on wrong credentials and never shows them", async () => {
    const wrong = "wrong-password-123";
    const url = locked.repoUrl("app").replace("http://", `http://${AUTH.username}:${wrong}@`);
    const err = await rejection(fetchGitSource({ url, ref: "main", dir: nextDir() }));
    expect(err.code).toBe("AUTH_FAILED");
    expect(err.message).toContain("refused");
    expect(err.message).not.toContain(wrong);
    expect(err.message).not.toContain(AUTH.username);
  });

  it("sends a token as basic auth x-access-token:<token>", async () => {
    const tokenServer = await startGitServer({
      root: served,
      auth: { username: "x-access-token", password: "tok-123456" },
    });
    try {
      const result = await fetchGitSource({
        url: tokenServer.repoUrl("app"),
        ref: "main",
        auth: { token: "tok-123456" },
        dir: nextDir(),
      });
      expect(result.commit).toBe(commits.three);
    } finally {
      await tokenServer.close();
    }
  });
});

describe("symlinks and submodules", () => {
  it("removes symlinks that point outside the checkout and keeps those inside", async () => {
    const warnings: Array<Record<string, unknown> | undefined> = [];
    const log = {
      info: () => undefined,
      warn: (_msg: string, fields?: Record<string, unknown>) => warnings.push(fields),
    };
    const result = await fetchGitSource({ url: open.repoUrl("app"), ref: "links", dir: nextDir(), log });
    expect(result.removedLinks.sort()).toEqual(["absolute", "escape", path.join("sub", "climb")]);
    expect(await readlink(path.join(result.dir, "inside"))).toBe("sub/app.txt");
    expect(await readFile(path.join(result.dir, "inside"), "utf8")).toBe("in sub\n");
    await expect(readlink(path.join(result.dir, "escape"))).rejects.toMatchObject({ code: "ENOENT" });
    expect(warnings).toHaveLength(3);
  });

  it("fetches submodules at the commit the superproject records when asked", async () => {
    const result = await fetchGitSource({
      url: open.repoUrl("app"),
      ref: "with-sub",
      recurseSubmodules: true,
      dir: nextDir(),
    });
    expect(await readFile(path.join(result.dir, "vendor", "lib", "lib.txt"), "utf8")).toBe("lib v1\n");
  });

  it("passes same-origin credentials on to submodules", async () => {
    const result = await fetchGitSource({
      url: locked.repoUrl("app"),
      ref: "with-sub",
      recurseSubmodules: true,
      auth: AUTH,
      dir: nextDir(),
    });
    expect(await readFile(path.join(result.dir, "vendor", "lib", "lib.txt"), "utf8")).toBe("lib v1\n");
  });

  it("leaves submodule directories empty when not asked to recurse", async () => {
    const result = await fetchGitSource({ url: open.repoUrl("app"), ref: "with-sub", dir: nextDir() });
    await expect(readFile(path.join(result.dir, "vendor", "lib", "lib.txt"), "utf8")).rejects.toMatchObject({
      code: "ENOENT",
    });
  });
});
