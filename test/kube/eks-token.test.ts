import { describe, expect, it } from "vitest";
import {
  amzDate,
  EKS_TOKEN_PREFIX,
  eksToken,
  presignedCallerIdentityUrl,
  presignQuery,
  signingKey,
  uriEncode,
} from "../../src/kube/eks-token.ts";

/** AWS's documentation example credentials (not a real key). */
const EXAMPLE = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};

/** Decodes a token back to the presigned URL. */
function urlOf(token: string): string {
  return Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), "base64url").toString("utf8");
}

describe("SigV4 presigning", () => {
  it("derives the signing key of AWS's documented example", () => {
    // docs.aws.amazon.com "Examples of how to derive a signing key for Signature Version 4"
    const key = signingKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
    expect(key.toString("hex")).toBe("f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
  });

  it("reproduces AWS's documented presigned S3 GET URL", () => {
    // docs.aws.amazon.com AmazonS3 "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)"
    const query = presignQuery({
      method: "GET",
      host: "examplebucket.s3.amazonaws.com",
      path: "/test.txt",
      query: {},
      region: "us-east-1",
      service: "s3",
      credentials: EXAMPLE,
      date: new Date("2013-05-24T00:00:00Z"),
      expiresSeconds: 86400,
      payloadHash: "UNSIGNED-PAYLOAD",
    });
    expect(query).toBe(
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
    );
  });

  it("formats dates and encodes values the way SigV4 requires", () => {
    expect(amzDate(new Date("2026-11-21T23:21:53.123Z"))).toBe("20261121T232153Z");
    expect(uriEncode("a/b+c=d e*f!~")).toBe("a%2Fb%2Bc%3Dd%20e%2Af%21~");
  });
});

describe("EKS tokens", () => {
  // Both vectors were produced by `aws eks get-token --cluster-name my-cluster` (aws-cli 1.45.11,
  // botocore 1.43.11) with the example credentials and AWS_DEFAULT_REGION=eu-central-1.
  it("equals the token botocore makes for the same credentials and time", () => {
    const token = eksToken({
      clusterName: "my-cluster",
      region: "eu-central-1",
      credentials: EXAMPLE,
      date: new Date("2026-11-21T23:21:53Z"),
    });
    expect(urlOf(token)).toBe(
      "https://sts.eu-central-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256" +
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261121%2Feu-central-1%2Fsts%2Faws4_request&X-Amz-Date=20261121T232153Z" +
        "&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id" +
        "&X-Amz-Signature=268aeada1f440609e3359645b81c1345c2643fd85addd08792b3b5953ca96859",
    );
    expect(token).toBe(
      "k8s-aws-v1.aHR0cHM6Ly9zdHMuZXUtY2VudHJhbC0xLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJZGVudGl0eSZWZXJzaW9uPTIwMTEtMDYtMTUmWC1BbXotQWxnb3JpdGhtPUFXUzQtSE1BQy1TSEEyNTYmWC1BbXotQ3JlZGVudGlhbD1BS0lBSU9TRk9ETk43RVhBTVBMRSUyRjIwMjYxMTIxJTJGZXUtY2VudHJhbC0xJTJGc3RzJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9MjAyNjExMjFUMjMyMTUzWiZYLUFtei1FeHBpcmVzPTYwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCUzQngtazhzLWF3cy1pZCZYLUFtei1TaWduYXR1cmU9MjY4YWVhZGExZjQ0MDYwOWUzMzU5NjQ1YjgxYzEzNDVjMjY0M2ZkODVhZGRkMDg3OTJiM2I1OTUzY2E5Njg1OQ",
    );
  });

  it("signs a session token into the URL like botocore does", () => {
    const url = presignedCallerIdentityUrl({
      clusterName: "my-cluster",
      region: "eu-central-1",
      credentials: { ...EXAMPLE, sessionToken: "FQoGZXIvYXdzEXAMPLE//token+with/slash=" },
      date: new Date("2026-11-21T23:21:54Z"),
    });
    expect(url).toBe(
      "https://sts.eu-central-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256" +
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261121%2Feu-central-1%2Fsts%2Faws4_request&X-Amz-Date=20261121T232154Z" +
        "&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id" +
        "&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE%2F%2Ftoken%2Bwith%2Fslash%3D" +
        "&X-Amz-Signature=4f8646e4b5160f01aed113cac33f564e12971c80777f0955428651746124eed1",
    );
  });

  it("gives a different signature for a different cluster name, because x-k8s-aws-id is signed", () => {
    const at = new Date("2026-11-21T23:21:53Z");
    const a = urlOf(eksToken({ clusterName: "a", region: "eu-central-1", credentials: EXAMPLE, date: at }));
    const b = urlOf(eksToken({ clusterName: "b", region: "eu-central-1", credentials: EXAMPLE, date: at }));
    expect(a.replace(/Signature=.*/, "")).toBe(b.replace(/Signature=.*/, ""));
    expect(a).not.toBe(b);
  });
});
