/**
 * A quantile sketch with a relative-error guarantee (the DDSketch construction):
 * every value `x` goes to bin `ceil(log_γ |x|)` with `γ = (1 + α) / (1 − α)`, and a bin is read back as
 * `2γ^i / (γ + 1)`, which is within `α` of any value in it. Bins are plain counts, so two sketches with the
 * same accuracy merge exactly by adding counts: this is what lets summaries merge across windows and processes.
 *
 * Memory is bounded by `maxBins` per sign: past it, the lowest bins collapse into one, which only
 * loses accuracy for the smallest magnitudes (far below any quantile that matters for latency).
 */
export class LogSketch {
  readonly gamma: number;
  private readonly multiplier: number;
  /** Values closer to zero than this are counted as zero. */
  private readonly minIndexable: number;
  readonly positive: BinStore;
  readonly negative: BinStore;
  zeroCount = 0;
  count = 0;

  constructor(
    readonly relativeAccuracy: number,
    maxBins = 2048,
  ) {
    this.gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
    this.multiplier = 1 / Math.log(this.gamma);
    this.minIndexable = 1e-300;
    this.positive = new BinStore(maxBins);
    this.negative = new BinStore(maxBins);
  }

  add(value: number): void {
    if (value > this.minIndexable) this.positive.add(Math.ceil(Math.log(value) * this.multiplier));
    else if (value < -this.minIndexable) this.negative.add(Math.ceil(Math.log(-value) * this.multiplier));
    else this.zeroCount++;
    this.count++;
  }

  /** Adds every count of `other`, which must have the same relative accuracy. */
  merge(other: LogSketch): void {
    if (other.gamma !== this.gamma) throw new Error('telemeter: cannot merge sketches of different accuracy');
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
      if (seen > rank) return -this.valueOf(i + neg.offset);
    }
    seen += this.zeroCount;
    if (seen > rank) return 0;
    const pos = this.positive;
    for (let i = 0; i < pos.counts.length; i++) {
      seen += pos.counts[i];
      if (seen > rank) return this.valueOf(i + pos.offset);
    }
    return pos.counts.length > 0 ? this.valueOf(pos.counts.length - 1 + pos.offset) : 0;
  }

  private valueOf(index: number): number {
    return (2 * this.gamma ** index) / (this.gamma + 1);
  }
}

/**
 * Dense counts over a contiguous range of bin indices, starting at `offset`. The used range never spans more
 * than `maxBins`: an index below it is counted in its lowest bin.
 */
export class BinStore {
  counts: Float64Array = new Float64Array(0);
  offset = 0;
  private minUsed = Number.POSITIVE_INFINITY;
  private maxUsed = Number.NEGATIVE_INFINITY;

  constructor(private readonly maxBins: number) {}

  add(index: number, count = 1): void {
    if (this.maxUsed - index + 1 > this.maxBins) index = this.maxUsed - this.maxBins + 1;
    let slot = index - this.offset;
    if (slot < 0 || slot >= this.counts.length) {
      this.reallocate(Math.min(this.minUsed, index), Math.max(this.maxUsed, index));
      slot = index - this.offset;
    }
    this.counts[slot] += count;
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

  private reallocate(low: number, high: number): void {
    if (high - low + 1 > this.maxBins) low = high - this.maxBins + 1;
    const used = high - low + 1;
    // Head room on both sides, so a drifting range does not reallocate on every new extreme.
    const spare = Math.min(this.maxBins - used, Math.max(16, used >> 1));
    const newOffset = low - (spare >> 1);
    const grown = new Float64Array(used + spare);
    for (let i = 0; i < this.counts.length; i++) {
      const c = this.counts[i];
      if (c !== 0) grown[Math.max(i + this.offset, low) - newOffset] += c;
    }
    this.counts = grown;
    this.offset = newOffset;
    if (this.minUsed !== Number.POSITIVE_INFINITY && this.minUsed < low) this.minUsed = low;
  }
}
