import {
  bucketIndex,
  bucketIndexSource,
  downscaleIndex,
  type IndexTables,
  indexTables,
  MAX_SCHEMA,
  MIN_SCHEMA,
  upperBound,
} from './native-histogram.js';

/**
 * A quantile sketch with a relative-error guarantee, on the base-2 exponential buckets of Prometheus' native
 * histograms: at schema `n`, every value `x` goes to bucket `i` with `base^(i-1) < |x| <= base^i`,
 * `base = 2^(2^-n)` (the index computed exactly as the spec defines it, see `bucketIndex`), and a bucket is read
 * back as `2·base^i / (base + 1)`, which is within `(base - 1) / (base + 1)` of any value in it (1.08% at schema 5,
 * 0.54% at schema 6). Bins are plain counts, so sketches merge exactly by adding counts: this is what lets
 * summaries merge across windows and processes, and a sketch of a finer schema merges into a coarser one exactly
 * (neighbouring buckets add up, as native histograms reduce their resolution).
 *
 * Memory is bounded by `maxBins` per sign: past it, the lowest bins collapse into one, which only
 * loses accuracy for the smallest magnitudes (far below any quantile that matters for latency).
 *
 * A summary keeps several sketches per series (one per window slot), so a sketch is kept small: the constants of
 * its schema are shared (see {@link SketchMapping}), an empty bin store holds no array of its own, and bins are
 * 32-bit counts until one would overflow.
 */
export class LogSketch {
  mapping: SketchMapping;
  readonly positive: BinStore;
  readonly negative: BinStore;
  zeroCount = 0;
  count = 0;

  /** `schema`: an integer from -4 to 8 (see {@link schemaForAccuracy}). */
  constructor(schema: number, maxBins = 2048) {
    this.mapping = SketchMapping.of(schema);
    this.positive = new BinStore(maxBins);
    this.negative = new BinStore(maxBins);
  }

  add(value: number): void {
    this.addBin(signOf(value), this.mapping.binOf(value));
  }

  /**
   * Adds one value by its bin: `sign` is 1, -1, or 0 for a value counted as zero; `index` is
   * `mapping.indexOf(|value|)` at this sketch's schema. Recorders compute both themselves, so no call carries the
   * double.
   */
  addBin(sign: number, index: number): void {
    if (sign > 0) this.positive.add(index);
    else if (sign < 0) this.negative.add(index);
    else this.zeroCount++;
    this.count++;
  }

  /**
   * Adds every count of `other`, at the lower of the two schemas: a finer `other` is added bucket pair by bucket
   * pair; a coarser one first reduces this sketch to its schema. Either way no count is lost.
   */
  merge(other: LogSketch): void {
    const schema = other.mapping.schema;
    if (schema < this.mapping.schema) this.downscale(schema);
    const delta = schema - this.mapping.schema;
    this.positive.merge(other.positive, delta);
    this.negative.merge(other.negative, delta);
    this.zeroCount += other.zeroCount;
    this.count += other.count;
  }

  /** Reduces the resolution to `schema` (lower than the current one), merging neighbouring buckets. */
  downscale(schema: number): void {
    const delta = this.mapping.schema - schema;
    if (delta <= 0) return;
    this.positive.downscale(delta);
    this.negative.downscale(delta);
    this.mapping = SketchMapping.of(schema);
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

/** The schema of a summary that does not ask for an accuracy: 1.08%, 32 buckets per power of two. */
export const DEFAULT_SKETCH_SCHEMA = 5;

/** The relative error bound of a sketch at `schema`: `(base - 1) / (base + 1)`, `base = 2^(2^-schema)`. */
export function accuracyOfSchema(schema: number): number {
  const base = 2 ** (2 ** -schema);
  return (base - 1) / (base + 1);
}

/**
 * The coarsest schema (fewest buckets, so the least memory) whose relative error bound is at most
 * `relativeAccuracy`: 0.011 → 5, 0.01 → 6, 0.001354 (the finest) → 8; undefined below that.
 */
export function schemaForAccuracy(relativeAccuracy: number): number | undefined {
  for (let schema = MIN_SCHEMA; schema <= MAX_SCHEMA; schema++) {
    if (accuracyOfSchema(schema) <= relativeAccuracy) return schema;
  }
  return undefined;
}

/** The bins of one schema: one instance per schema, shared by all its sketches. */
export class SketchMapping {
  private static readonly bySchema = new Map<number, SketchMapping>();
  /** `2^(2^-schema)`: each bucket's upper bound over its lower bound. */
  readonly base: number;
  /** The bound on the relative error of {@link binValue} for any value in the bin (see {@link accuracyOfSchema}). */
  readonly relativeAccuracy: number;
  /** What {@link indexSource} reads. */
  readonly tables: IndexTables;
  private readonly midpoint: number;

  private constructor(readonly schema: number) {
    this.base = 2 ** (2 ** -schema);
    this.relativeAccuracy = accuracyOfSchema(schema);
    this.midpoint = 2 / (this.base + 1);
    this.tables = indexTables(schema);
  }

  static of(schema: number): SketchMapping {
    let mapping = SketchMapping.bySchema.get(schema);
    if (mapping === undefined) {
      mapping = new SketchMapping(schema);
      SketchMapping.bySchema.set(schema, mapping);
    }
    return mapping;
  }

  /** The bin index of any value; {@link signOf} says which side it goes to (0 for a value counted as zero). */
  binOf(value: number): number {
    return signOf(value) === 0 ? 0 : this.indexOf(Math.abs(value));
  }

  /** The bin of a magnitude above MIN_INDEXABLE: the native histogram bucket index at this schema. */
  indexOf(magnitude: number): number {
    return bucketIndex(magnitude, this.schema);
  }

  /**
   * {@link indexOf} as JavaScript statements that set the declared variable `result` from the expression
   * `magnitude`, reading this mapping's `tables` through the expression `tables`, for generated recorders.
   */
  indexSource(magnitude: string, tables: string, result: string): string {
    return bucketIndexSource(magnitude, this.schema, tables, result);
  }

  /** The value a bin stands for, within the accuracy of every value in it: `2·base^i / (base + 1)`. */
  binValue(index: number): number {
    // The upper bound times 2/(base + 1), not 2·bound/(base + 1): twice the top bucket's bound is Infinity.
    return upperBound(index, this.schema) * this.midpoint;
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

  /** Adds every count of `other`, whose indices are `delta` schemas finer than this store's. */
  merge(other: BinStore, delta = 0): void {
    for (let i = 0; i < other.counts.length; i++) {
      if (other.counts[i] !== 0) this.add(downscaleIndex(i + other.offset, delta), other.counts[i]);
    }
  }

  /** Moves every count to its bucket `delta` schemas coarser (`ceil(i / 2^delta)`). */
  downscale(delta: number): void {
    const old = this.counts;
    const oldOffset = this.offset;
    this.counts = NO_BINS;
    this.offset = 0;
    this.minUsed = 0;
    this.maxUsed = 0;
    for (let i = 0; i < old.length; i++) {
      if (old[i] !== 0) this.add(downscaleIndex(i + oldOffset, delta), old[i]);
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
