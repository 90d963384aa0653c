/**
 * One job's trace: a span `job <type>` around the step pipeline, a child span `step <name>` per step, and
 * the job and step metrics recorded at the same moments. The parent is the W3C trace context in the job's
 * metadata (`traceparent`, optionally `tracestate`) when present and valid, so a deploy started upstream
 * continues as one trace; otherwise the job span starts a new trace.
 */
import {
  type Context,
  defaultTextMapGetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { RunnerMetrics } from "./metrics.ts";

/** Span attribute keys (the same names the job log records carry, PROTOCOL.md §3). */
export const SPAN_ATTRIBUTES = {
  jobId: "runner_job.id",
  jobType: "runner_job.type",
  group: "runner_job.group",
  operation: "runner_job.operation",
  executionId: "runner_job_execution.id",
  status: "runner_job_execution.status",
  failedStep: "runner_job_execution.failed_step",
  stepName: "runner_job_execution_step.name",
} as const;

/** What a job span is started from. */
export interface JobTraceInput {
  jobId: string;
  executionId: string;
  type: string;
  group: string;
  operation?: string | undefined;
  /** The job's metadata; `traceparent`/`tracestate` there become the parent. */
  metadata?: Readonly<Record<string, string>> | null | undefined;
  /** Milliseconds from seeing the job to the claim (a pickup metric). */
  pickupLatencyMs?: number | undefined;
  /** Milliseconds from the job's created_at to the claim (a pickup metric). */
  queueWaitMs?: number | undefined;
}

/** How a job ended, for its span. */
export interface JobTraceEnd {
  status: string;
  message?: string | undefined;
  step?: string | undefined;
  durationMs: number;
}

/** One job's trace, handed to the pipeline. */
export interface JobTrace {
  /** The step hook for runJob: opens `step <name>` on "start", closes it on "end" (error → ERROR status). */
  onStep(name: string, phase: "start" | "end", error?: unknown): void;
  /** Ends the job span and counts the job. Idempotent. */
  end(outcome: JobTraceEnd): void;
  /** The job span's ids (for log correlation). */
  readonly traceId: string;
  readonly spanId: string;
}

/** Starts job traces on a tracer; what the agent's job runner depends on. */
export interface JobTracer {
  startJob(input: JobTraceInput): JobTrace;
}

const propagator = new W3CTraceContextPropagator();

/** The parent context from job metadata: a remote span context when `traceparent` is valid, else root. */
export function parentFromMetadata(metadata: Readonly<Record<string, string>> | null | undefined): Context {
  if (metadata === undefined || metadata === null || metadata.traceparent === undefined) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, metadata, defaultTextMapGetter);
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { message?: unknown }).message === "string"
  ) {
    return (error as { message: string }).message;
  }
  return String(error);
}

/** Creates a JobTracer recording spans on `tracer` and metrics on `metrics`. */
export function createJobTracer(tracer: Tracer, metrics: RunnerMetrics | undefined): JobTracer {
  return {
    startJob(input) {
      if (input.pickupLatencyMs !== undefined) {
        metrics?.jobPickedUp(
          { type: input.type, group: input.group },
          input.pickupLatencyMs,
          input.queueWaitMs,
        );
      }
      const parent = parentFromMetadata(input.metadata);
      const jobSpan = tracer.startSpan(
        `job ${input.type || "unknown"}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            [SPAN_ATTRIBUTES.jobId]: input.jobId,
            [SPAN_ATTRIBUTES.jobType]: input.type,
            [SPAN_ATTRIBUTES.group]: input.group,
            [SPAN_ATTRIBUTES.executionId]: input.executionId,
            ...(input.operation ? { [SPAN_ATTRIBUTES.operation]: input.operation } : {}),
          },
        },
        parent,
      );
      const jobContext = trace.setSpan(parent, jobSpan);
      const steps = new Map<string, { span: Span; startedMs: number }>();
      let ended = false;

      function closeStep(name: string, error?: unknown): void {
        const open = steps.get(name);
        if (open === undefined) return;
        steps.delete(name);
        if (error !== undefined) {
          const message = errorMessage(error);
          open.span.recordException(error instanceof Error ? error : message);
          open.span.setStatus({ code: SpanStatusCode.ERROR, message });
        }
        open.span.end();
        metrics?.stepFinished(
          { type: input.type, step: name, outcome: error === undefined ? "ok" : "error" },
          performance.now() - open.startedMs,
        );
      }

      const ids = jobSpan.spanContext();
      return {
        traceId: ids.traceId,
        spanId: ids.spanId,
        onStep(name, phase, error) {
          if (ended) return;
          if (phase === "end") {
            closeStep(name, error);
            return;
          }
          closeStep(name); // a step started twice without an end: close the first
          const span = tracer.startSpan(
            `step ${name}`,
            {
              attributes: {
                [SPAN_ATTRIBUTES.stepName]: name,
                [SPAN_ATTRIBUTES.jobId]: input.jobId,
                [SPAN_ATTRIBUTES.executionId]: input.executionId,
              },
            },
            jobContext,
          );
          steps.set(name, { span, startedMs: performance.now() });
        },
        end(outcome) {
          if (ended) return;
          for (const name of [...steps.keys()]) closeStep(name, new Error("the job ended during the step"));
          ended = true;
          jobSpan.setAttribute(SPAN_ATTRIBUTES.status, outcome.status);
          if (outcome.step !== undefined) jobSpan.setAttribute(SPAN_ATTRIBUTES.failedStep, outcome.step);
          if (outcome.status === "finished") jobSpan.setStatus({ code: SpanStatusCode.OK });
          else {
            jobSpan.setStatus({
              code: SpanStatusCode.ERROR,
              message: outcome.message ?? `the job ended ${outcome.status}`,
            });
          }
          jobSpan.end();
          metrics?.jobFinished(
            { type: input.type, group: input.group, status: outcome.status },
            outcome.durationMs,
          );
        },
      };
    },
  };
}
