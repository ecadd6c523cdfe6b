import type { MetricDefinition } from '../metrics/definitions.js';
import type { NativeHistogramData } from './native-histogram.js';

/**
 * What a family exposes as, in Prometheus's terms. A `sum` exported with `prometheusType: 'gauge'` is a `gauge`
 * whose values still accumulate (see {@link ScalarFamily.cumulative}).
 */
export type FamilyKind = 'counter' | 'gauge' | 'histogram' | 'summary';

/**
 * One metric family as every exporter reads it: the Prometheus text and OpenMetrics renderers, StatsD, the cluster
 * and the dashboard, and any other wire format. The family is a live view of the Telemeter's storage, not a copy:
 * each read returns the value held at that moment, and reading allocates nothing unless a method says it does.
 *
 * Series are addressed by id, a small integer: ids run from 0 to {@link seriesIdLimit}, and an id names a series
 * only while {@link holds} says so. Walk them in label order with {@link seriesOrder} (the text formats do), or in
 * id order from 0 to `seriesIdLimit` (cheaper, for formats that need no order). An id whose series expired
 * (`idleTimeout`) may later name another series: {@link incarnation} tells the two apart, so a reader that caches
 * something per series (an encoded label set, a value last sent) keys it by id and incarnation. What a method
 * returns for an id that holds no series is unspecified.
 *
 * Switch on {@link kind}, and keep a `default` branch: more kinds of series may come, and a reader that does not
 * know one should skip that family rather than misread it. Native histograms are not a kind of their own: a
 * `histogram` family says by its {@link HistogramFamily.layout} whether it keeps them.
 *
 * ```ts
 * import { counter, execute, Telemeter } from 'telemeter';
 *
 * const orders = counter('shop.orders', { eventName: 'shop.order.stop', measurement: 'duration', tags: ['country'] });
 * const telemeter = new Telemeter({ metrics: [orders], selfMetrics: false });
 * execute('shop.order.stop', { duration: 1 }, { country: 'NL' });
 * for (const family of telemeter.metricFamilies) {
 *   if (family.kind !== 'counter') continue;
 *   for (let id = 0; id < family.seriesIdLimit; id++) {
 *     if (family.holds(id)) console.log(family.name, family.labelValues(id), family.value(id));
 *   }
 * }
 * //=> shop_orders_total [ 'NL' ] 1
 * telemeter.close();
 * ```
 */
export type MetricFamily = ScalarFamily | HistogramFamily | SummaryFamily;

/** What every {@link MetricFamily} has, whatever its kind. */
export interface FamilyBase {
  readonly kind: FamilyKind;
  /**
   * The exported name: the family and sample name in Prometheus text 0.0.4, the sample name in OpenMetrics. A
   * counter's always ends in `_total`; OpenMetrics names its family without it.
   */
  readonly name: string;
  /** The HELP text, unescaped. */
  readonly help: string;
  /** The OpenMetrics unit (`seconds`), set only when the name ends with it, as `# UNIT` requires. */
  readonly unit: string | undefined;
  /**
   * The family's own label names, its definition's `tags`, in definition order: the order of
   * {@link labelValues}. The Telemeter's `globalTags` are not among them; {@link labelBlock} and
   * {@link forEachLabel} include them.
   */
  readonly labelNames: readonly string[];
  /** The definition the family records; undefined for telemeter's own families that have none. */
  readonly definition: MetricDefinition | undefined;
  /** Series held now. */
  readonly seriesCount: number;
  /** Every series id is below this. Ids at or above it hold no series yet; ids below it may hold none any more. */
  readonly seriesIdLimit: number;
  /** Whether `series` names a series now. */
  holds(series: number): boolean;
  /**
   * Changes whenever `series` stops naming the series it named (it expired under `idleTimeout`, and the id may be
   * reused), so a reader can tell a cached series from a new one at the same id.
   */
  incarnation(series: number): number;
  /**
   * When `series` was created, in milliseconds since the Unix epoch: the start of its counts, which only ever
   * restart with a new series (one that expired under `idleTimeout` and came back is a new series, with a new
   * time). Protobuf writes it as `created_timestamp`, OpenMetrics as `_created` when asked to. A gauge has one
   * too, which the formats do not use. 0 when the clock read 0 when the series was created (a Cloudflare
   * Worker's clock does at its module's top level, where series without tags are created): no time known.
   * Recorded once per series, when it is created, so recording pays nothing for it.
   */
  created(series: number): number;
  /**
   * The ids of the series held, ordered by their label block, so every scrape lists series in the same order. A
   * generator that pauses (yields) while it sorts many new series, so a streaming encoder can hand the event loop
   * a turn between steps; its return value is the order. The order is cached until a series is added or expires;
   * a series that expires while the caller walks the result is still in it, so check {@link holds} for each id.
   * Run it to the end before the next call.
   */
  seriesOrder(): Generator<void, Uint32Array>;
  /**
   * The labels of `series` as both text formats write them between braces, `route="/cart",status="200"`: sorted
   * by name, global tags included, values escaped (backslash, double quote, line feed); `''` when there are none.
   * Rendered once, when the series was created, so reading it costs nothing.
   */
  labelBlock(series: number): string;
  /**
   * Calls `visit` with each label name and value of `series`, unescaped, in the order of {@link labelBlock}
   * (global tags included): for encoders that write labels as pairs (protobuf, OTLP attributes).
   */
  forEachLabel(series: number, visit: (name: string, value: string) => void): void;
  /** The values of {@link labelNames} for `series`, in that order, in a new array (global tags left out). */
  labelValues(series: number): string[];
}

