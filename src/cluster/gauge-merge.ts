import type { ScalarMerge } from '../reporter/index.js';

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
  /** Per gauge: what this merger last wrote, and the primary's own values. */
  private readonly written = new Map<ScalarMerge, Map<number, number>>();
  private readonly own = new Map<ScalarMerge, Map<number, number>>();
  /** Per gauge: the table's incarnation of each series index when last combined. */
  private readonly holders = new Map<ScalarMerge, Map<number, number>>();

  constructor(
    readonly aggregation: Exclude<GaugeAggregation, 'worker' | 'last'>,
    /** The contributions of every live worker to a family. */
    private readonly contributions: (gauge: ScalarMerge) => Iterable<GaugeContributions>,
  ) {}

  /**
   * Called before a worker's value for series `s` is stored: if the index now holds another series than
   * when last combined (the old one expired under `idleTimeout`), every contribution to the old one is dropped.
   */
  claim(gauge: ScalarMerge, s: number): void {
    let holders = this.holders.get(gauge);
    if (holders === undefined) {
      holders = new Map();
      this.holders.set(gauge, holders);
    }
    const incarnation = gauge.family.incarnation(s);
    const before = holders.get(s);
    if (before === incarnation) return;
    holders.set(s, incarnation);
    if (before === undefined) return;
    this.written.get(gauge)?.delete(s);
    this.own.get(gauge)?.delete(s);
    for (const contribution of this.contributions(gauge)) contribution.delete(s);
  }

  /** Recomputes series `s` of `gauge` from the current contributions. */
  update(gauge: ScalarMerge, s: number): void {
    let written = this.written.get(gauge);
    let own = this.own.get(gauge);
    if (written === undefined || own === undefined) {
      written = new Map();
      own = new Map();
      this.written.set(gauge, written);
      this.own.set(gauge, own);
    }
    const current = gauge.family.value(s);
    const before = written.get(s);
    if (before === undefined ? current !== 0 : current !== before) own.set(s, current);

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
    for (const contribution of this.contributions(gauge)) {
      const value = contribution.get(s);
      if (value !== undefined) fold(value);
    }
    // With no contributor left, a sum is 0; a max or min keeps its last value rather than invent one.
    if (seen || this.aggregation === 'sum') {
      gauge.set(s, result);
      written.set(s, result);
    }
  }
}
