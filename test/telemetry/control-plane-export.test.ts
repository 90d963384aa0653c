/**
 * The transport of the control-plane OTLP exporters on a real loopback server: what a POST looks like on the
 * wire, how failures become FAILED export results (never with the token), its deadline, and close().
 */
import { ExportResultCode } from "@opentelemetry/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ControlPlaneTransport,
  createControlPlaneTransport,
} from "../../src/telemetry/control-plane-export.ts";
import { startRecordingServer } from "../support/recording-server.ts";

const TOKEN = "tok-export-secret";
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function serve(status: number | "stall", echo = "") {
  const started = await startRecordingServer((_seen, res) => {
    if (status === "stall") return;
    res.writeHead(status);
    res.end(echo);
  });
  closers.push(() => started.close());
  return started;
}

function transportFor(baseUrl: string, timeoutMs = 2_000): ControlPlaneTransport {
  const t = createControlPlaneTransport({ baseUrl, token: TOKEN, runnerId: "runr/1", timeoutMs });
  closers.push(() => t.close());
  return t;
}

const body = new TextEncoder().encode('{"resourceSpans":[]}');

describe("control-plane export transport", () => {
  it("POSTs OTLP/JSON with the Bearer token to the runner's route and succeeds on a 2xx", async () => {
    const server = await serve(200, "{}");
    const t = transportFor(`${server.url}/`);
    await expect(t.post("traces", body)).resolves.toEqual({ code: ExportResultCode.SUCCESS });
    expect(server.seen[0]).toMatchObject({
      method: "POST",
      url: "/v1/runners/runr%2F1/traces",
      body: '{"resourceSpans":[]}',
    });
    expect(server.seen[0]?.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      "content-type": "application/json",
    });
    expect(t.url("metrics")).toBe(`${server.url}/v1/runners/runr%2F1/metrics`);
  });

  it("fails on another status, naming it and never the token", async () => {
    const server = await serve(500, `no ${TOKEN}`);
    const result = await transportFor(server.url).post("metrics", body);
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toContain("HTTP 500");
    expect(result.error?.message).not.toContain(TOKEN);
  });

  it("fails at its deadline when the control plane never answers", async () => {
    const server = await serve("stall");
    const started = performance.now();
    const result = await transportFor(server.url, 150).post("traces", body);
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("sends nothing once closed", async () => {
    const server = await serve(200);
    const t = transportFor(server.url);
    await t.close();
    await expect(t.post("traces", body)).resolves.toMatchObject({ code: ExportResultCode.FAILED });
    expect(server.seen).toHaveLength(0);
  });
});
