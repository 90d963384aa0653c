/**
 * A real git server for tests: a loopback HTTP server that hands every request to `git http-backend` (CGI), so
 * isomorphic-git talks the smart HTTP protocol to real git. Optional basic auth answers 401 with a challenge.
 * Repositories are created by the tests with the git CLI (argv only) under `root`.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Options of startGitServer. */
export interface GitServerOptions {
  /** Directory served (GIT_PROJECT_ROOT); repositories are `<root>/<name>.git`. */
  root: string;
  /** When set, every request must carry these basic-auth credentials (else 401). */
  auth?: { username: string; password: string };
}

/** A running git server. */
export interface GitServer {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  /** URL of `<root>/<name>.git`. */
  repoUrl(name: string): string;
  /** Request lines seen (`GET /repo.git/info/refs?service=git-upload-pack 200`), for assertions. */
  requests: string[];
  /** Stops the server and any backend still running. */
  close(): Promise<void>;
}

/** Starts a git smart-HTTP server on 127.0.0.1 (port 0). */
export async function startGitServer(opts: GitServerOptions): Promise<GitServer> {
  const children = new Set<ChildProcess>();
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const record = (status: number) => requests.push(`${req.method} ${req.url} ${status}`);
    if (opts.auth !== undefined && !authorized(req, opts.auth)) {
      record(401);
      res.writeHead(401, { "www-authenticate": 'Basic realm="git"', "content-type": "text/plain" });
      res.end("authentication required\n");
      return;
    }
    serveCgi(req, res, opts.root, children, record);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    repoUrl: (name) => `${url}/${name}.git`,
    requests,
    async close() {
      for (const child of children) child.kill("SIGKILL");
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function authorized(req: IncomingMessage, auth: { username: string; password: string }): boolean {
  const header = req.headers.authorization ?? "";
  if (!header.startsWith("Basic ")) return false;
  const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
  return decoded === `${auth.username}:${auth.password}`;
}

function serveCgi(
  req: IncomingMessage,
  res: ServerResponse,
  root: string,
  children: Set<ChildProcess>,
  record: (status: number) => void,
): void {
  const parsed = new URL(req.url ?? "/", "http://127.0.0.1");
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: "1",
    REQUEST_METHOD: req.method ?? "GET",
    PATH_INFO: decodeURIComponent(parsed.pathname),
    QUERY_STRING: parsed.search.replace(/^\?/, ""),
    CONTENT_TYPE: req.headers["content-type"] ?? "",
    REMOTE_ADDR: "127.0.0.1",
    REMOTE_USER: "tester",
    GIT_CONFIG_NOSYSTEM: "1",
    HOME: root,
  };
  const protocol = req.headers["git-protocol"];
  if (typeof protocol === "string") env.GIT_PROTOCOL = protocol;
  if (req.headers["content-encoding"] !== undefined)
    env.HTTP_CONTENT_ENCODING = req.headers["content-encoding"];
  if (req.headers["content-length"] !== undefined) env.CONTENT_LENGTH = req.headers["content-length"];

  const child = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "pipe"] });
  children.add(child);
  child.on("exit", () => children.delete(child));
  child.on("error", () => {
    record(500);
    if (!res.headersSent) res.writeHead(500).end();
  });
  child.stderr.resume();
  req.pipe(child.stdin);
  child.stdin.on("error", () => undefined);

  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on("data", (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const crlf = head.indexOf("\r\n\r\n");
    const lf = head.indexOf("\n\n");
    const end = crlf !== -1 && (lf === -1 || crlf < lf) ? crlf : lf;
    if (end === -1) return;
    const sepLength = end === crlf ? 4 : 2;
    headersDone = true;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end).toString("latin1").split(/\r?\n/)) {
      const colon = line.indexOf(":");
      if (colon === -1) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    record(status);
    res.writeHead(status, headers);
    res.write(head.subarray(end + sepLength));
  });
  child.stdout.on("end", () => {
    if (!headersDone) {
      record(502);
      res.writeHead(502);
    }
    res.end();
  });
}

/** Runs git with argv in `cwd`, with a fixed identity and no user or system config; returns stdout trimmed. */
export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync("git", args, {
    cwd,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: cwd,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_AUTHOR_NAME: "Test",
      GIT_AUTHOR_EMAIL: "test@example.com",
      GIT_COMMITTER_NAME: "Test",
      GIT_COMMITTER_EMAIL: "test@example.com",
    },
  });
  return stdout.trim();
}

/** Makes `<root>/<name>.git` a bare copy of the work repository `workDir` (all branches and tags). */
export async function publish(workDir: string, root: string, name: string): Promise<string> {
  const bare = `${root}/${name}.git`;
  await git(root, "clone", "--quiet", "--bare", workDir, bare);
  return bare;
}
