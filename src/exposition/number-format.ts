const SMALL_INTEGERS: readonly string[] = Array.from({ length: 4096 }, (_, i) => String(i));

/**
 * A sample value as both text formats spell it: `NaN`, `+Inf`, `-Inf`, or the shortest round-trip decimal.
 * (JS's own `Infinity` is accepted as a value by some parsers but not as an `le`, so it is never emitted.)
 */
export function formatValue(value: number): string {
  // Bucket counts are mostly small integers: a table lookup instead of a number-to-string conversion.
  if (value >= 0 && value < SMALL_INTEGERS.length && Number.isInteger(value) && !Object.is(value, -0)) {
    return SMALL_INTEGERS[value];
  }
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/**
 * The canonical spelling OpenMetrics requires for `le` and `quantile` label values: Go's `%g` shortest form
 * (exponent when it is below -4 or at least 6, with a sign and two digits) plus `.0` when there is neither a
 * `.` nor an exponent. `0.005 → 0.005`, `1 → 1.0`, `1e6 → 1e+06`, `1234567 → 1.234567e+06`, `1e-5 → 1e-05`.
 * Used in both formats, because Prometheus stores `le` verbatim and two spellings would be two series.
 */
export function formatCanonical(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const exponential = value.toExponential();
  const e = exponential.indexOf('e');
  const exponent = Number(exponential.slice(e + 1));
  if (exponent < -4 || exponent >= 6) {
    const sign = exponent < 0 ? '-' : '+';
    const digits = String(Math.abs(exponent)).padStart(2, '0');
    return `${exponential.slice(0, e)}e${sign}${digits}`;
  }
  const fixed = String(value);
  return fixed.includes('.') ? fixed : `${fixed}.0`;
}
