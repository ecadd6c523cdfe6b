import { monotonicTime } from './clock.js';

/**
 * The clock of per-operation timing (HTTP requests, database and cache commands). `performance.now()` reads the
 * same monotonic clock as telemeter's `monotonicTime()` (libuv's hrtime) but returns a double instead of
 * allocating a BigInt, which matters when it runs twice per operation. Readings are milliseconds; the helpers below turn them into telemeter's native
 * nanoseconds on the `monotonicTime()` and `systemTime()` scales.
 */
export const readClock: () => number = () => performance.now();

// The two clocks differ by a constant: measure it once, between two readings, to within a microsecond.
const before = performance.now();
const monotonicAtLoad = monotonicTime();
const after = performance.now();
const offsetNs = monotonicAtLoad - ((before + after) / 2) * 1e6;
// A getter that calls into the runtime on every read; the value never changes.
const timeOrigin = performance.timeOrigin;

/** Native nanoseconds between two readings. */
export function elapsedNs(startMs: number, endMs: number): number {
  return Math.round((endMs - startMs) * 1e6);
}

/** A reading on the `monotonicTime()` scale, in nanoseconds. */
export function monotonicNs(readingMs: number): number {
  return Math.round(readingMs * 1e6 + offsetNs);
}

/** A reading as wall-clock nanoseconds since the epoch, like `systemTime()`. */
export function systemNs(readingMs: number): number {
  return Math.round((timeOrigin + readingMs) * 1e6);
}
