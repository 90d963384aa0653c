import { PassThrough, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, REDACTED } from "../../src/telemetry/logger.ts";

const TOKEN = "nuon_tok_9a8b7c6d5e4f3a2bSECRET";
const scrub = (text: string) => text.replaceAll(TOKEN, REDACTED);

/** A sink stream that keeps everything written to it. */
function sink(isTTY = false) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  Object.assign(stream, { isTTY });
  return { stream, text: () => chunks.join(""), lines: () => parseLines(chunks.join("")) };
}

function parseLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("createLogger", () => {
  it("writes one JSON object per line with level, message, fields and base", async () => {
    const out = sink();
    const log = await createLogger({
      level: "INFO",
      format: "json",
      destination: out.stream,
      base: { runnerId: "r1" },
    });
    log.info({ jobId: "job_1", durationMs: 12 }, "job finished");
    log.debug("hidden at info");
    const [line, ...rest] = out.lines();
    expect(rest).toEqual([]);
    expect(line).toMatchObject({
      level: 30,
      msg: "job finished",
      jobId: "job_1",
      durationMs: 12,
      runnerId: "r1",
    });
    expect(typeof line?.time).toBe("string");
  });

  it("accepts Nuon level names and rejects unknown ones", async () => {
    const out = sink();
    const log = await createLogger({ level: "WARN", format: "json", destination: out.stream });
    expect(log.level).toBe("warn");
    await expect(createLogger({ level: "loud", format: "json", destination: out.stream })).rejects.toThrow(
      'unknown log level "loud"',
    );
  });

  it("blanks the token fields by path even without a redact function", async () => {
    const out = sink();
    const log = await createLogger({ level: "info", format: "json", destination: out.stream });
    log.info(
      {
        token: TOKEN,
        apiToken: TOKEN,
        authorization: `Bearer ${TOKEN}`,
        headers: { authorization: `Bearer ${TOKEN}` },
      },
      "request",
    );
    log.info({ settings: { token: TOKEN } }, "nested");
    log.child({ client: { apiToken: TOKEN } }).info("child");
    expect(out.text()).not.toContain(TOKEN);
    const [first, second, third] = out.lines();
    expect(first).toMatchObject({
      token: REDACTED,
      apiToken: REDACTED,
      authorization: REDACTED,
      headers: { authorization: REDACTED },
    });
    expect(second).toMatchObject({ settings: { token: REDACTED } });
    expect(third).toMatchObject({ client: { apiToken: REDACTED } });
  });

  it("scrubs the token from messages, format arguments, errors and free fields with opts.redact", async () => {
    const out = sink();
    const log = await createLogger({ level: "info", format: "json", destination: out.stream, redact: scrub });
    log.info(`token is ${TOKEN}`);
    log.info("calling with %s", TOKEN);
    log.error(new Error(`request failed for ${TOKEN}`));
    log.warn({ err: new Error(`nested ${TOKEN}`), url: `https://x.invalid/?t=${TOKEN}` }, "retrying");
    log.child({ note: TOKEN }).info("child line");
    expect(out.text()).not.toContain(TOKEN);
    const lines = out.lines();
    expect(lines.map((l) => l.msg)).toEqual([
      `token is ${REDACTED}`,
      `calling with ${REDACTED}`,
      `request failed for ${REDACTED}`,
      "retrying",
      "child line",
    ]);
    expect(lines[2]?.err).toMatchObject({ type: "Error", message: `request failed for ${REDACTED}` });
    expect(lines[3]?.url).toBe(`https://x.invalid/?t=${REDACTED}`);
    expect(lines[4]?.note).toBe(REDACTED);
  });

  it("writes pretty text rather than JSON when format is pretty", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    const log = await createLogger({ level: "info", format: "pretty", destination: out, redact: scrub });
    log.info({ jobId: "job_1" }, `pretty line ${TOKEN}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(text).toContain("pretty line [redacted]");
    expect(text).toContain("job_1");
    expect(text).not.toContain(TOKEN);
    expect(() => JSON.parse(text.trim().split("\n")[0] ?? "")).toThrow();
  });

  it("picks pretty for auto on a TTY and JSON for auto elsewhere", async () => {
    const tty = sink(true);
    (await createLogger({ level: "info", format: "auto", destination: tty.stream })).info("on a tty");
    const pipe = sink(false);
    (await createLogger({ level: "info", format: "auto", destination: pipe.stream })).info("in a pipe");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(tty.text()).toContain("on a tty");
    expect(() => JSON.parse(tty.text().split("\n")[0] ?? "")).toThrow();
    expect(pipe.lines()).toMatchObject([{ msg: "in a pipe" }]);
  });
});
