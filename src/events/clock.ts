/**
 * The `native` time unit of telemeter, as in Erlang: integer nanoseconds.
 *
 * `process.hrtime.bigint()` counts from an arbitrary origin (host boot on Linux), which passes
 * 2^53 ns after ~104 days, where a JS number stops holding integers. Measuring from this
 * module's load keeps monotonic times exact for 104 days of process uptime instead.
 *
 * A Cloudflare Worker without `nodejs_compat` has no `process`: there the monotonic clock is
 * `performance.now()`, which the Workers runtime advances only across I/O (see docs/runtimes.md).
 */
const hrtime = (globalThis as { process?: { hrtime?: { bigint?: () => bigint } } }).process?.hrtime;
const origin = typeof hrtime?.bigint === 'function' ? hrtime.bigint() : undefined;
const performanceOrigin = performance.now();

function hrtimeSinceLoad(): number {
  return Number(process.hrtime.bigint() - (origin as bigint));
}

function performanceSinceLoad(): number {
  return Math.round((performance.now() - performanceOrigin) * 1e6);
}

/** Monotonic time in nanoseconds since telemeter was loaded. Only differences are meaningful. */
export const monotonicTime: () => number = origin === undefined ? performanceSinceLoad : hrtimeSinceLoad;

/** Wall-clock time in nanoseconds since the Unix epoch (microsecond resolution). */
export function systemTime(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1e6);
}
