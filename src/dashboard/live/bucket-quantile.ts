/**
 * The q-quantile of observations counted in histogram buckets, estimated as Prometheus'
 * `histogram_quantile` does: find the bucket holding rank `q · total` and interpolate linearly within it.
 *
 * - `bounds` are the finite upper bounds (inclusive `le`), ascending; `counts` has one more entry, the
 *   `+Inf` bucket, and holds per-bucket (not cumulative) counts, e.g. one interval's increase.
 * - The lowest bucket starts at 0 when its bound is positive (else its bound is the answer); a rank in
 *   `+Inf` gives the highest finite bound, since nothing is known above it.
 * - NaN when the buckets are empty, so a chart shows a gap rather than a made-up 0.
 *
 * `offset` lets the counts of one interval be read in place from a larger array.
 */
export function bucketQuantile(
  q: number,
  bounds: ArrayLike<number>,
  counts: ArrayLike<number>,
  offset = 0,
): number {
  const finite = bounds.length;
  let total = 0;
  for (let i = 0; i <= finite; i++) total += counts[offset + i];
  if (!(total > 0)) return Number.NaN;
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < finite; i++) {
    const count = counts[offset + i];
    if (below + count >= rank && count > 0) {
      const upper = bounds[i];
      if (i === 0 && upper <= 0) return upper;
      const lower = i === 0 ? 0 : bounds[i - 1];
      return lower + (upper - lower) * ((rank - below) / count);
    }
    below += count;
  }
  return finite > 0 ? bounds[finite - 1] : Number.NaN;
}
