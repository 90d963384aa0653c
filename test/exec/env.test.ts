import { describe, expect, it } from "vitest";
import { baseEnv } from "../../src/exec/env.ts";

describe("baseEnv", () => {
  it("keeps only the allowlisted variables", () => {
    const env = baseEnv({
      PATH: "/usr/bin",
      HOME: "/home/runner",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      TZ: "UTC",
      TMPDIR: "/tmp",
      USER: "runner",
      SHELL: "/bin/sh",
      HTTPS_PROXY: "http://proxy:3128",
      no_proxy: "localhost",
      SSL_CERT_FILE: "/etc/ssl/cert.pem",
      NODE_EXTRA_CA_CERTS: "/etc/ssl/extra.pem",
      RUNNER_API_TOKEN: "secret",
      RUNNER_ID: "runner-1",
      AWS_SECRET_ACCESS_KEY: "secret",
      NODE_OPTIONS: "--inspect",
    });
    expect(env).toEqual({
      PATH: "/usr/bin",
      HOME: "/home/runner",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      TZ: "UTC",
      TMPDIR: "/tmp",
      USER: "runner",
      SHELL: "/bin/sh",
      HTTPS_PROXY: "http://proxy:3128",
      no_proxy: "localhost",
      SSL_CERT_FILE: "/etc/ssl/cert.pem",
      NODE_EXTRA_CA_CERTS: "/etc/ssl/extra.pem",
    });
  });

  it("drops unset variables and returns a copy", () => {
    const source: Record<string, string | undefined> = { PATH: "/bin", HOME: undefined };
    const env = baseEnv(source);
    expect(env).toEqual({ PATH: "/bin" });
    env.PATH = "/changed";
    expect(source.PATH).toBe("/bin");
  });
});
