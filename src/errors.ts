/**
 * Every error telemeter throws carries one of these codes, so tests and applications match the code, not the
 * message. The messages name the metric, the option and the fix; the codes never change within a major version.
 * docs/errors.md lists the same table, and a test keeps the two in step.
 */
export const ERROR_CODES = {
  ERR_TELEMETER_UNKNOWN_OPTION:
    'An options object has a key the function does not read (a typo, usually); the message names the closest valid key.',
  ERR_TELEMETER_INVALID_OPTION:
    'An option has a value that is invalid or could never work: wrong type, out of range, a reserved label, a token no client can send.',
  ERR_TELEMETER_INVALID_ARGUMENT:
    'A positional argument is invalid: a metric or event name, a handler id, a handler, a mount path, or a Telemeter where one is needed.',
  ERR_TELEMETER_DUPLICATE_NAME: 'Two metrics of one Telemeter would export the same sample name.',
  ERR_TELEMETER_UNKNOWN_METRIC: '`bind()` names a metric that the Telemeter does not define.',
  ERR_TELEMETER_INVALID_TAGS:
    '`bind()` is missing a tag of the metric, or a tag value is not a string, number, boolean or bigint.',
  ERR_TELEMETER_INVALID_STATE:
    'A call that the object is not in a state to take: a second worker link for one Telemeter, a primary where a worker is needed.',
  ERR_TELEMETER_LISTEN:
    'The metrics server (or the demo shop) could not bind its port; `cause` holds the system error.',
  ERR_TELEMETER_MISSING_DEPENDENCY:
    'A feature needs a package or file that is not installed: uPlot or the page files of the live dashboard, a built-in metric set of the CLI.',
  ERR_TELEMETER_PUSH_FAILED:
    'A push did not land: the receiver answered outside 2xx (`status`, its answer in `body`), or could not be reached in time (`cause`).',
  already_exists: '`attach()` with a handler id that is already attached (the name :telemetry uses).',
  not_found: '`detach()` with a handler id that is not attached (the name :telemetry uses).',
} as const;

/** A code from {@link ERROR_CODES}. */
export type TelemeterErrorCode = keyof typeof ERROR_CODES;

/** A start-up error in an argument or option: a `TypeError` with a stable {@link TelemeterErrorCode}. */
export class TelemeterTypeError extends TypeError {
  readonly code: TelemeterErrorCode;
  constructor(code: TelemeterErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** A run-time failure (a port that cannot be bound): an `Error` with a stable {@link TelemeterErrorCode}. */
export class TelemeterError extends Error {
  readonly code: TelemeterErrorCode;
  constructor(code: TelemeterErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Throws an `ERR_TELEMETER_INVALID_OPTION` error with `message`. */
export function invalidOption(message: string): never {
  throw new TelemeterTypeError('ERR_TELEMETER_INVALID_OPTION', message);
}

/** Throws an `ERR_TELEMETER_INVALID_ARGUMENT` error with `message`. */
export function invalidArgument(message: string): never {
  throw new TelemeterTypeError('ERR_TELEMETER_INVALID_ARGUMENT', message);
}
