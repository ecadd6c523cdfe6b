import { TelemeterError } from '../errors.js';

/**
 * A push or delete that did not land, with code `ERR_TELEMETER_PUSH_FAILED`. Either the gateway answered with a
 * status outside 2xx (`status` is set, `body` holds the start of its answer, which says why: a parse error, a
 * metric whose type clashes with another group's, ...), or it could not be reached, or not within the timeout
 * (`status` is undefined, `cause` holds the network error).
 */
export class PushgatewayError extends TelemeterError {
  /** `'PUT'`, `'POST'` or `'DELETE'`. */
  readonly method: string;
  /** The group's URL, without credentials. */
  readonly url: string;
  /** The HTTP status, when the gateway answered. */
  readonly status: number | undefined;
  /** The first kilobyte of the gateway's answer, trimmed; `''` when there was none. */
  readonly body: string;

  constructor(
    message: string,
    details: { method: string; url: string; status?: number; body?: string },
    options?: ErrorOptions,
  ) {
    super('ERR_TELEMETER_PUSH_FAILED', message, options);
    this.name = 'PushgatewayError';
    this.method = details.method;
    this.url = details.url;
    this.status = details.status;
    this.body = details.body ?? '';
  }
}
