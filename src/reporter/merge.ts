import {
  type StoredFamily,
  StoredHistogramFamily,
  type StoredScalarFamily,
  StoredSummaryFamily,
} from './family.js';
import { LogSketch } from './log-sketch.js';
import type { NativeHistogramData } from './native-histogram.js';
import type { Exemplar, HistogramFamily, ScalarFamily, SummaryFamily } from './read-model.js';
import { type Reporter, storedFamilies } from './reporter.js';
import type { SummaryStore } from './summary-store.js';

/**
 * How a family's data from another process combines with this one's: `add` for counters and sums (a `sum` exported
 * as a gauge still adds), `set` for last values, `histogram` and `summary`.
 */
export type MergeShape = 'add' | 'set' | 'histogram' | 'summary';

/**
 * The one way data from outside enters a Telemeter's storage other than by events: the cluster's primary merges
 * its workers' deltas through it. One per family; see {@link familyMerges}. Its methods take series ids of this
 * Telemeter (from {@link resolve}) and trust their numbers: the caller validates what it received.
 */
interface MergeBase {
  readonly shape: MergeShape;
  /**
   * What both sides of a merge must agree on besides the shape: the buckets per series of a histogram, the schema
   * of a summary's sketches, 0 otherwise.
   */
  readonly layout: number;
  /**
   * The id of the series with these values of the family's `labelNames`, created when new (or the overflow series,
   * when the family is full).
   */
  resolve(labelValues: readonly string[]): number;
  /** Marks `series` recorded to now, so that under `idleTimeout` it expires only when nobody records or merges. */
  touch(series: number): void;
}

export interface ScalarMerge extends MergeBase {
  readonly shape: 'add' | 'set';
  readonly family: ScalarFamily;
  /** Adds `delta` to the value of `series` (counters and sums). */
  add(series: number, delta: number): void;
  /** Replaces the value of `series` (last values). */
  set(series: number, value: number): void;
  /**
   * Keeps another process's exemplar of `series` (see {@link Exemplar}) unless the one held is more recent; nothing
   * when the family keeps no exemplars. `labelBlock` must be one that process's read model gave.
   */
  putExemplar(series: number, labelBlock: string, value: number, timestamp: number): void;
}

export interface HistogramMerge extends MergeBase {
  readonly shape: 'histogram';
  readonly family: HistogramFamily;
  /** Adds `delta` observations to one bucket (not cumulative) of `series`; its count follows. */
  addToBucket(series: number, bucket: number, delta: number): void;
  addToSum(series: number, delta: number): void;
  /** As {@link ScalarMerge.putExemplar}, for one bucket of `series`. */
  putExemplar(series: number, bucket: number, labelBlock: string, value: number, timestamp: number): void;
  /**
   * Adds another process's native histogram observations into the native buckets of `series` (a family whose
   * {@link HistogramFamily.layout} is not `'classic'`; nothing otherwise), exactly: at the lower of the two schemas,
   * zero buckets reconciled as the spec says. The count and sum the classic side keeps go in through
   * {@link addToBucket} and {@link addToSum}, as for a classic family.
   */
  addNative(series: number, data: NativeHistogramData): void;
}

export interface SummaryMerge extends MergeBase {
  readonly shape: 'summary';
  readonly family: SummaryFamily;
  /** Adds to the lifetime count and sum of `series`. */
  addToTotals(series: number, count: number, sum: number): void;
  /**
   * Adds `count` observations to the window of `series`, by sketch bin: `sign` is 1 or -1 for the positive or
   * negative bin `bin`, 0 for values counted as zero (see {@link SketchBins}). They go into the window's current
   * slot, so they age out on this process's clock.
   */
  addToWindow(series: number, sign: number, bin: number, count: number): void;
  /** A new tap on the observations this family records from now on (the worker side of a merge). */
  observations(): ObservationTap;
}

export type FamilyMerge = ScalarMerge | HistogramMerge | SummaryMerge;

/** The merge interface of each of `reporter`'s families, in the order of `metricFamilies`. */
export function familyMerges(reporter: Reporter): FamilyMerge[] {
  return storedFamilies(reporter).map(mergeOf);
}

function mergeOf(family: StoredFamily): FamilyMerge {
  if (family instanceof StoredHistogramFamily) return new HistogramMergeImpl(family);
  if (family instanceof StoredSummaryFamily) return new SummaryMergeImpl(family);
  return new ScalarMergeImpl(family);
}

abstract class MergeImpl {
  constructor(private readonly stored: StoredFamily) {}

  resolve(labelValues: readonly string[]): number {
    return this.stored.table.resolveValues(labelValues);
  }

  touch(series: number): void {
    const table = this.stored.table;
    table.touched[series] = table.generation;
  }
}

class ScalarMergeImpl extends MergeImpl implements ScalarMerge {
  readonly shape: 'add' | 'set';
  readonly layout = 0;

