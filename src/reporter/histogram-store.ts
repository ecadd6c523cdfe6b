import { ensureCapacity } from './growable.js';

// Measured crossover: a linear scan beats binary search for short bound lists (fewer branches, one cache line).
const LINEAR_SEARCH_LIMIT = 16;

/**
 * Bucket counts, sum and count for every series of one distribution, in flat typed arrays:
 * series `s` owns `counts[s * slots .. s * slots + bounds.length]`, the last slot being `+Inf`.
 * Counts are per bucket (not cumulative) so an observation touches one slot; exposition cumulates.
 */
export class HistogramStore {
  readonly slots: number;
  counts: Float64Array;
  sums: Float64Array = new Float64Array(8);
  totals: Float64Array = new Float64Array(8);

  constructor(readonly bounds: Float64Array) {
    this.slots = bounds.length + 1;
    this.counts = new Float64Array(8 * this.slots);
  }

  grow(series: number): void {
    this.counts = ensureCapacity(this.counts, series * this.slots);
    this.sums = ensureCapacity(this.sums, series);
    this.totals = ensureCapacity(this.totals, series);
  }

  reset(series: number): void {
    this.counts.fill(0, series * this.slots, (series + 1) * this.slots);
    this.sums[series] = 0;
    this.totals[series] = 0;
  }

  /** Index of the first bucket whose bound is >= value (inclusive `le`), or `bounds.length` for +Inf. */
  bucketOf(value: number): number {
    const bounds = this.bounds;
    const n = bounds.length;
    if (n <= LINEAR_SEARCH_LIMIT) {
      let i = 0;
      while (i < n && value > bounds[i]) i++;
      return i;
    }
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (value > bounds[mid]) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  observe(series: number, value: number): void {
    this.counts[series * this.slots + this.bucketOf(value)] += 1;
    this.sums[series] += value;
    this.totals[series] += 1;
  }
}
