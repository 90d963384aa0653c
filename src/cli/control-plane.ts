/**
 * `runner control-plane`: runs the embedded control plane (the Nuon Runner API plus an admin API) until
 * SIGINT/SIGTERM. Prints the URL and the admin token once to stdout; logs go to stderr.
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { startControlPlane } from "../mock-control-plane/server.ts";
import type { CommandIo } from "./commands.ts";

/** One line shown by `runner help`. */
export const summary = "Run a local control plane speaking the Nuon Runner API (with an admin API)";

const USAGE = `usage: runner control-plane [--port N] [--host H] [--state-dir DIR] [--admin-token T] [--no-tail]
                             [--log-level info] [--json]

  --port N          port to listen on (default 0: any free port)
  --host H          interface to listen on (default 127.0.0.1)
  --state-dir DIR   keep state in DIR so that it survives a restart (default: in memory)
  --admin-token T   bearer token of the admin API (default: RUNNER_ADMIN_TOKEN, else random)
  --no-tail         do not serve the long-poll route (404, like a control plane without the feature)
  --log-level L     trace|debug|info|warn|error|silent (default info), logs go to stderr
  --json            print {"url","adminToken"} as one JSON line instead of text
`;

const LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal", "silent"]);

/** Runs the command; resolves to 0 after a clean shutdown, 2 on bad flags. */
export async function run(argv: string[], io: CommandIo): Promise<number> {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (err) {
    io.stderr.write(`runner control-plane: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const port = Number(values.port ?? "0");
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    io.stderr.write(
      `runner control-plane: --port must be an integer from 0 to 65535, got "${values.port}"\n`,
    );
    return 2;
  }
  const level = values["log-level"] ?? "info";
  if (!LEVELS.has(level)) {
    io.stderr.write(`runner control-plane: --log-level must be one of ${[...LEVELS].join(", ")}\n`);
    return 2;
  }
  const adminToken = values["admin-token"] ?? (io.env.RUNNER_ADMIN_TOKEN || undefined);
  const logger = pino(
    { level, base: { component: "control-plane" } },
    pino.destination({ fd: 2, sync: true }),
  );

  const controlPlane = await startControlPlane({
    host: values.host ?? "127.0.0.1",
    port,
    stateDir: values["state-dir"],
    adminToken,
    tail: !values["no-tail"],
    logger,
  });
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ url: controlPlane.url, adminToken: controlPlane.adminToken })}\n`);
  } else {
    io.stdout.write(
      `control plane listening at ${controlPlane.url}\n` +
        `admin token: ${controlPlane.adminToken}\n` +
        `state: ${values["state-dir"] ?? "in memory (lost on exit)"}\n` +
        "stop with Ctrl-C (SIGINT) or SIGTERM\n",
    );
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolve(sig);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  logger.info({ signal }, "signal received; closing the control plane");
  await controlPlane.close();
  return 0;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      "state-dir": { type: "string" },
      "admin-token": { type: "string" },
      "no-tail": { type: "boolean" },
      "log-level": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