  constructor(readonly family: StoredScalarFamily) {
    super(family);
    this.shape = family.store.mode;
  }

  add(series: number, delta: number): void {
    this.family.store.add(series, delta);
  }

  set(series: number, value: number): void {
    this.family.store.set(series, value);
  }

  putExemplar(series: number, labelBlock: string, value: number, timestamp: number): void {
    this.family.exemplarStore?.put(series, labelBlock, value, timestamp);
  }
}

class HistogramMergeImpl extends MergeImpl implements HistogramMerge {
  readonly shape = 'histogram';
  readonly layout: number;

  constructor(readonly family: StoredHistogramFamily) {
    super(family);
    this.layout = family.buckets;
  }

  addToBucket(series: number, bucket: number, delta: number): void {
    this.family.store.addToBucket(series, bucket, delta);
  }

  addToSum(series: number, delta: number): void {
    this.family.store.sums[series] += delta;
  }

  putExemplar(series: number, bucket: number, labelBlock: string, value: number, timestamp: number): void {
    this.family.exemplarStore?.put(series * this.layout + bucket, labelBlock, value, timestamp);
  }

  addNative(series: number, data: NativeHistogramData): void {
    this.family.store.native?.merge(series, data);
  }
}

class SummaryMergeImpl extends MergeImpl implements SummaryMerge {
  readonly shape = 'summary';
  readonly layout: number;

  constructor(readonly family: StoredSummaryFamily) {
    super(family);
    this.layout = family.schema;
  }

  addToTotals(series: number, count: number, sum: number): void {
    const store = this.family.store;
    store.totals[series] += count;
    store.sums[series] += sum;
  }

  addToWindow(series: number, sign: number, bin: number, count: number): void {
    const sketch = this.family.store.currentSketch(series);
    if (sign > 0) sketch.positive.add(bin, count);
    else if (sign < 0) sketch.negative.add(bin, count);
    else sketch.zeroCount += count;
    sketch.count += count;
  }

  observations(): ObservationTap {
    return new ObservationTap(this.family.store);
  }
}

/**
 * Observations as sketch bins: `positive` and `negative` list `binIndex, count` pairs of the bins that hold any
 * (bin `i` holds the magnitudes in `(base^(i-1), base^i]`, `base = 2^(2^-schema)`: the native histogram bucket
 * `i` at the summary's schema); `zeroCount` counts the values too close to zero for a bin.
 */
export interface SketchBins {
  readonly positive: number[];
  readonly negative: number[];
  readonly zeroCount: number;
}

/**
 * The observations a summary records, per series, kept apart from its window until taken: what a worker has not
 * yet shipped to the primary.
 *
 * A summary's window cannot be diffed: rotation clears slots, so "what changed since the last take" is not "window
 * now minus window then". Instead, while tapped, each value recorded also goes into a second sketch per series,
 * which {@link take} empties. The tap costs one more sketch add per observation, in workers only.
 */
export class ObservationTap {
  private readonly pending: (LogSketch | undefined)[] = [];
  private tapped = false;
  private everTapped = false;

  constructor(private readonly store: SummaryStore) {}

  /**
   * Starts keeping observations. The first time, the observations already in the window (recorded before the
   * tap) are kept too, so the first take has them; a later start begins empty, as those were taken before the stop.
   */
  start(): void {
    if (this.tapped) return;
    const { store, pending } = this;
    if (!this.everTapped) {
      for (let s = 0; s < store.seriesCount; s++) {
        const window = store.window(s);
        if (window.count > 0) pending[s] = window;
      }
    }
    this.tapped = true;
    this.everTapped = true;
    const original = store.observeBin;
    const schema = store.schema;
    store.observeBin = function observeAndKeep(
      this: SummaryStore,
      series: number,
      sign: number,
      index: number,
    ): void {
      original.call(this, series, sign, index);
      let sketch = pending[series];
      if (sketch === undefined) {
        sketch = new LogSketch(schema);
        pending[series] = sketch;
      }
      sketch.addBin(sign, index);
    };
  }

  /** Stops keeping observations: the store's own `observeBin` again. What was kept stays until taken. */
  stop(): void {
    if (!this.tapped) return;
    this.tapped = false;
    delete (this.store as { observeBin?: unknown }).observeBin;
  }

  /** The observations of `series` kept since the last take, emptied; undefined when there are none. */
  take(series: number): SketchBins | undefined {
    const sketch = this.pending[series];
    if (sketch === undefined || sketch.count === 0) return undefined;
    const bins = {
      positive: binPairs(sketch.positive),
      negative: binPairs(sketch.negative),
      zeroCount: sketch.zeroCount,
    };
    sketch.clear();
    return bins;
  }
}

function binPairs(store: LogSketch['positive']): number[] {
  const pairs: number[] = [];
  const { counts, offset } = store;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] !== 0) pairs.push(i + offset, counts[i]);
  }
  return pairs;
}
