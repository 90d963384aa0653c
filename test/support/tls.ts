/**
 * A throwaway certificate authority and a server certificate for 127.0.0.1/localhost, made with the
 * machine's `openssl` at test time, so TLS verification stays on in tests that talk HTTPS. Made once per
 * test process (EC P-256 keys: a few tens of milliseconds).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** PEM texts of a CA and of a server certificate it signed. */
export interface TestCertificates {
  caCert: string;
  /** Base64 of caCert, the form kubeconfigs and cluster_info.ca_data carry. */
  caData: string;
  serverCert: string;
  serverKey: string;
}

let cached: TestCertificates | undefined;

/** Returns (making on first use) a CA and a server certificate valid for 127.0.0.1 and localhost. */
export function testCertificates(): TestCertificates {
  if (cached !== undefined) return cached;
  const dir = mkdtempSync(path.join(tmpdir(), "runner-tls-"));
  const run = (args: string[]) =>
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run([
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "2",
      "-subj",
      "/CN=runner-test-ca",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=fake-apiserver"]);
    writeFileSync(
      path.join(dir, "ext.cnf"),
      "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n" +
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    );
    run([
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.crt",
      "-days",
      "2",
      "-extfile",
      "ext.cnf",
    ]);
    const caCert = readFileSync(path.join(dir, "ca.crt"), "utf8");
    cached = {
      caCert,
      caData: Buffer.from(caCert, "utf8").toString("base64"),
      serverCert: readFileSync(path.join(dir, "server.crt"), "utf8"),
      serverKey: readFileSync(path.join(dir, "server.key"), "utf8"),
    };
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
