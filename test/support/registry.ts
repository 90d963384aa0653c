/**
 * A real OCI registry for tests: Debian's `docker-registry` (CNCF distribution 2.8) started on
 * 127.0.0.1:<free port> with a temporary config and filesystem storage, optionally behind htpasswd (Basic)
 * or token (Bearer, with a loopback token service signing ES256 JWTs with a throwaway openssl certificate)
 * authentication; plus a proxy that tampers with blob downloads. Everything is stopped and removed by
 * `stop()`. Install the registry with `apt-get install -y docker-registry`.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes, randomUUID, sign } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

/** The registry binary the Debian package installs. */
export const REGISTRY_BINARY = "/usr/bin/docker-registry";
/** Username accepted by registries started with auth. */
export const TEST_REGISTRY_USER = "tester";
/** Its password. */
export const TEST_REGISTRY_PASSWORD = "registry-test-password";
/**
 * The htpasswd line for TEST_REGISTRY_USER: a bcrypt hash (cost 4, so tests stay fast) of
 * TEST_REGISTRY_PASSWORD, generated once with libxcrypt's bcrypt (`crypt(3)`, `$2b$`) and kept as a fixture,
 * so tests need neither apache2-utils nor a bcrypt library.
 */
export const TEST_HTPASSWD_LINE = `${TEST_REGISTRY_USER}:$2b$04$Hpm2HU2UjeWrW05e4cssnOFtopuWSlagzEgg10rDwaHQrdg.guZBW`;
/** Refresh token the test token service accepts (POST grant_type=refresh_token). */
export const TEST_REFRESH_TOKEN = "test-refresh-token-0123456789";

/** A running registry. */
export interface TestRegistry {
  /** `127.0.0.1:<port>`. */
  host: string;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The token service, when started with `auth: "token"`. */
  tokenService?: TestTokenService;
  /** Stops the registry (and token service) and removes its storage. */
  stop(): Promise<void>;
}

/** Options of startRegistry. */
export interface StartRegistryOptions {
  /** `htpasswd`: Basic auth with TEST_REGISTRY_USER; `token`: Bearer tokens from a loopback token service. */
  auth?: "none" | "htpasswd" | "token";
}

