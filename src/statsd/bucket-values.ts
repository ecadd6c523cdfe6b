/**
 * Chooses the value each grown bucket is sent as, so that a StatsD server which only sees `value × count` pairs
 * gets every sample inside its true bucket and, as far as the bucket ranges allow, the true sum.
 *
 * `counts[i]` is how much bucket `i` grew (bucket `i` is `(bounds[i−1], bounds[i]]`, the last one `(last bound, ∞)`)
 * and `sum` is the sum of those new samples. Writes the values into `out` for every bucket with a count.
 *
 * - A bounded bucket starts at its midpoint; the first bucket starts at the midpoint of `[0, bound]` when its bound
 *   is positive (latencies and sizes are not negative), else at its bound. The overflow bucket starts at the last
 *   finite bound: never `+Inf`, which Peep sends as `infinity`.
 * - The difference between `sum` and those guesses is then explained: a positive one by the overflow bucket (the
 *   only samples with no upper limit), a negative one by moving values down within their buckets, and what is left
 *   by the first bucket (the only one with no lower limit). Otherwise the values move proportionally towards the
 *   edge of their bucket, never past it.
 *
 * When one bucket grew, its value is therefore the exact mean of its new samples (clamped to the bucket).
 * `lower` and `upper` are scratch space of `bounds.length + 1` entries, so a flush allocates nothing per series.
 */
export function bucketValues(
  bounds: Float64Array,
  counts: Float64Array,
  sum: number,
  out: Float64Array,
  lower: Float64Array,
  upper: Float64Array,
): void {
  const k = bounds.length;
  if (k === 0) {
    out[0] = counts[0] > 0 && Number.isFinite(sum / counts[0]) ? sum / counts[0] : 0;
    return;
  }
  let guessed = 0;
  for (let i = 0; i <= k; i++) {
    lower[i] = i === 0 ? Math.min(bounds[0], 0) : bounds[i - 1];
    upper[i] = i === k ? bounds[k - 1] : bounds[i];
    out[i] = (lower[i] + upper[i]) / 2;
    guessed += counts[i] * out[i];
  }
  const residual = sum - guessed;
  if (!Number.isFinite(residual) || residual === 0) return;

  if (residual > 0) {
    if (counts[k] > 0) {
      out[k] += residual / counts[k];
      return;
    }
    let room = 0;
    for (let i = 0; i < k; i++) room += counts[i] * (upper[i] - out[i]);
    if (room <= 0) return;
    const share = Math.min(1, residual / room);
    for (let i = 0; i < k; i++) if (counts[i] > 0) out[i] += share * (upper[i] - out[i]);
    return;
  }

  const deficit = -residual;
  let room = 0;
  for (let i = 0; i <= k; i++) room += counts[i] * (out[i] - lower[i]);
  const share = room > 0 ? Math.min(1, deficit / room) : 0;
  if (share > 0) for (let i = 0; i <= k; i++) if (counts[i] > 0) out[i] -= share * (out[i] - lower[i]);
  const left = deficit - Math.min(deficit, room);
  if (left > 0 && counts[0] > 0) out[0] -= left / counts[0];
}
