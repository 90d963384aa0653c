import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKubeClient } from "../../src/kube/client.ts";
import { normalizeCaData, resolveClusterAccess } from "../../src/kube/cluster-access.ts";
import { ClusterInfo } from "../../src/kube/cluster-info.ts";
import { EKS_TOKEN_PREFIX } from "../../src/kube/eks-token.ts";
import { type FakeApiServer, startFakeApiServer } from "../support/fake-apiserver.ts";

let api: FakeApiServer;
let tmp: string;

beforeAll(async () => {
  api = await startFakeApiServer({ token: "good-token-123" });
  tmp = mkdtempSync(path.join(tmpdir(), "cluster-access-"));
});
afterAll(async () => {
  await api.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Lists namespaces through the access, proving credentials and TLS work. */
async function listNamespaces(info: unknown, deps = {}) {
  const access = await resolveClusterAccess(ClusterInfo.parse(info), deps);
  const client = createKubeClient(access);
  try {
    return { access, items: (await client.list("v1", "Namespace", {})).items };
  } finally {
    await client.close();
  }
}

describe("cluster access", () => {
  it("uses an inline kubeconfig with TLS verified against its CA", async () => {
    api.seed({ apiVersion: "v1", kind: "Namespace", metadata: { name: "team-a" } });
    const { access, items } = await listNamespaces({ kube_config: api.kubeconfig({ namespace: "team-a" }) });
    expect(access.mode).toBe("kubeconfig");
    expect(access.defaultNamespace).toBe("team-a");
    expect(items.map((n) => n.metadata.name)).toContain("team-a");
    expect(access.secrets()).toEqual(["good-token-123"]);
  });

  it("uses endpoint, ca_data and token", async () => {
    const { access, items } = await listNamespaces({
      endpoint: api.url,
      ca_data: api.caData,
      token: "good-token-123",
    });
    expect(access.mode).toBe("token");
    expect(items.length).toBeGreaterThan(0);
    expect(api.requests.at(-1)?.path).toBe("/api/v1/namespaces");
  });

  it("keeps TLS verification on: a server whose CA is not given is refused", async () => {
    await expect(listNamespaces({ endpoint: api.url, token: "good-token-123" })).rejects.toMatchObject({
      code: "NETWORK",
      message: expect.stringMatching(
        /cannot reach the Kubernetes API server.*(certificate|self.signed|issuer)/i,
      ),
    });
  });

  it("refuses plain http unless the kubeconfig itself skips TLS verification", async () => {
    const kubeconfig = api.kubeconfig().replace(api.url, api.url.replace("https:", "http:"));
    await expect(listNamespaces({ kube_config: kubeconfig })).rejects.toThrow(/HTTP protocol is not allowed/);
  });

  it("reports a refused token as UNAUTHORIZED without echoing the token", async () => {
    const err = await listNamespaces({
      endpoint: api.url,
      ca_data: api.caData,
      token: "wrong-token-456",
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "UNAUTHORIZED", status: 401 });
    expect(String((err as Error).message)).not.toContain("wrong-token-456");
  });

  it("accepts ca_data as PEM as well as base64 of PEM, and rejects anything else", () => {
    const pem = Buffer.from(api.caData, "base64").toString("utf8");
    expect(normalizeCaData(pem)).toBe(api.caData);
    expect(normalizeCaData(api.caData)).toBe(api.caData);
    expect(() => normalizeCaData("bm90IGEgY2VydA==")).toThrow(/ca_data is not a base64-encoded PEM/);
  });

  it("refuses exec plugins and file references in an inline kubeconfig", async () => {
    const withExec = api
      .kubeconfig()
      .replace(
        /user:\n\s+token: .*/,
        "user:\n      exec:\n        apiVersion: client.authentication.k8s.io/v1beta1\n        command: /bin/steal",
      );
    await expect(resolveClusterAccess(ClusterInfo.parse({ kube_config: withExec }))).rejects.toThrow(
      /exec credential plugins/,
    );
    const withTokenFile = api
      .kubeconfig()
      .replace(/token: .*/, "token-file: /var/run/secrets/kubernetes.io/serviceaccount/token");
    await expect(resolveClusterAccess(ClusterInfo.parse({ kube_config: withTokenFile }))).rejects.toThrow(
      /token-file \(a file path/,
    );
    const withCaFile = api
      .kubeconfig()
      .replace(/certificate-authority-data: .*/, "certificate-authority: /etc/ssl/ca.pem");
    await expect(resolveClusterAccess(ClusterInfo.parse({ kube_config: withCaFile }))).rejects.toThrow(
      /certificate-authority \(a file path/,
    );
  });

  it("explains a kubeconfig that does not parse", async () => {
    await expect(resolveClusterAccess(ClusterInfo.parse({ kube_config: "clusters: [" }))).rejects.toThrow(
      /kube_config is not a valid kubeconfig/,
    );
  });

  it("makes an EKS token from static credentials and sends it as the bearer token", async () => {
    const eks = await startFakeApiServer();
    try {
      const access = await resolveClusterAccess(
        ClusterInfo.parse({
          id: "prod-cluster",
          endpoint: eks.url,
          ca_data: eks.caData,
          aws_auth: {
            region: "us-west-2",
            static: { access_key_id: "AKIDEXAMPLE", secret_access_key: "secret-example-key" },
          },
        }),
        { env: {} },
      );
      expect(access.mode).toBe("eks");
      const client = createKubeClient(access);
      await client.list("v1", "Namespace", {}).catch(() => undefined); // 401: the fake does not know EKS tokens
      await client.close();
      const token = access.secrets()[0] ?? "";
      expect(token.startsWith(EKS_TOKEN_PREFIX)).toBe(true);
      const url = new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), "base64url").toString("utf8"));
      expect(url.host).toBe("sts.us-west-2.amazonaws.com");
      expect(url.searchParams.get("Action")).toBe("GetCallerIdentity");
      expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("host;x-k8s-aws-id");
      expect(url.searchParams.get("X-Amz-Credential")).toMatch(
        /^AKIDEXAMPLE\/\d{8}\/us-west-2\/sts\/aws4_request$/,
      );
      const yaml = await access.kubeconfigYaml();
      expect(yaml).toContain(`token: ${access.secrets()[0]}`);
    } finally {
      await eks.close();
    }
  });

  it("takes EKS credentials from the environment and the region from the endpoint when aws_auth says use_default", async () => {
    const access = await resolveClusterAccess(
      ClusterInfo.parse({
        id: "c",
        endpoint: "https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com",
        aws_auth: { use_default: true },
      }),
      { env: { AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "env-secret" } },
    );
    const yaml = await access.kubeconfigYaml();
    const token = /token: (\S+)/.exec(yaml)?.[1] ?? "";
    const url = new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), "base64url").toString("utf8"));
    expect(url.host).toBe("sts.eu-west-1.amazonaws.com");
    expect(url.searchParams.get("X-Amz-Credential")).toMatch(/^AKIDENV\//);
  });

  it("says what is missing when there are no AWS credentials or an assume-role needs a provider", async () => {
    const noCreds = await resolveClusterAccess(
      ClusterInfo.parse({
        id: "c",
        endpoint: "https://x.gr7.eu-west-1.eks.amazonaws.com",
        aws_auth: { use_default: true },
      }),
      { env: {} },
    );
    await expect(noCreds.kubeconfigYaml()).rejects.toThrow(
      /AWS_ACCESS_KEY_ID \/ AWS_SECRET_ACCESS_KEY are not set/,
    );
    const assume = await resolveClusterAccess(
      ClusterInfo.parse({
        id: "c",
        endpoint: "https://x.gr7.eu-west-1.eks.amazonaws.com",
        aws_auth: { assume_role: { role_arn: "arn:aws:iam::1:role/x" } },
      }),
      { env: {} },
    );
    await expect(assume.kubeconfigYaml()).rejects.toThrow(
      /assume-role and profile credentials need an AWS credentials provider/,
    );
    const provided = await resolveClusterAccess(
      ClusterInfo.parse({
        id: "c",
        endpoint: "https://x.gr7.eu-west-1.eks.amazonaws.com",
        aws_auth: { assume_role: { role_arn: "arn:aws:iam::1:role/x" } },
      }),
      {
        env: {},
        awsCredentials: async (_auth, role) => ({
          accessKeyId: `AKID-${role?.length}`,
          secretAccessKey: "s",
        }),
      },
    );
    expect(await provided.kubeconfigYaml()).toMatch(/token: k8s-aws-v1\./);
  });

  it("gets an AKS token from kubelogin (a script on PATH) and caches it until it expires", async () => {
    const bin = path.join(tmp, "bin");
    mkdirSync(bin, { recursive: true });
    const calls = path.join(tmp, "kubelogin-calls");
    writeFileSync(
      path.join(bin, "kubelogin"),
      `#!/bin/sh\necho "$@" >> ${calls}\necho '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"good-token-123","expirationTimestamp":"2099-01-01T00:00:00Z"}}'\n`,
      { mode: 0o755 },
    );
    const access = await resolveClusterAccess(
      ClusterInfo.parse({
        endpoint: api.url,
        ca_data: api.caData,
        azure_auth: { ServicePrincipal: { subscription_tenant_id: "tenant-1" }, UseDefault: true },
        env_vars: { ARM_USE_MSI: "true" },
      }),
      { env: { PATH: `${bin}:/usr/bin:/bin` } },
    );
    expect(access.mode).toBe("aks");
    const client = createKubeClient(access);
    await client.list("v1", "Namespace", {});
    await client.list("v1", "Namespace", {});
    await client.close();
    const { readFileSync } = await import("node:fs");
    const lines = readFileSync(calls, "utf8").trim().split("\n");
    expect(lines).toEqual([
      "get-token --login msi --server-id 6dae42f8-4368-4678-94ff-3960e28e3630 --tenant-id tenant-1",
    ]);
  });

  it("uses the in-cluster service account when cluster_info is empty", async () => {
    const sa = path.join(tmp, "sa");
    mkdirSync(sa, { recursive: true });
    writeFileSync(path.join(sa, "token"), "good-token-123\n");
    writeFileSync(path.join(sa, "ca.crt"), Buffer.from(api.caData, "base64"));
    writeFileSync(path.join(sa, "namespace"), "runner-ns");
    const port = new URL(api.url).port;
    const { access, items } = await listNamespaces(
      {},
      { env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: port }, serviceAccountDir: sa },
    );
    expect(access.mode).toBe("in-cluster");
    expect(access.defaultNamespace).toBe("runner-ns");
    expect(items.length).toBeGreaterThan(0);
  });

  it("explains that there is no cluster to talk to", async () => {
    await expect(
      resolveClusterAccess(undefined, { env: {}, serviceAccountDir: path.join(tmp, "none") }),
    ).rejects.toThrow(/no cluster_info .* not inside a cluster/);
    await expect(resolveClusterAccess(ClusterInfo.parse({ endpoint: api.url }), { env: {} })).rejects.toThrow(
      /no credentials/,
    );
    await expect(
      resolveClusterAccess(ClusterInfo.parse({ endpoint: api.url, gcp_auth: {} }), { env: {} }),
    ).rejects.toThrow(/GKE/);
  });
});
