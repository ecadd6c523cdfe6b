/** The part of `perf_hooks.IntervalHistogram` (an HDR histogram) that {@link groupDelaySamples} reads. */
export interface DelayHistogramLike {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  /** The value at percentile `p` (0 < p ≤ 100): the k-th smallest recorded value for p = 100·k/count. */
  percentile(p: number): number;
}

/** `count` observations of `value` (nanoseconds). */
export interface SampleGroup {
  readonly value: number;
  readonly count: number;
}

/**
 * Turns one period's delay histogram back into observations that a distribution can record, so an exported
 * histogram matches what `monitorEventLoopDelay` saw, period by period.
 *
 * The HDR histogram cannot list its samples, but `percentile(100·k/n)` is the k-th smallest one, so the number
 * of samples at or below any `cut` is found by binary search. The result has one group per non-empty cell
 * between consecutive cuts, with the cell's exact sample count, so a distribution whose bucket bounds are among
 * the cuts gets exact bucket counts (to the HDR's 3 significant digits). Each group's value is the cell's median
 * sample, then moved inside the cell so that the groups add up to `mean · count`, which makes `_sum` right too.
 * Values stay 1 ns below the cell's upper cut, so converting to seconds cannot round them into the next bucket.
 *
 * Cost: two percentile lookups, plus about log2(count) for each cut between the smallest and largest sample,
 * plus one per non-empty cell. A steady loop spans one or two cuts.
 *
 * @param cuts bucket bounds in nanoseconds, ascending.
 */
export function groupDelaySamples(histogram: DelayHistogramLike, cuts: readonly number[]): SampleGroup[] {
  const n = histogram.count;
  if (!(n > 0)) return [];
  const rank = (k: number): number => histogram.percentile((100 * k) / n);
  const lowest = rank(1);
  const highest = n === 1 ? lowest : rank(n);

  // Cells are rank ranges (start, end] with the cuts that enclose them.
  const cells: Array<{ start: number; end: number; floor: number; ceiling: number }> = [];
  let floor = Number.NEGATIVE_INFINITY;
  let start = 0;
  let ceiling = Number.POSITIVE_INFINITY;
  for (const cut of cuts) {
    if (cut < lowest) {
      floor = cut;
      continue;
    }
    if (cut >= highest) {
      ceiling = cut;
      break;
    }
    // rank(start) <= previous cut < cut, and rank(n) > cut: the answer is in [max(start, 1), n - 1].
    let lo = Math.max(start, 1);
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (rank(mid) <= cut) lo = mid;
      else hi = mid - 1;
    }
    if (lo > start) cells.push({ start, end: lo, floor, ceiling: cut });
    start = lo;
    floor = cut;
  }
  cells.push({ start, end: n, floor, ceiling });

  const values: number[] = [];
  const lows: number[] = [];
  const highs: number[] = [];
  let total = 0;
  for (const cell of cells) {
    const count = cell.end - cell.start;
    const low = Math.max(cell.floor + 1, histogram.min);
    const high = Math.max(low, Math.min(cell.ceiling - 1, histogram.max));
    const median = rank(cell.start + Math.ceil(count / 2));
    const value = Math.min(high, Math.max(low, median));
    values.push(value);
    lows.push(low);
    highs.push(high);
    total += value * count;
  }

  // Spread the difference to mean·count over the cells, in proportion to how far each can move.
  const missing = histogram.mean * n - total;
  if (Number.isFinite(missing) && missing !== 0) {
    let room = 0;
    cells.forEach((cell, i) => {
      room += (missing > 0 ? highs[i] - values[i] : values[i] - lows[i]) * (cell.end - cell.start);
    });
    if (room > 0) {
      const share = Math.min(1, Math.abs(missing) / room);
      for (let i = 0; i < cells.length; i++) {
        values[i] += missing > 0 ? (highs[i] - values[i]) * share : -(values[i] - lows[i]) * share;
      }
    }
  }
  return cells.map((cell, i) => ({ value: values[i], count: cell.end - cell.start }));
}
