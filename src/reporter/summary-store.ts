import { ensureCapacity } from './growable.js';
import { DEFAULT_SKETCH_SCHEMA, LogSketch, SketchMapping, schemaForAccuracy, signOf } from './log-sketch.js';
import { MAX_SCHEMA } from './native-histogram.js';
import { clockMs } from './periodic-work.js';
import { stagedValue } from './staged-value.js';

/**
 * The schema of a summary asking for `relativeAccuracy` ({@link DEFAULT_SKETCH_SCHEMA} when it asks for none);
 * the definition has refused accuracies finer than schema 8's.
 */
export function summarySchema(relativeAccuracy: number | undefined): number {
  if (relativeAccuracy === undefined) return DEFAULT_SKETCH_SCHEMA;
  return schemaForAccuracy(relativeAccuracy) ?? MAX_SCHEMA;
}

/**
 * Summaries: an exact lifetime sum and count per series, and quantiles over a sliding window.
 *
 * The window is `ageBuckets` sketches per series, each covering `maxAge / ageBuckets`; an observation goes into
 * the current one only, `rotate()` clears the oldest, and a scrape merges them. Quantiles therefore cover between
 * `(ageBuckets − 1) / ageBuckets` of the window and all of it, and merging never adds up quantiles.
 */
export class SummaryStore {
  sums: Float64Array = new Float64Array(8);
  totals: Float64Array = new Float64Array(8);
  /** Series the store has room for. */
  seriesCount = 0;
  /**
   * The window sketches of every series in one flat array (series `s` owns `s * ageBuckets` and the next
   * `ageBuckets - 1` entries), each created when its slot first gets a value. One array per series would cost
   * more than the slots it holds.
   */
  private readonly sketches: (LogSketch | undefined)[] = [];
  private current = 0;
  /** The bins of this store's schema, for recorders that compute a value's bin themselves. */
  readonly mapping: SketchMapping;
  /** The bound on each quantile's relative error, from the schema (see `accuracyOfSchema`). */
  readonly relativeAccuracy: number;

  /** `schema`: the native histogram schema of the window's sketches, -4 to 8 (see `schemaForAccuracy`). */
  constructor(
    readonly quantiles: readonly number[],
    readonly schema: number,
    readonly ageBuckets: number,
  ) {
    this.mapping = SketchMapping.of(schema);
    this.relativeAccuracy = this.mapping.relativeAccuracy;
  }

  grow(series: number): void {
    this.sums = ensureCapacity(this.sums, series);
    this.totals = ensureCapacity(this.totals, series);
    // Filled in order, so the array stays dense.
    for (let i = this.sketches.length; i < series * this.ageBuckets; i++) this.sketches.push(undefined);
    this.seriesCount = Math.max(this.seriesCount, series);
  }

  reset(series: number): void {
    this.sums[series] = 0;
    this.totals[series] = 0;
    this.sketches.fill(undefined, series * this.ageBuckets, (series + 1) * this.ageBuckets);
  }

  observe(series: number, value: number): void {
    stagedValue[0] = value;
    this.observeStaged(series);
  }

  /** {@link observe} of the value in `stagedValue`. */
  observeStaged(series: number): void {
    const value = stagedValue[0];
    this.sums[series] += value;
    this.totals[series] += 1;
    const sign = signOf(value);
    let index = 0;
    if (sign !== 0) {
      // Through the typed array rather than as an argument: a call that is not inlined would box the double.
      const tables = this.mapping.tables;
      tables.scratch[0] = sign > 0 ? value : -value;
      index = tables.scratchIndex();
    }
    this.observeBin(series, sign, index);
  }

  /**
   * Adds one value to the window by its bin (see `LogSketch.addBin`); the caller has added it to `sums` and
   * `totals`. Generated recorders use this, so the value itself never crosses a call.
   */
  observeBin(series: number, sign: number, index: number): void {
    this.currentSketch(series).addBin(sign, index);
  }

  /**
   * The sketch of `series` that takes observations now, created when its slot is empty. Observations merged
   * from other processes go here too, so they age out of the window on this process's clock.
   */
  currentSketch(series: number): LogSketch {
    const slot = series * this.ageBuckets + this.current;
    let sketch = this.sketches[slot];
    if (sketch === undefined) {
      sketch = new LogSketch(this.schema);
      this.sketches[slot] = sketch;
    }
    return sketch;
  }

  /** Moves the window forward by one slot, forgetting the oldest observations. */
  rotate(): void {
    this.current = (this.current + 1) % this.ageBuckets;
    for (let slot = this.current; slot < this.sketches.length; slot += this.ageBuckets) {
      this.sketches[slot]?.clear();
    }
  }

  /** The window of one series, merged into a single sketch. */
  window(series: number): LogSketch {
    const merged = new LogSketch(this.schema);
    const first = series * this.ageBuckets;
    for (let slot = first; slot < first + this.ageBuckets; slot++) {
      const sketch = this.sketches[slot];
      if (sketch !== undefined) merged.merge(sketch);
    }
    return merged;
  }
}

/**
 * A summary store whose window slides by the clock rather than by a timer calling `rotate()`: each observation and
 * each read of a window first rotates once for every slot that has ended since the last (see periodic-work.ts), so
 * an observation always lands in the slot of its own time.
 */
export class ClockedSummaryStore extends SummaryStore {
  /** When the current slot began; undefined until the clock runs (see `clockMs`). */
  private slotStart = clockMs();

  constructor(
    quantiles: readonly number[],
    schema: number,
    ageBuckets: number,
    private readonly slotMs: number,
  ) {
    super(quantiles, schema, ageBuckets);
  }

  override currentSketch(series: number): LogSketch {
    this.catchUp();
    return super.currentSketch(series);
  }

  override window(series: number): LogSketch {
    this.catchUp();
    return super.window(series);
  }

  private catchUp(): void {
    const now = clockMs();
    if (now === undefined) return;
    if (this.slotStart === undefined) {
      this.slotStart = now;
      return;
    }
    const elapsed = now - this.slotStart;
    if (elapsed < this.slotMs) return;
    const slots = Math.floor(elapsed / this.slotMs);
    // Rotating through every slot empties the window; more rotations change nothing.
    for (let i = Math.min(slots, this.ageBuckets); i > 0; i--) this.rotate();
    this.slotStart += slots * this.slotMs;
  }
}
