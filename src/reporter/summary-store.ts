import { ensureCapacity } from './growable.js';
import { LogSketch } from './log-sketch.js';

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
  readonly windows: (LogSketch | undefined)[][] = [];
  private current = 0;

  constructor(
    readonly quantiles: readonly number[],
    readonly relativeAccuracy: number,
    readonly ageBuckets: number,
  ) {}

  grow(series: number): void {
    this.sums = ensureCapacity(this.sums, series);
    this.totals = ensureCapacity(this.totals, series);
    while (this.windows.length < series) this.windows.push(new Array(this.ageBuckets).fill(undefined));
  }

  reset(series: number): void {
    this.sums[series] = 0;
    this.totals[series] = 0;
    this.windows[series] = new Array(this.ageBuckets).fill(undefined);
  }

  observe(series: number, value: number): void {
    this.sums[series] += value;
    this.totals[series] += 1;
    const slots = this.windows[series];
    let sketch = slots[this.current];
    if (sketch === undefined) {
      sketch = new LogSketch(this.relativeAccuracy);
      slots[this.current] = sketch;
    }
    sketch.add(value);
  }

  /** Moves the window forward by one slot, forgetting the oldest observations. */
  rotate(): void {
    this.current = (this.current + 1) % this.ageBuckets;
    for (const slots of this.windows) slots[this.current]?.clear();
  }

  /** The window of one series, merged into a single sketch. */
  window(series: number): LogSketch {
    const merged = new LogSketch(this.relativeAccuracy);
    for (const sketch of this.windows[series]) if (sketch !== undefined) merged.merge(sketch);
    return merged;
  }
}
