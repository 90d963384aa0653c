/**
 * A span processor that passes every string a span carries through the redactor as the span ends — its
 * name, attribute values (arrays included), event names and attributes (exception messages and stacks),
 * link attributes and the status message — so no processor or exporter after it ever sees a secret.
 * It must come first in the provider's processor list: it runs in `onEnding`, before any `onEnd`.
 */
import type { Attributes, AttributeValue } from "@opentelemetry/api";
import type { Span, SpanProcessor } from "@opentelemetry/sdk-trace";

/** Redacts one attribute value; non-strings are returned as they are. */
export function redactAttributeValue(
  value: AttributeValue | undefined,
  redact: (text: string) => string,
): AttributeValue | undefined {
  if (typeof value === "string") return redact(value);
  if (Array.isArray(value)) {
    return value.map((v) => (typeof v === "string" ? redact(v) : v)) as AttributeValue;
  }
  return value;
}

/** Redacts attribute values in place. */
export function redactAttributes(attributes: Attributes | undefined, redact: (text: string) => string): void {
  if (attributes === undefined) return;
  for (const key of Object.keys(attributes)) {
    attributes[key] = redactAttributeValue(attributes[key], redact);
  }
}

/** Creates the redacting processor. */
export function createRedactingSpanProcessor(redact: (text: string) => string): SpanProcessor {
  return {
    onStart() {},
    onEnding(span: Span) {
      // The span is still open here; its fields are plain objects the exporters read later.
      const open = span as unknown as { name: string; status: { code: number; message?: string } };
      open.name = redact(span.name);
      redactAttributes(span.attributes, redact);
      for (const event of span.events) {
        (event as { name: string }).name = redact(event.name);
        redactAttributes(event.attributes, redact);
      }
      for (const link of span.links) redactAttributes(link.attributes, redact);
      if (span.status.message !== undefined) {
        open.status = { ...span.status, message: redact(span.status.message) };
      }
    },
    onEnd() {},
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}
