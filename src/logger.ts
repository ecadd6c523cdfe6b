/**
 * Where telemeter reports its own problems: failing handlers, dropped measurements, warnings.
 * Every layer logs through this one sink so an application can route it into its own logger.
 */
export interface Logger {
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

const consoleLogger: Logger = {
  warn: (message, ...details) => console.warn(`[telemeter] ${message}`, ...details),
  error: (message, ...details) => console.error(`[telemeter] ${message}`, ...details),
};

let current: Logger = consoleLogger;
const alreadyLogged = new Set<string>();

/** Replaces the logger for every telemeter component; `null` restores the console logger. */
export function setLogger(logger: Logger | null): void {
  current = logger ?? consoleLogger;
}

/** The logger in effect. */
export function logger(): Logger {
  return current;
}

/**
 * Logs a warning only the first time `key` is seen, so a hot-path problem that repeats
 * a million times a second costs one line, not a flood.
 */
export function warnOnce(key: string, message: string, ...details: unknown[]): void {
  if (alreadyLogged.has(key)) return;
  alreadyLogged.add(key);
  current.warn(message, ...details);
}

/** Same as {@link warnOnce}, at error level. */
export function errorOnce(key: string, message: string, ...details: unknown[]): void {
  if (alreadyLogged.has(key)) return;
  alreadyLogged.add(key);
  current.error(message, ...details);
}
