/**
 * What `run-local` needs from a control plane's admin side — create a runner, enqueue, read, cancel and
 * watch jobs — over the embedded control plane (in process, `job:updated` events) or an existing one
 * (its admin API over HTTP, docs/control-plane.md, polled for changes).
 */
import type { EmbeddedControlPlane, EnqueueJobInput, JobDetail } from "../mock-control-plane/server.ts";

/** The control plane refused the admin token: bad input, exit 2. */
export class AdminAuthError extends Error {
  override readonly name = "AdminAuthError";
  /** Bad input: 2. */
  readonly exitCode = 2;
}

/** The admin side of a control plane. */
export interface DevControlPlane {
  /** Base URL the runner talks to. */
  readonly url: string;
  readonly kind: "embedded" | "remote";
  createRunner(): Promise<{ id: string; token: string }>;
  enqueueJob(runnerId: string, input: EnqueueJobInput): Promise<{ id: string }>;
  getJob(jobId: string): Promise<JobDetail>;
  /** Cancels the job and its running executions. */
  cancelJob(jobId: string): Promise<void>;
  /** Calls `onUpdate` with the job after changes; returns the function that stops watching. */
  watchJob(jobId: string, onUpdate: (job: JobDetail) => void): () => void;
  /** Stops the embedded control plane; nothing for a remote one. */
  close(): Promise<void>;
}

/** The embedded control plane as a DevControlPlane. */
export function embeddedPort(cp: EmbeddedControlPlane): DevControlPlane {
  const must = (jobId: string): JobDetail => {
    const job = cp.admin.getJob(jobId);
    if (job === undefined) throw new Error(`the control plane has no job ${jobId}`);
    return job;
  };
  return {
    url: cp.url,
    kind: "embedded",
    createRunner: async () => cp.admin.createRunner(),
    enqueueJob: async (runnerId, input) => cp.admin.enqueueJob(runnerId, input),
    getJob: async (jobId) => must(jobId),
    cancelJob: async (jobId) => {
      cp.admin.cancelJob(jobId);
    },
    watchJob(jobId, onUpdate) {
      const listener = (job: JobDetail) => {
        if (job.id === jobId) onUpdate(job);
      };
      cp.events.on("job:updated", listener);
      return () => cp.events.off("job:updated", listener);
    },
    close: () => cp.close(),
  };
}

/** Options of remotePort. */
export interface RemotePortOptions {
  /** Base URL of the control plane (its runner API and its admin API). */
  url: string;
  adminToken: string;
  /** Milliseconds between reads of a watched job; default 250. */
  pollMs?: number;
  /** Deadline of each admin request in ms; default 10 000. */
  requestTimeoutMs?: number;
  /** Called when a poll fails (the watch keeps polling). */
  onPollError?: (err: unknown) => void;
}

/** An existing control plane, through its admin API. */
export function remotePort(opts: RemotePortOptions): DevControlPlane {
  const base = opts.url.replace(/\/+$/, "");
  const pollMs = opts.pollMs ?? 250;
  const timeoutMs = opts.requestTimeoutMs ?? 10_000;

  async function call<T>(method: string, route: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${base}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${opts.adminToken}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new Error(
        `the control plane at ${base} did not answer ${method} ${route}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403) {
      throw new AdminAuthError(
        `the control plane at ${base} refused the admin token (HTTP ${res.status}); pass --admin-token or set RUNNER_ADMIN_TOKEN`,
      );
    }
    if (!res.ok) {
      let detail = text.slice(0, 300);
      try {
        const parsed = JSON.parse(text) as { description?: string; error?: string };
        detail = parsed.description ?? parsed.error ?? detail;
      } catch {
        // not JSON: keep the text
      }
      throw new Error(`${method} ${route} failed with HTTP ${res.status}: ${detail}`);
    }
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  return {
    url: base,
    kind: "remote",
    createRunner: () => call("POST", "/admin/runners", {}),
    enqueueJob: (runnerId, input) =>
      call("POST", `/admin/runners/${encodeURIComponent(runnerId)}/jobs`, input),
    getJob: (jobId) => call("GET", `/admin/runner-jobs/${encodeURIComponent(jobId)}`),
    cancelJob: async (jobId) => {
      await call("POST", `/admin/runner-jobs/${encodeURIComponent(jobId)}/cancel`);
    },
    watchJob(jobId, onUpdate) {
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      const tick = async () => {
        try {
          const job = await call<JobDetail>("GET", `/admin/runner-jobs/${encodeURIComponent(jobId)}`);
          if (!stopped) onUpdate(job);
        } catch (err) {
          if (!stopped) opts.onPollError?.(err);
        }
        if (!stopped) timer = setTimeout(tick, pollMs);
      };
      timer = setTimeout(tick, 0);
      return () => {
        stopped = true;
        clearTimeout(timer);
      };
    },
    close: async () => {},
  };
}
