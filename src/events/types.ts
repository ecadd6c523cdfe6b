import { TelemeterError } from '../errors.js';

/** Numeric facts about an event, such as `duration` (native units) or `bytes`. */
export type Measurements = Record<string, unknown>;

/** Context about an event, such as `route` or `status`. Tags of metrics are read from here. */
export type Metadata = Record<string, unknown>;

/**
 * A function attached to one or more events. It runs synchronously inside `execute`,
 * in the caller's call stack, so it must be quick.
 */
export type EventHandler<Config = unknown> = (
  eventName: string,
  measurements: Measurements,
  metadata: Metadata,
  config: Config,
) => void;

/** One attachment of a handler to an event, as returned by `listHandlers`. */
export interface HandlerInfo {
  readonly id: string;
  readonly eventName: string;
  readonly handler: EventHandler<any>;
  readonly config: unknown;
}

/** Raised by `attach` for a duplicate id (`already_exists`) and by `detach` for an unknown one (`not_found`). */
export class HandlerError extends TelemeterError {
  declare readonly code: 'already_exists' | 'not_found';
  constructor(code: 'already_exists' | 'not_found', message: string) {
    super(code, message);
    this.name = 'HandlerError';
  }
}
