import { execute } from './bus.js';
import { monotonicTime, systemTime } from './clock.js';
import type { Measurements, Metadata } from './types.js';

/** Ties the start, stop and exception events of one span together (metadata key `telemetry_span_context`). */
export interface SpanContext {
  readonly id: number;
}

/** Handed to the function that a span wraps, so it can enrich the stop event. */
export interface SpanControl {
  /** The span's context, the same object as `telemetry_span_context` in its events' metadata. */
  readonly context: SpanContext;
  /** Adds metadata to the stop (and exception) event, on top of the start metadata. */
  setMetadata(metadata: Metadata): void;
  /** Adds measurements to the stop event. `duration` and `monotonic_time` cannot be overridden. */
  setMeasurements(measurements: Measurements): void;
}

let spanSequence = 0;

class SpanScope implements SpanControl {
  extraMetadata: Metadata | undefined;
  extraMeasurements: Measurements | undefined;
  constructor(readonly context: SpanContext) {}
  setMetadata(metadata: Metadata): void {
    this.extraMetadata = { ...this.extraMetadata, ...copyMetadata(metadata) };
  }
  setMeasurements(measurements: Measurements): void {
    this.extraMeasurements = { ...this.extraMeasurements, ...copyMetadata(measurements) };
  }
}

/**
 * Runs `fn` between a `<prefix>.start` and a `<prefix>.stop` event, and returns what `fn` returns.
 *
 * - start: measurements `{ system_time, monotonic_time }`, metadata = `startMetadata` + `telemetry_span_context`.
 * - stop: `{ duration, monotonic_time }` plus any `setMeasurements`, metadata = start metadata + `setMetadata`.
 * - exception (when `fn` throws or its promise rejects): `{ duration, monotonic_time }`, start metadata +
 *   `kind` (`'error'` for Error instances, else `'throw'`), `reason`, `stacktrace`; the error is then rethrown.
 *
 * An async `fn` emits stop or exception when its promise settles, and `span` returns a promise of its value.
 * Times are nanoseconds (the native unit) from a monotonic clock.
 */
export function span<T>(
  prefix: string,
  startMetadata: Metadata | null | undefined,
  fn: (span: SpanControl) => T,
): T {
  const given = copyMetadata(startMetadata);
  const context =
    (given.telemetry_span_context as SpanContext | undefined) ?? Object.freeze({ id: ++spanSequence });
  const metadata: Metadata = { ...given, telemetry_span_context: context };
  const startTime = monotonicTime();
  execute(`${prefix}.start`, { system_time: systemTime(), monotonic_time: startTime }, metadata);
  const scope = new SpanScope(context);
  let result: T;
  try {
    result = fn(scope);
  } catch (error) {
    emitException(prefix, startTime, metadata, scope, error);
    throw error;
  }
  if (isPromiseLike(result)) {
    return Promise.resolve(result).then(
      (value) => {
        emitStop(prefix, startTime, metadata, scope);
        return value;
      },
      (error: unknown) => {
        emitException(prefix, startTime, metadata, scope, error);
        throw error;
      },
    ) as T;
  }
  emitStop(prefix, startTime, metadata, scope);
  return result;
}

function emitStop(prefix: string, startTime: number, metadata: Metadata, scope: SpanScope): void {
  const now = monotonicTime();
  execute(
    `${prefix}.stop`,
    { ...scope.extraMeasurements, duration: now - startTime, monotonic_time: now },
    scope.extraMetadata === undefined
      ? metadata
      : { ...metadata, ...scope.extraMetadata, telemetry_span_context: scope.context },
  );
}

function emitException(
  prefix: string,
  startTime: number,
  metadata: Metadata,
  scope: SpanScope,
  error: unknown,
): void {
  const now = monotonicTime();
  execute(
    `${prefix}.exception`,
    { duration: now - startTime, monotonic_time: now },
    {
      ...metadata,
      ...scope.extraMetadata,
      telemetry_span_context: scope.context,
      kind: error instanceof Error ? 'error' : 'throw',
      reason: error,
      stacktrace: error instanceof Error ? error.stack : undefined,
    },
  );
}

/**
 * The caller's start metadata as a plain object, read once. Like `execute`, a span takes whatever it is given:
 * `undefined` or `null` mean no metadata, and a getter that throws loses its key, not the span; the function
 * always runs.
 */
function copyMetadata(metadata: unknown): Metadata {
  if (typeof metadata !== 'object' || metadata === null) return {};
  try {
    return { ...metadata };
  } catch {
    const copy: Metadata = {};
    let keys: string[] = [];
    try {
      keys = Object.keys(metadata);
    } catch {
      // A proxy that cannot list its keys: no metadata.
    }
    for (const key of keys) {
      try {
        copy[key] = (metadata as Metadata)[key];
      } catch {
        // This key's getter threw: leave it out.
      }
    }
    return copy;
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
