/**
 * The `native` time unit of telemeter, as in Erlang: integer nanoseconds.
 *
 * `process.hrtime.bigint()` counts from an arbitrary origin (host boot on Linux), which passes
 * 2^53 ns after ~104 days, where a JS number stops holding integers. Measuring from this
 * module's load keeps monotonic times exact for 104 days of process uptime instead.
 */
const origin = process.hrtime.bigint();

/** Monotonic time in nanoseconds since telemeter was loaded. Only differences are meaningful. */
export function monotonicTime(): number {
  return Number(process.hrtime.bigint() - origin);
}

/** Wall-clock time in nanoseconds since the Unix epoch (microsecond resolution). */
export function systemTime(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1e6);
}