/** Starts a registry (see the module comment). */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  if (!existsSync(REGISTRY_BINARY)) {
    throw new Error(`${REGISTRY_BINARY} is missing: install it with "apt-get install -y docker-registry"`);
  }
  const dir = await mkdtemp(path.join(tmpdir(), "runner-registry-"));
  let tokenService: TestTokenService | undefined;
  try {
    let authYaml = "";
    if (options.auth === "htpasswd") {
      await writeFile(path.join(dir, "htpasswd"), `${TEST_HTPASSWD_LINE}\n`);
      authYaml = `auth:\n  htpasswd:\n    realm: runner-test\n    path: ${path.join(dir, "htpasswd")}\n`;
    } else if (options.auth === "token") {
      tokenService = await startTokenService(dir);
      authYaml = [
        "auth:",
        "  token:",
        `    realm: ${tokenService.realm}`,
        `    service: ${tokenService.service}`,
        `    issuer: ${tokenService.issuer}`,
        `    rootcertbundle: ${tokenService.certFile}`,
        "",
      ].join("\n");
    }
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const config = [
        "version: 0.1",
        "log:",
        "  level: error",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        `    rootdirectory: ${path.join(dir, "data")}`,
        "  delete:",
        "    enabled: true",
        "http:",
        `  addr: 127.0.0.1:${port}`,
        `  secret: ${randomUUID()}`,
        authYaml,
      ].join("\n");
      const configFile = path.join(dir, "config.yml");
      await writeFile(configFile, config);
      const child = spawn(REGISTRY_BINARY, ["serve", configFile], { stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout?.on("data", (chunk) => (output += String(chunk)));
      child.stderr?.on("data", (chunk) => (output += String(chunk)));
      const url = `http://127.0.0.1:${port}`;
      const ready = await waitReady(child, url);
      if (!ready) {
        await stopChild(child);
        if (attempt < 3 && output.includes("address already in use")) continue;
        throw new Error(`docker-registry did not start: ${output.trim().slice(-500)}`);
      }
      const service = tokenService;
      return {
        host: `127.0.0.1:${port}`,
        url,
        ...(service ? { tokenService: service } : {}),
        async stop() {
          await stopChild(child);
          await service?.stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (error) {
    await tokenService?.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function waitReady(child: ChildProcess, url: string): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      const res = await fetch(`${url}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
  await exited;
  clearTimeout(timer);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A loopback token service for `auth: token`. */
export interface TestTokenService {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  /** Every token request: method, the scopes asked for, and how the caller authenticated. */
  requests: Array<{ method: string; scopes: string[]; auth: "basic" | "refresh-token" | "anonymous" }>;
  stop(): Promise<void>;
}

async function startTokenService(dir: string): Promise<TestTokenService> {
  const keyFile = path.join(dir, "token.key");
  const certFile = path.join(dir, "token.crt");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "2",
      "-subj",
      "/CN=runner-test-token-issuer",
    ],
    { stdio: "ignore" },
  );
  const key = readFileSync(keyFile, "utf8");
  const certDer = Buffer.from(
    readFileSync(certFile, "utf8")
      .replace(/-----(BEGIN|END) CERTIFICATE-----/g, "")
      .replace(/\s+/g, ""),
    "base64",
  );
  const service = "runner-test-registry";
  const issuer = "runner-test-issuer";
  const requests: TestTokenService["requests"] = [];

  const issue = (scopes: string[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.map((scope) => {
      const parts = scope.split(":");
      return { type: parts[0], name: parts.slice(1, -1).join(":"), actions: (parts.at(-1) ?? "").split(",") };
    });
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const header = encode({ typ: "JWT", alg: "ES256", x5c: [certDer.toString("base64")] });
    const claims = encode({
      iss: issuer,
      sub: TEST_REGISTRY_USER,
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString("hex"),
      access,
    });
    const signature = sign("sha256", Buffer.from(`${header}.${claims}`), {
      key,
      dsaEncoding: "ieee-p1363",
    }).toString("base64url");
    return `${header}.${claims}.${signature}`;
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://token");
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.method === "POST") {
        const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
        const scopes = (form.get("scope") ?? "").split(" ").filter((scope) => scope !== "");
        requests.push({ method: "POST", scopes, auth: "refresh-token" });
        if (form.get("grant_type") !== "refresh_token" || form.get("refresh_token") !== TEST_REFRESH_TOKEN) {
          return send(401, { errors: [{ code: "UNAUTHORIZED", message: "bad refresh token" }] });
        }
        return send(200, { access_token: issue(scopes), expires_in: 300 });
      }
      const scopes = url.searchParams
        .getAll("scope")
        .flatMap((scope) => scope.split(" "))
        .filter((scope) => scope !== "");
      const authorization = req.headers.authorization;
      if (authorization === undefined) {
        requests.push({ method: "GET", scopes, auth: "anonymous" });
        return send(401, { errors: [{ code: "UNAUTHORIZED", message: "credentials required" }] });
      }
      requests.push({ method: "GET", scopes, auth: "basic" });
      const expected = `Basic ${Buffer.from(`${TEST_REGISTRY_USER}:${TEST_REGISTRY_PASSWORD}`).toString("base64")}`;
      if (authorization !== expected)
        return send(401, { errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] });
      return send(200, { token: issue(scopes), expires_in: 300 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A proxy in front of a registry. */
export interface TamperingProxy {
  host: string;
  url: string;
  /** Paths of the responses that were altered. */
  tampered: string[];
  stop(): Promise<void>;
}

/**
 * Starts a proxy forwarding to `target` (`http://host:port`) that flips the last byte of every successful GET
 * body for which `shouldTamper(path)` says so (default: blob downloads, `/v2/…/blobs/…`).
 */
export async function startTamperingProxy(
  target: string,
  shouldTamper: (path: string) => boolean = (urlPath) => /\/blobs\//.test(urlPath),
): Promise<TamperingProxy> {
  const targetUrl = new URL(target);
  const tampered: string[] = [];
  const server = createServer((req, res) => {
    const upstream = httpRequest(
      {
        host: targetUrl.hostname,
        port: targetUrl.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: targetUrl.host },
      },
      (up) => {
        const chunks: Buffer[] = [];
        up.on("data", (chunk: Buffer) => chunks.push(chunk));
        up.on("end", () => {
          let body = Buffer.concat(chunks);
          const urlPath = req.url ?? "";
          if (req.method === "GET" && up.statusCode === 200 && body.length > 0 && shouldTamper(urlPath)) {
            body = Buffer.from(body);
            body[body.length - 1] = (body[body.length - 1] as number) ^ 0xff;
            tampered.push(urlPath);
          }
          const headers = { ...up.headers };
          if (typeof headers.location === "string")
            headers.location = headers.location.replace(
              targetUrl.host,
              server.address() ? `127.0.0.1:${(server.address() as AddressInfo).port}` : targetUrl.host,
            );
          res.writeHead(up.statusCode ?? 502, headers);
          res.end(body);
        });
      },
    );
    upstream.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    tampered,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The part of a registry client pushTestImage needs (structurally the runner's RegistryClient). */
interface PushingClient {
  pushBlob(repository: string, bytes: Uint8Array): Promise<{ digest: string; size: number }>;
  putManifest(
    repository: string,
    reference: string,
    manifest: { bytes: Uint8Array; mediaType: string },
  ): Promise<string>;
}

/** A pushed test image. */
export interface PushedTestImage {
  digest: string;
  size: number;
  mediaType: string;
  /** Digests of its config and layer blobs. */
  blobs: string[];
}

/** Pushes a tiny single-platform OCI image (one layer of `content`) to `repository`, tagged `reference`. */
export async function pushTestImage(
  client: PushingClient,
  repository: string,
  reference: string,
  options: { os?: string; architecture?: string; content?: string } = {},
): Promise<PushedTestImage> {
  const os = options.os ?? "linux";
  const architecture = options.architecture ?? "amd64";
  const layer = await client.pushBlob(
    repository,
    Buffer.from(options.content ?? `layer of ${os}/${architecture}`),
  );
  const config = await client.pushBlob(
    repository,
    Buffer.from(JSON.stringify({ architecture, os, rootfs: { type: "layers", diff_ids: [layer.digest] } })),
  );
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: config.digest,
      size: config.size,
    },
    layers: [
      { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layer.digest, size: layer.size },
    ],
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = await client.putManifest(repository, reference, { bytes, mediaType: manifest.mediaType });
  return { digest, size: bytes.length, mediaType: manifest.mediaType, blobs: [config.digest, layer.digest] };
}

/** Pushes a two-platform OCI index (linux/amd64 and linux/arm64, each its own tiny image) tagged `tag`. */
export async function pushTestIndex(
  client: PushingClient,
  repository: string,
  tag: string,
): Promise<PushedTestImage & { children: PushedTestImage[] }> {
  const platforms = [
    { os: "linux", architecture: "amd64" },
    { os: "linux", architecture: "arm64" },
  ];
  const children: PushedTestImage[] = [];
  for (const platform of platforms) {
    const image = await pushTestImage(client, repository, `${tag}-${platform.architecture}`, platform);
    children.push(image);
  }
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: children.map((child, i) => ({
      mediaType: child.mediaType,
      digest: child.digest,
      size: child.size,
      platform: platforms[i],
    })),
  };
  const bytes = Buffer.from(JSON.stringify(index));
  const digest = await client.putManifest(repository, tag, { bytes, mediaType: index.mediaType });
  return {
    digest,
    size: bytes.length,
    mediaType: index.mediaType,
    blobs: children.flatMap((child) => child.blobs),
    children,
  };
}
