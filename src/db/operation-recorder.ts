/**
 * Emitting the operation events from an integration: a start event when an operation begins and exactly one
 * stop event when it ends, failures included (the shared histogram counts them under their `error_type`), plus
 * an exception event for a failure, for handlers that want the error itself.
 */
import {
  elapsedNs,
  execute,
  hasHandlers,
  type Metadata,
  monotonicNs,
  readClock,
  systemNs,
} from '../events/index.js';
import { processLog } from '../logger.js';
import { DB_OPERATION_EVENTS, type DbOperationMetadata } from './operation-events.js';

/** Extra measurements of a stop event, in native nanoseconds (Ecto's names). */
export interface OperationPhases {
  /** Waiting for a pooled connection. */
  readonly queue_time?: number;
  /** From sending the statement to its result. */
  readonly query_time?: number;
  /** Ecto's decoding of the result, for stores that measure it (pg and mysql2 do not). */
  readonly decode_time?: number;
  /** Ecto's time the connection sat idle before the checkout, for stores that measure it. */
  readonly idle_time?: number;
}

/**
 * Emits the start event (when someone listens) and returns the start time: a {@link readClock} reading, which
 * allocates nothing where `monotonicTime()` allocates a BigInt, and an operation reads the clock two to four times.
 */
export function startOperation(metadata: DbOperationMetadata): number {
  const now = readClock();
  if (hasHandlers(DB_OPERATION_EVENTS.start)) {
    try {
      execute(
        DB_OPERATION_EVENTS.start,
        { system_time: systemNs(now), monotonic_time: monotonicNs(now) },
        metadata as unknown as Metadata,
      );
    } catch (error) {
      logEmitFailure(error);
    }
  }
  return now;
}

/**
 * Emits the stop event of an operation that began at `start` (a {@link readClock} reading, as
 * {@link startOperation} returns): `{ duration, monotonic_time, …phases }`, with
 * `error_type` set (and `error` holding the error) when it failed; then, for a failure, the exception event
 * `{ duration, monotonic_time }` with `kind`, `reason` and `stacktrace` as `span` gives them. Never throws.
 */
export function finishOperation(
  start: number,
  metadata: DbOperationMetadata,
  error: unknown,
  errorType: string,
  phases?: OperationPhases,
  /** The end, when the caller already read the clock for its phases. */
  end?: number,
): void {
  const now = end ?? readClock();
  const duration = elapsedNs(start, now);
  const monotonic = monotonicNs(now);
  const failed = errorType !== '';
  const stopMetadata: Metadata = failed
    ? { ...metadata, error_type: errorType, error }
    : (metadata as unknown as Metadata);
  // One object shape for every stop event, built without a spread: an absent phase is `undefined`, which
  // metrics skip as missing, as they skip an absent key.
  const measurements = {
    duration,
    monotonic_time: monotonic,
    queue_time: phases?.queue_time,
    query_time: phases?.query_time,
    decode_time: phases?.decode_time,
    idle_time: phases?.idle_time,
  };
  try {
    execute(DB_OPERATION_EVENTS.stop, measurements, stopMetadata);
  } catch (failure) {
    logEmitFailure(failure);
  }
  if (failed && hasHandlers(DB_OPERATION_EVENTS.exception)) {
    guarded(() =>
      execute(
        DB_OPERATION_EVENTS.exception,
        { duration, monotonic_time: monotonic },
        {
          ...stopMetadata,
          kind: error instanceof Error ? 'error' : 'throw',
          reason: error,
          stacktrace: error instanceof Error ? error.stack : undefined,
        },
      ),
    );
  }
}

/** Runs an emission that must never reach the application's query (the hot path never throws). */
export function guarded(emit: () => void): void {
  try {
    emit();
  } catch (error) {
    logEmitFailure(error);
  }
}

/** Logs, once, that an emission failed: for emitters that guard with their own `try` to avoid a closure. */
export function logEmitFailure(error: unknown): void {
  processLog.errorOnce('db-operation', { err: error }, 'telemeter/db: failed to emit an operation event');
}
