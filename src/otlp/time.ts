/**
 * Unix milliseconds (fractions allowed, as `performance.timeOrigin + performance.now()` gives) as the nanoseconds
 * of an OTLP `fixed64` time. Nanoseconds since the epoch are above 2^53, where a double is 256 ns coarse: the
 * whole milliseconds and the fraction are converted apart, so the result is exact to the nanosecond given.
 */
export function unixNanos(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}
