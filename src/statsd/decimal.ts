/**
 * A finite number as the shortest decimal that reads back as the same double, always in positional notation:
 * `1e-7 → 0.0000001`, `3.3333333333333334e-8 → 0.000000033333333333333334`, `1e21 → 1000000000000000000000`.
 *
 * StatsD servers parse a sample rate with `^@([\d.]+)` (Etsy's daemon), so an exponent would be cut off and the
 * rest misread; positional notation is the one spelling every server reads. Nothing is rounded: Peep's 2-decimal
 * gauges turn 0.004 into 0.0, and its 6-decimal rates turn 1/30 000 into 30 303 samples.
 */
export function formatDecimal(value: number): string {
  const shortest = String(value);
  const e = shortest.indexOf('e');
  if (e < 0) return shortest;
  const exponent = Number(shortest.slice(e + 1));
  const negative = shortest[0] === '-';
  const mantissa = shortest.slice(negative ? 1 : 0, e);
  const dot = mantissa.indexOf('.');
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  const point = (dot < 0 ? mantissa.length : dot) + exponent;
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return negative ? `-${out}` : out;
}

/** True when a server that reads `@<1/n>` and computes `1 / rate` gets `n` back exactly. */
function reciprocalRoundTrips(n: number): boolean {
  return 1 / (1 / n) === n;
}

const MAX_SPLIT = 64;

/**
 * Sample-rate suffixes (`''` for rate 1, or `|@<rate>`) for lines that together stand for `count` identical
 * samples: a server adds `1 / rate` per line, and the sum is exactly `count`.
 *
 * For most counts one line with rate `1/count` does it. For some (49, 93, 98, …, about 16% of counts) no double
 * `r` has `1 / r === count`; those are sent as two lines, `count − k` and `k`, each of which reads back exactly,
 * so a server's count is an exact integer instead of `48.99999999999999`.
 */
export function sampleRateSuffixes(count: number): string[] {
  if (count === 1) return [''];
  if (!Number.isSafeInteger(count) || count < 1 || reciprocalRoundTrips(count)) {
    return [`|@${formatDecimal(1 / count)}`];
  }
  for (let k = 1; k <= MAX_SPLIT && k < count; k++) {
    const rest = count - k;
    if (reciprocalRoundTrips(rest) && reciprocalRoundTrips(k)) {
      return [rest === 1 ? '' : `|@${formatDecimal(1 / rest)}`, k === 1 ? '' : `|@${formatDecimal(1 / k)}`];
    }
  }
  return [`|@${formatDecimal(1 / count)}`];
}