/** A counter or a gauge: one number per series. */
export interface ScalarFamily extends FamilyBase {
  readonly kind: 'counter' | 'gauge';
  /**
   * True when values accumulate: counters, and sums exported as gauges (an OTLP non-monotonic sum). False for last
   * values, which each recording replaces (an OTLP gauge).
   */
  readonly cumulative: boolean;
  /** The value of `series`. */
  value(series: number): number;
}

/**
 * Which buckets a histogram family keeps: classic buckets with fixed bounds (`le`), native buckets (Prometheus's
 * sparse exponential buckets), or both. Set per distribution by `reporterOptions.histogram`.
 */
export type HistogramLayout = 'classic' | 'native' | 'both';

/**
 * A distribution: a histogram with a sum and a count per series, and classic buckets with inclusive upper bounds
 * (`le`), native buckets, or both ({@link layout}). A native-only family has no finite bounds: its one classic
 * bucket is `+Inf`, which holds the count, so a reader that knows only classic buckets still gets the count and the
 * sum (what client_golang exposes in text for a native-only histogram).
 */
export interface HistogramFamily extends FamilyBase {
  readonly kind: 'histogram';
  /** Which buckets the family keeps. */
  readonly layout: HistogramLayout;
  /**
   * The native histogram of `series` as plain data, in a new object per call; undefined when {@link layout} is
   * `'classic'`.
   */
  nativeHistogram(series: number): NativeHistogramData | undefined;
  /** The finite upper bounds, ascending. Bucket `b` holds the values in `(bounds[b - 1], bounds[b]]`. */
  readonly bounds: readonly number[];
  /** Buckets per series: `bounds.length + 1`, the last one being `+Inf`. */
  readonly buckets: number;
  /**
   * Observations of `series` in bucket `bucket` alone (0 ≤ bucket < {@link buckets}). Not cumulative: a text
   * `le` sample is the running total over buckets 0..b, while OTLP takes the counts as they are.
   */
  bucketCount(series: number, bucket: number): number;
  /** The sum of every value observed in `series`. */
  sum(series: number): number;
  /** Observations of `series`: the total over its buckets. */
  count(series: number): number;
}

/**
 * A summary: quantiles over a sliding window (`maxAgeSeconds`, in `ageBuckets` steps), and a lifetime sum and count
 * per series.
 */
export interface SummaryFamily extends FamilyBase {
  readonly kind: 'summary';
  /** The quantiles exported, ascending, each in [0, 1]. */
  readonly quantiles: readonly number[];
  /** The bound on each quantile's relative error (0.01 is 1%). */
  readonly relativeAccuracy: number;
  /**
   * The window of `series`: every observation still in the sliding window, merged into one new sketch per call.
   * Read all quantiles of a series from one window.
   */
  window(series: number): SummaryWindow;
  /** The lifetime sum of `series`. */
  sum(series: number): number;
  /** The lifetime count of `series`. */
  count(series: number): number;
}

/** The observations in one summary series' sliding window. */
export interface SummaryWindow {
  /** Observations in the window. */
  readonly count: number;
  /**
   * The q-quantile (q in [0, 1]) by nearest rank, within the family's relative accuracy; NaN when the window is
   * empty.
   */
  quantile(q: number): number;
}
