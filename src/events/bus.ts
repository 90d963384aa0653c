/**
 * A typed event bus (graphile-worker style): `emit` stamps each event with a sequence number and a time and
 * hands it to every subscriber through `safeEmit`, which logs a subscriber that throws (or whose promise
 * rejects) and carries on — a broken terminal view or a full disk never stops a run.
 */
import type { AnyRunEvent, RunEvent, RunEventName, RunEvents } from "./events.ts";

/** Where the bus reports a throwing subscriber. */
export interface BusErrorLog {
  error(fields: Record<string, unknown>, message: string): void;
}

/** Options of createEventBus. */
export interface EventBusOptions {
  /** Where a throwing subscriber is reported; default nowhere (the error is dropped). */
  log?: BusErrorLog;
  /** Clock; default `() => new Date()`. */
  now?: () => Date;
}

/** A subscriber of every event. */
export type AnyListener = (event: AnyRunEvent) => unknown;

/** The bus. */
export interface EventBus {
  /** Stamps and delivers an event to every subscriber (never throws); returns the stamped event. */
  emit<K extends RunEventName>(type: K, data: RunEvents[K]): RunEvent<K>;
  /** Subscribes to one event name; returns the unsubscribe function. */
  on<K extends RunEventName>(type: K, listener: (event: RunEvent<K>) => unknown): () => void;
  /** Subscribes to every event; returns the unsubscribe function. */
  onAny(listener: AnyListener): () => void;
  /** The sequence number of the last event emitted (0 before the first). */
  readonly seq: number;
}

/** Calls `listener` with `event`; a throw or a rejected promise goes to `onError`, never to the caller. */
export function safeEmit<E>(
  listener: (event: E) => unknown,
  event: E,
  onError: (err: unknown) => void,
): void {
  try {
    const result = listener(event);
    if (result instanceof Promise) result.catch(onError);
  } catch (err) {
    onError(err);
  }
}

/** Creates an event bus. */
export function createEventBus(opts: EventBusOptions = {}): EventBus {
  const now = opts.now ?? (() => new Date());
  const any = new Set<AnyListener>();
  const byType = new Map<RunEventName, Set<(event: AnyRunEvent) => unknown>>();
  let seq = 0;

  const report = (event: AnyRunEvent) => (err: unknown) =>
    opts.log?.error(
      { err, event: event.type, seq: event.seq },
      "an event subscriber failed; the run carries on without it for this event",
    );

  return {
    emit(type, data) {
      seq += 1;
      const event = { seq, time: now().toISOString(), type, data } as RunEvent<typeof type>;
      const anyEvent = event as unknown as AnyRunEvent;
      const onError = report(anyEvent);
      for (const listener of [...(byType.get(type) ?? [])]) safeEmit(listener, anyEvent, onError);
      for (const listener of [...any]) safeEmit(listener, anyEvent, onError);
      return event;
    },
    on(type, listener) {
      const set = byType.get(type) ?? new Set();
      byType.set(type, set);
      const wrapped = listener as unknown as (event: AnyRunEvent) => unknown;
      set.add(wrapped);
      return () => set.delete(wrapped);
    },
    onAny(listener) {
      any.add(listener);
      return () => any.delete(listener);
    },
    get seq() {
      return seq;
    },
  };
}
