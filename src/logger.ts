/** What comes with a log line: the error as `err`, the metric, the handler id, the event. */
export type LogFields = Record<string, unknown>;

/**
 * Where telemeter reports its own problems: failing handlers, dropped measurements, warnings.
 *
 * Calls take pino's order, `(fields, message)`, so a pino (or bunyan) logger can be passed as it is and files an
 * error under `err`. A logger that throws is ignored: logging never breaks the application or the metrics.
 */
export interface Logger {
  warn(fields: LogFields, message: string): void;
  error(fields: LogFields, message: string): void;
}

const consoleLogger: Logger = {
  warn: (fields, message) => writeToConsole('warn', fields, message),
  error: (fields, message) => writeToConsole('error', fields, message),
};

function writeToConsole(level: 'warn' | 'error', fields: LogFields, message: string): void {
  const { err, ...rest } = fields;
  const details: unknown[] = Object.keys(rest).length > 0 ? [rest] : [];
  if (err !== undefined) details.push(err);
  console[level](`[telemeter] ${message}`, ...details);
}

let processLogger: Logger = consoleLogger;

/**
 * Replaces the process-wide logger: the one the event bus, the instrumentation and every Telemeter without a
 * `logger` option report through. `null` restores the console logger.
 */
export function setLogger(logger: Logger | null): void {
  if (logger !== null) checkLogger(logger, 'setLogger');
  processLogger = logger ?? consoleLogger;
}

/** @throws TypeError when `logger` lacks `warn` or `error`. */
export function checkLogger(logger: unknown, where: string): Logger {
  const candidate = logger as Partial<Logger> | null;
  if (typeof candidate?.warn !== 'function' || typeof candidate.error !== 'function') {
    // errors.ts is not imported here: the logger is below every other module.
    const error = new TypeError(`telemeter: ${where}: a logger must have warn and error methods`);
    (error as TypeError & { code: string }).code = 'ERR_TELEMETER_INVALID_OPTION';
    throw error;
  }
  return candidate as Logger;
}

/**
 * A logger that never throws, with warn-once state of its own: a Telemeter has one (its `logger` option, or the
 * process-wide logger at the time of each call), and so does the process (`processLog`).
 */
export class LogSink implements Logger {
  private readonly logged = new Set<string>();

  constructor(private readonly target: Logger | undefined) {}

  warn(fields: LogFields, message: string): void {
    emit(this.target ?? processLogger, 'warn', fields, message);
  }

  error(fields: LogFields, message: string): void {
    emit(this.target ?? processLogger, 'error', fields, message);
  }

  /**
   * Logs a warning only the first time `key` is seen, so a hot-path problem that repeats a million times a second
   * costs one line, not a flood.
   */
  warnOnce(key: string, fields: LogFields, message: string): void {
    if (this.first(key)) this.warn(fields, message);
  }

  /** Same as {@link warnOnce}, at error level. */
  errorOnce(key: string, fields: LogFields, message: string): void {
    if (this.first(key)) this.error(fields, message);
  }

  private first(key: string): boolean {
    if (this.logged.has(key)) return false;
    this.logged.add(key);
    return true;
  }
}

function emit(logger: Logger, level: 'warn' | 'error', fields: LogFields, message: string): void {
  try {
    logger[level](fields, message);
  } catch {
    // A logger that throws must not turn a logged problem into an exception in the application's call.
  }
}

/** The process-wide sink, for code that belongs to no Telemeter (the event bus, instrumentation, definitions). */
export const processLog = new LogSink(undefined);
