import type { ScalarFamily } from '../reporter/family.js';

/**
 * How the last values (gauges) of several workers become one exported value:
 * - `'worker'`: one series per worker, told apart by a `worker` label (the default);
 * - `'sum'`, `'max'`, `'min'`: over the live workers (and the primary's own value, if it records one);
 * - `'last'`: the value most recently received from any worker.
 */
export type GaugeAggregation = 'worker' | 'sum' | 'max' | 'min' | 'last';

export const GAUGE_AGGREGATIONS: readonly GaugeAggregation[] = ['worker', 'sum', 'max', 'min', 'last'];

/** One worker's last values of one gauge family, by the primary's series index. */
export type GaugeContributions = Map<number, number>;

/**
 * Combines per-worker last values into the primary's store for the `sum`, `max` and `min` aggregations.
 *
 * Each worker's latest values are kept apart, so a value that is replaced or a worker that leaves is
 * taken out exactly. A value the primary records itself (its store holds something other than what was
 * last written here) counts as one more contributor.
 */
export class GaugeMerger {
  /** Per family: what this merger last wrote, and the primary's own values. */
  private readonly written = new Map<ScalarFamily, Map<number, number>>();
  private readonly own = new Map<ScalarFamily, Map<number, number>>();
  /** Per family: the table's incarnation of each series index when last combined. */
  private readonly holders = new Map<ScalarFamily, Map<number, number>>();

  constructor(
    readonly aggregation: Exclude<GaugeAggregation, 'worker' | 'last'>,
    /** The contributions of every live worker to a family. */
    private readonly contributions: (family: ScalarFamily) => Iterable<GaugeContributions>,
  ) {}

  /**
   * Called before a worker's value for series `s` is stored: if the index now holds another series than
   * when last combined (the old one expired under `idleTimeout`), every contribution to the old one is dropped.
   */
  claim(family: ScalarFamily, s: number): void {
    let holders = this.holders.get(family);
    if (holders === undefined) {
      holders = new Map();
      this.holders.set(family, holders);
    }
    const incarnation = family.table.incarnation(s);
    const before = holders.get(s);
    if (before === incarnation) return;
    holders.set(s, incarnation);
    if (before === undefined) return;
    this.written.get(family)?.delete(s);
    this.own.get(family)?.delete(s);
    for (const contribution of this.contributions(family)) contribution.delete(s);
  }

  /** Recomputes series `s` of `family` from the current contributions. */
  update(family: ScalarFamily, s: number): void {
    let written = this.written.get(family);
    let own = this.own.get(family);
    if (written === undefined || own === undefined) {
      written = new Map();
      own = new Map();
      this.written.set(family, written);
      this.own.set(family, own);
    }
    const values = family.store.values;
    const before = written.get(s);
    if (before === undefined ? values[s] !== 0 : values[s] !== before) own.set(s, values[s]);

    let result = this.aggregation === 'sum' ? 0 : Number.NaN;
    let seen = false;
    const fold = (value: number) => {
      if (this.aggregation === 'sum') result += value;
      else if (!seen) result = value;
      else result = this.aggregation === 'max' ? Math.max(result, value) : Math.min(result, value);
      seen = true;
    };
    const primaryValue = own.get(s);
    if (primaryValue !== undefined) fold(primaryValue);
    for (const contribution of this.contributions(family)) {
      const value = contribution.get(s);
      if (value !== undefined) fold(value);
    }
    // With no contributor left, a sum is 0; a max or min keeps its last value rather than invent one.
    if (seen || this.aggregation === 'sum') {
      values[s] = result;
      written.set(s, result);
    }
  }
}
