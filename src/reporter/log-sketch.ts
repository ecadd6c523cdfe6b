import { invalidArgument } from '../errors.js';

/**
 * A quantile sketch with a relative-error guarantee (the DDSketch construction):
 * every value `x` goes to bin `ceil(log_γ |x|)` with `γ = (1 + α) / (1 − α)`, and a bin is read back as
 * `2γ^i / (γ + 1)`, which is within `α` of any value in it. Bins are plain counts, so two sketches with the
 * same accuracy merge exactly by adding counts: this is what lets summaries merge across windows and processes.
 *
 * Memory is bounded by `maxBins` per sign: past it, the lowest bins collapse into one, which only
 * loses accuracy for the smallest magnitudes (far below any quantile that matters for latency).
 *
 * A summary keeps several sketches per series (one per window slot), so a sketch is kept small: the constants of
 * its accuracy are shared (see {@link SketchMapping}), an empty bin store holds no array of its own, and bins are
 * 32-bit counts until one would overflow.
 */
export class LogSketch {
  readonly mapping: SketchMapping;
  readonly positive: BinStore;
  readonly negative: BinStore;
  zeroCount = 0;
  count = 0;

  constructor(relativeAccuracy: number, maxBins = 2048) {
    this.mapping = SketchMapping.of(relativeAccuracy);
    this.positive = new BinStore(maxBins);
    this.negative = new BinStore(maxBins);
  }

  add(value: number): void {
    this.addBin(signOf(value), this.mapping.binOf(value));
  }

  /**
   * Adds one value by its bin: `sign` is 1, -1, or 0 for a value counted as zero; `index` is
   * `mapping.indexOf(|value|)`. Recorders compute both themselves, so no call carries the double.
   */
  addBin(sign: number, index: number): void {
    if (sign > 0) this.positive.add(index);
    else if (sign < 0) this.negative.add(index);
    else this.zeroCount++;
    this.count++;
  }

  /** Adds every count of `other`, which must have the same relative accuracy. */
  merge(other: LogSketch): void {
    if (other.mapping !== this.mapping)
      invalidArgument('telemeter: cannot merge sketches of different accuracy');
    this.positive.merge(other.positive);
    this.negative.merge(other.negative);
    this.zeroCount += other.zeroCount;
    this.count += other.count;
  }

  clear(): void {
    this.positive.clear();
    this.negative.clear();
    this.zeroCount = 0;
    this.count = 0;
  }

  /**
   * The q-quantile (q in [0, 1]) by nearest rank (the ⌈q·n⌉-th smallest value), within the relative accuracy;
   * NaN when empty. Nearest rank keeps a p99 of a few slow requests on the slow side.
   */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(0, Math.ceil(q * this.count) - 1);
    let seen = 0;
    const neg = this.negative;
    for (let i = neg.counts.length - 1; i >= 0; i--) {
      seen += neg.counts[i];
      if (seen > rank) return -this.mapping.binValue(i + neg.offset);
    }
    seen += this.zeroCount;
    if (seen > rank) return 0;
    const pos = this.positive;
    for (let i = 0; i < pos.counts.length; i++) {
      seen += pos.counts[i];
      if (seen > rank) return this.mapping.binValue(i + pos.offset);
    }
    return pos.counts.length > 0 ? this.mapping.binValue(pos.counts.length - 1 + pos.offset) : 0;
  }
}

/** Values closer to zero than this are counted as zero. */
export const MIN_INDEXABLE = 1e-300;

/** 1 for a positive value, -1 for a negative one, 0 for one counted as zero (see `LogSketch.addBin`). */
export function signOf(value: number): number {
  return value > MIN_INDEXABLE ? 1 : value < -MIN_INDEXABLE ? -1 : 0;
}

/** The bins of one relative accuracy: one instance per accuracy, shared by all its sketches. */
export class SketchMapping {
  private static readonly byAccuracy = new Map<number, SketchMapping>();
  readonly gamma: number;
  readonly multiplier: number;

  private constructor(readonly relativeAccuracy: number) {
    this.gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.multiplier = 1 / Math.log(this.gamma);
  }

  static of(relativeAccuracy: number): SketchMapping {
    let mapping = SketchMapping.byAccuracy.get(relativeAccuracy);
    if (mapping === undefined) {
      mapping = new SketchMapping(relativeAccuracy);
      SketchMapping.byAccuracy.set(relativeAccuracy, mapping);
    }
    return mapping;
  }

