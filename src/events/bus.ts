import { invalidArgument } from '../errors.js';
import { processLog } from '../logger.js';
import { monotonicTime, systemTime } from './clock.js';
import { validateEventName } from './event-name.js';
import { type Attachment, type HandlerFailure, HandlerTable } from './handler-table.js';
import {
  type EventHandler,
  HandlerError,
  type HandlerInfo,
  type Measurements,
  type Metadata,
} from './types.js';

/** The event emitted after a handler throws and is detached, as :telemetry's `[telemetry, handler, failure]`. */
export const HANDLER_FAILURE_EVENT = 'telemetry.handler.failure';

const table = new HandlerTable(handleFailure);
const byEvent = table.byEvent;
const dispatchByEvent = table.dispatchByEvent;
const EMPTY_METADATA: Metadata = Object.freeze({}) as Metadata;

/**
 * Attaches `handler` to one event under a globally unique `id`.
 *
 * The handler is called as `handler(eventName, measurements, metadata, config)`, synchronously,
 * inside every `execute` of exactly that name. If it throws, it is detached from all its events,
 * a `telemetry.handler.failure` event is emitted, the error is logged, and the other handlers
 * of the event still run.
 *
 * @throws HandlerError with code `already_exists` when `id` is taken.
 */
export function attach<Config = unknown>(
  id: string,
  eventName: string,
  handler: EventHandler<Config>,
  config?: Config,
): void {
  attachMany(id, [eventName], handler, config);
}

/**
 * Attaches one handler to several events under one id. A failure on any of them detaches it from all.
 *
 * @throws HandlerError with code `already_exists` when `id` is taken.
 */
export function attachMany<Config = unknown>(
  id: string,
  eventNames: readonly string[],
  handler: EventHandler<Config>,
  config?: Config,
): void {
  if (typeof id !== 'string' || id === '') {
    invalidArgument('telemeter: attach: the handler id must be a non-empty string');
  }
  if (!Array.isArray(eventNames) || eventNames.length === 0) {
    invalidArgument(`telemeter: attach "${id}": eventNames must be a non-empty array of event names`);
  }
  if (typeof handler !== 'function') {
    invalidArgument(`telemeter: attach "${id}": the handler must be a function`);
  }
  const names = [...new Set(eventNames.map((name) => validateEventName(name, `attach "${id}"`)))];
  table.add({ id, eventNames: names, handler: handler as EventHandler<any>, config, failure: undefined });
}

/**
 * Detaches the handler `id` from every event it was attached to.
 *
 * @throws HandlerError with code `not_found` when no handler has that id.
 */
export function detach(id: string): void {
  const attachment = table.get(id);
  if (attachment === undefined || !table.remove(attachment)) {
    throw new HandlerError('not_found', `telemeter: no handler with id "${id}" is attached`);
  }
}

/**
 * Lists the attachments whose event name starts with `prefix`, segment by segment
 * (`'http'` matches `http.request.stop`, not `https.get`). An empty prefix lists all.
 * A handler attached to several events appears once per event.
 */
export function listHandlers(prefix = ''): HandlerInfo[] {
  return table.list(prefix);
}

/**
 * Whether any handler is attached to exactly `eventName`. An emitter whose event is costly to build (a timestamp,
 * a metadata object) can skip it when nobody listens, as with diagnostics_channel's `hasSubscribers`.
 */
export function hasHandlers(eventName: string): boolean {
  return byEvent.has(eventName);
}

/**
 * Emits an event: runs every handler attached to exactly `eventName`, synchronously, in the caller's stack.
 *
 * Measurements are numbers keyed by name (`{ duration: 1_500_000 }`); durations are in the native unit,
 * nanoseconds. Passing a bare number is deprecated and means `{ value: n }`.
 * Never throws because of a handler.
 */
export function execute(eventName: string, measurements: Measurements | number, metadata?: Metadata): void {
  const dispatch = dispatchByEvent.get(eventName);
  if (dispatch === undefined) return;
  if (typeof measurements === 'number') measurements = legacyMeasurements(eventName, measurements);
  dispatch(eventName, measurements, metadata ?? EMPTY_METADATA);
}

function legacyMeasurements(eventName: string, value: number): Measurements {
  processLog.warnOnce(
    'execute-number',
    {},
    `execute("${eventName}", <number>) is deprecated: pass { value: n } instead`,
  );
  return { value };
}

/**
 * Detaches a handler that threw, then logs and emits the failure, once.
 *
 * A handler that recursed into a stack overflow fails deep in that stack, where removing it can overflow again: the
 * removal either completes or changes nothing, and in the second case the error goes up to the dispatch of the
 * shallower call, which calls this again. Such a failure is reported once the stack has unwound (a microtask):
 * reading the error's stack there runs source-map code whose regular expressions V8 cannot compile without stack,
 * and it aborts the process instead of throwing.
 */
function handleFailure(attachment: Attachment, eventName: string, error: unknown): void {
  if (attachment.failure === undefined) {
    // Another event may have detached it already while this one was running.
    if (table.get(attachment.id) !== attachment) return;
    const failure: HandlerFailure = { eventName, error, logged: false, emitted: false, deferred: false };
    table.remove(attachment);
    attachment.failure = failure;
  }
  const failure = attachment.failure;
  if (failure.deferred) return;
  if (isStackOverflow(failure.error)) {
    queueMicrotask(() => reportFailure(attachment, failure));
    failure.deferred = true;
    return;
  }
  reportFailure(attachment, failure);
}

function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && error.message === 'Maximum call stack size exceeded';
}

/** Logs and emits `failure`; each at most once, even when called again after a throw. */
function reportFailure(attachment: Attachment, failure: HandlerFailure): void {
  const { eventName, error } = failure;
  if (!failure.logged) {
    processLog.error(
      { err: error, handler_id: attachment.id, event_name: eventName },
      `handler "${attachment.id}" has failed and has been detached (event "${eventName}")`,
    );
    failure.logged = true;
  }
  if (failure.emitted) return;
  // Marked before the event, so that a failure handler that fails in turn does not report this one again.
  failure.emitted = true;
  execute(
    HANDLER_FAILURE_EVENT,
    { monotonic_time: monotonicTime(), system_time: systemTime() },
    {
      event_name: eventName,
      handler_id: attachment.id,
      handler_config: attachment.config,
      kind: error instanceof Error ? 'error' : 'throw',
      reason: error,
      stacktrace: error instanceof Error ? error.stack : undefined,
    },
  );
}
