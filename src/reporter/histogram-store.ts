import { ensureCapacity } from './growable.js';
import type { NativeHistogramStore } from './native-histogram.js';
import { stagedValue } from './staged-value.js';

// Measured crossover: a linear scan beats binary search for short bound lists (fewer branches, one cache line).
const LINEAR_SEARCH_LIMIT = 16;
/** The largest count a 32-bit store holds. */
export const MAX_UINT32 = 0xffffffff;

/**
 * Bucket counts and sum for every series of one distribution, in flat typed arrays:
 * series `s` owns `counts[s * slots .. s * slots + bounds.length]`, the last slot being `+Inf`.
 * Counts are per bucket (not cumulative) so an observation touches one slot; exposition cumulates, and a
 * series' count is the sum of its buckets, so it is not stored twice.
 *
 * Counts start as 32-bit integers, half the memory of doubles. The first count that would leave that range
 * (4 294 967 295 observations in one bucket of one series, or a merged delta that is not a whole number) moves
 * the whole store to float64, once, so no count is ever lost or wrapped.
 *
 * A distribution with native buckets (`histogram: 'native'` or `'both'`) keeps them in {@link native}, which this
 * store grows, resets and records into with its own buckets: the sum and count here are the native histogram's
 * too. A native-only distribution has no bounds here, so its one bucket, `+Inf`, holds the count.
 */
export class HistogramStore {
  readonly slots: number;
  counts: Uint32Array | Float64Array;
  sums: Float64Array = new Float64Array(8);
  /** The bounds, then +Infinity: the linear scan stops there at the latest, with one comparison per bound. */
  private readonly scanBounds: Float64Array;

  constructor(
    readonly bounds: Float64Array,
    /** The series' native buckets, when the distribution keeps them. */
    readonly native?: NativeHistogramStore,
  ) {
    this.slots = bounds.length + 1;
    this.counts = new Uint32Array(8 * this.slots);
    this.scanBounds = Float64Array.from([...bounds, Number.POSITIVE_INFINITY]);
  }

  grow(series: number): void {
    this.counts = ensureCapacity(this.counts, series * this.slots);
    this.sums = ensureCapacity(this.sums, series);
    this.native?.grow(series);
  }

  reset(series: number): void {
    this.counts.fill(0, series * this.slots, (series + 1) * this.slots);
    this.sums[series] = 0;
    this.native?.reset(series);
  }

  /** Index of the first bucket whose bound is >= value (inclusive `le`), or `bounds.length` for +Inf. */
  bucketOf(value: number): number {
    const bounds = this.bounds;
    const n = bounds.length;
    if (n <= LINEAR_SEARCH_LIMIT) {
      const scan = this.scanBounds;
      let i = 0;
      while (value > scan[i]) i++;
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
    stagedValue[0] = value;
    this.observeStaged(series);
  }

  /** {@link observe} of the value in `stagedValue`, into the classic buckets and then the native ones. */
  observeStaged(series: number): void {
    const value = stagedValue[0];
    this.observeInBucket(series, this.bucketOf(value), value);
    // The native store reads the same staged value.
    this.native?.observeStaged(series);
  }

  /**
   * Records `value` into classic bucket `bucket` of series `s`; generated recorders find the bucket themselves, and
   * record into {@link native} themselves.
   */
  observeInBucket(series: number, bucket: number, value: number): void {
    const counts = this.counts;
    const cell = series * this.slots + bucket;
    const count = counts[cell] + 1;
    if (count <= MAX_UINT32 || counts instanceof Float64Array) counts[cell] = count;
    else this.widen(cell, count);
    this.sums[series] += value;
  }

  /** Adds `delta` observations to one bucket of one series (merges from other processes). */
  addToBucket(series: number, slot: number, delta: number): void {
    const cell = series * this.slots + slot;
    const count = this.counts[cell] + delta;
    if (this.counts instanceof Float64Array || (Number.isInteger(count) && count >= 0 && count <= MAX_UINT32))
      this.counts[cell] = count;
    else this.widen(cell, count);
  }

  /** Observations in series `s`: the sum of its buckets. */
  count(series: number): number {
    const counts = this.counts;
    const base = series * this.slots;
    let total = 0;
    for (let b = 0; b < this.slots; b++) total += counts[base + b];
    return total;
  }

  private widen(cell: number, count: number): void {
    this.counts = Float64Array.from(this.counts);
    this.counts[cell] = count;
  }
}