  /** The bin index of any value; {@link signOf} says which side it goes to (0 for a value counted as zero). */
  binOf(value: number): number {
    return signOf(value) === 0 ? 0 : this.indexOf(Math.abs(value));
  }

  /** The bin of a magnitude above MIN_INDEXABLE. */
  indexOf(magnitude: number): number {
    // `|| 0` turns the -0 that Math.ceil gives just below 1 into 0. One -0 in a store's integer fields would
    // make V8 keep those fields as boxed doubles, in every store: 3 heap numbers each.
    return Math.ceil(Math.log(magnitude) * this.multiplier) || 0;
  }

  /**
   * {@link indexOf} as JavaScript source over the expression `magnitude`, with the multiplier as a literal,
   * for generated recorders. A test holds the two to the same bins.
   */
  indexSource(magnitude: string): string {
    return `(Math.ceil(Math.log(${magnitude}) * ${String(this.multiplier)}) || 0)`;
  }

  /** The value a bin stands for, within the accuracy of every value in it. */
  binValue(index: number): number {
    return (2 * this.gamma ** index) / (this.gamma + 1);
  }
}

/** The bins of every store that holds none yet. Never written: it has no slot. */
const NO_BINS = new Uint32Array(0);
/** Bins allocated at first use: 16 32-bit counts fit the 64 bytes that V8 keeps inside the typed array object. */
const FIRST_BINS = 16;

/**
 * Dense counts over a contiguous range of bin indices, starting at `offset`. The used range never spans more
 * than `maxBins`: an index below it is counted in its lowest bin.
 *
 * Counts are 32-bit integers, half the memory of doubles. A count that does not survive the store (past
 * 4 294 967 295, or a merged count that is not a whole number) moves this store's bins to float64, once.
 */
export class BinStore {
  counts: Uint32Array | Float64Array = NO_BINS;
  offset = 0;
  // The used range, valid once bins exist. Small integers from the start: an infinity here would make V8 keep
  // these fields as boxed doubles in every store.
  private minUsed = 0;
  private maxUsed = 0;

  constructor(private readonly maxBins: number) {}

  add(index: number, count = 1): void {
    if (this.counts.length === 0) {
      this.minUsed = index;
      this.maxUsed = index;
    } else if (this.maxUsed - index + 1 > this.maxBins) index = this.maxUsed - this.maxBins + 1;
    let slot = index - this.offset;
    if (slot < 0 || slot >= this.counts.length) {
      this.reallocate(Math.min(this.minUsed, index), Math.max(this.maxUsed, index));
      slot = index - this.offset;
    }
    this.addToSlot(slot, count);
    if (index < this.minUsed) this.minUsed = index;
    if (index > this.maxUsed) this.maxUsed = index;
  }

  merge(other: BinStore): void {
    for (let i = 0; i < other.counts.length; i++) {
      if (other.counts[i] !== 0) this.add(i + other.offset, other.counts[i]);
    }
  }

  clear(): void {
    this.counts.fill(0);
  }

  /** Moves the bins to float64 and returns them. */
  private widen(): Float64Array {
    const wide = Float64Array.from(this.counts);
    this.counts = wide;
    return wide;
  }

  private reallocate(low: number, high: number): void {
    if (high - low + 1 > this.maxBins) low = high - this.maxBins + 1;
    const used = high - low + 1;
    // Head room on both sides, so a drifting range does not reallocate on every new extreme.
    const spare =
      this.counts.length === 0
        ? Math.max(0, Math.min(this.maxBins, FIRST_BINS) - used)
        : Math.min(this.maxBins - used, Math.max(16, used >> 1));
    const newOffset = low - (spare >> 1);
    const old = this.counts;
    const oldOffset = this.offset;
    this.counts =
      old instanceof Float64Array ? new Float64Array(used + spare) : new Uint32Array(used + spare);
    this.offset = newOffset;
    // Bins below the new range collapse into its lowest one; addToSlot widens if that sum does not fit.
    for (let i = 0; i < old.length; i++) {
      const c = old[i];
      if (c !== 0) this.addToSlot(Math.max(i + oldOffset, low) - newOffset, c);
    }
    if (this.minUsed < low) this.minUsed = low;
  }

  private addToSlot(slot: number, count: number): void {
    const counts = this.counts;
    const next = counts[slot] + count;
    counts[slot] = next;
    // A 32-bit store wraps a count past 2^32 and truncates a fraction: what it kept tells.
    if (counts[slot] !== next) this.widen()[slot] = next;
  }
}
