/**
 * Unix milliseconds (fractions allowed, as `performance.timeOrigin + performance.now()` gives) as the nanoseconds
 * of an OTLP `fixed64` time. Nanoseconds since the epoch are above 2^53, where a double is 256 ns coarse: the
 * whole milliseconds and the fraction are converted apart, so the result is exact to the nanosecond given.
 */
export function unixNanos(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

/** {@link unixNanos} remembering its last two answers: the export's time and the start most points share. */
export class NanosCache {
  private ms = [Number.NaN, Number.NaN];
  private nanos = [0n, 0n];
  private next = 0;

  of(ms: number): bigint {
    if (ms === this.ms[0]) return this.nanos[0];
    if (ms === this.ms[1]) return this.nanos[1];
    const slot = this.next;
    this.next = 1 - slot;
    this.ms[slot] = ms;
    this.nanos[slot] = unixNanos(ms);
    return this.nanos[slot];
  }
}
