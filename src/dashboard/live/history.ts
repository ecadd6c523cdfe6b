import { invalidArgument, invalidOption } from '../../errors.js';
import { type Logger, LogSink, processLog } from '../../logger.js';
import type { MetricDefinition } from '../../metrics/definitions.js';
import { checkOptionKeys } from '../../options.js';
import type { HistogramFamily, MetricFamily } from '../../reporter/index.js';
import { bucketQuantile } from './bucket-quantile.js';
import { Timeline } from './timeline.js';

/** What a dashboard reads: the families of a Telemeter (or of anything that holds the same families). */
export interface DashboardSource {
  readonly metricFamilies: readonly MetricFamily[];
  /**
   * Brings computed values up to date before a sample (a Telemeter's: the gauges reported on read, such as
   * requests in flight and pool connections, and series counts), as a scrape does.
   */
  refreshComputedFamilies?(): void;
  /** Where sampling problems are logged: a Telemeter's own logger. Default: the process-wide logger. */
  readonly logger?: Logger;
}

/** Bounds of the dashboard's history. */
export interface HistoryOptions {
  /** Sampling period in milliseconds. Default 1000. */
  readonly interval?: number;
  /** Points kept per series: the history spans `points × interval`. Default 900 (15 minutes at 1 s). */
  readonly points?: number;
  /**
   * Series per metric kept in history, the first ones seen. Default 50. Further series are counted (as
   * `hidden`) but not charted, until a charted series has been gone for a whole history span.
   */
  readonly maxSeriesPerMetric?: number;
}

/** How a metric is charted. */
export type MetricView = 'rate' | 'value' | 'histogram' | 'summary';

/** The quantiles charted for distributions and summaries. */
export const CHART_QUANTILES = [0.5, 0.9, 0.99] as const;

/** One chartable metric, as the page lays it out. */
export interface MetricInfo {
  /** Position in the definitions, the metric's id in data responses. */
  readonly id: number;
  /** The name as defined (`http.server.request.stop.duration`). */
  readonly name: string;
  /** The exported Prometheus name. */
  readonly exportedName: string;
  readonly type: MetricDefinition['type'];
  readonly view: MetricView;
  /** Chart group: the first segment of the event name (`http`, `vm`, `shop`). */
  readonly group: string;
  readonly description: string;
  /** The unit after conversion, `'unit'` when none. */
  readonly unit: string;
  readonly tagNames: readonly string[];
  /** Finite bucket bounds of a distribution (the heatmap's rows, plus `+Inf`). */
  readonly bounds?: readonly number[];
}

/** The layout of the dashboard: sent once per page load. */
export interface DashboardMeta {
  readonly interval: number;
  readonly points: number;
  readonly maxSeriesPerMetric: number;
  readonly metrics: readonly MetricInfo[];
}

/** One charted series of a line chart: a rate (counters, sums) or a value (last values). */
export interface LineSeriesData {
  /** Tag values, in the metric's `tagNames` order. */
  readonly tags: readonly string[];
  readonly values: (number | null)[];
}

/** One summary series: its quantiles over the summary's sliding window, sampled each interval. */
export interface SummarySeriesData {
  readonly tags: readonly string[];
  readonly p50: (number | null)[];
  readonly p90: (number | null)[];
  readonly p99: (number | null)[];
}

/** A metric's data for the requested times. */
export type MetricData =
  | {
      readonly id: number;
      readonly view: 'rate' | 'value';
      readonly series: LineSeriesData[];
      readonly live: number;
      readonly hidden: number;
    }
  | {
      readonly id: number;
      readonly view: 'summary';
      readonly series: SummarySeriesData[];
      readonly live: number;
      readonly hidden: number;
    }
  | {
      readonly id: number;
      readonly view: 'histogram';
      /** Quantiles of each interval, over the bucket increases of every matching series added up. */
      readonly p50: (number | null)[];
      readonly p90: (number | null)[];
      readonly p99: (number | null)[];
      /** Observations per bucket in each interval (`[time][bucket]`, the last bucket is `+Inf`). */
      readonly heatmap: number[][];
      /** Series added up. */
      readonly matched: number;
      readonly live: number;
      readonly hidden: number;
    };

/** Totals for the status strip. */
export interface DashboardStatus {
  /** Seconds since the process started. */
  readonly uptime: number;
  /** `telemeter_scrapes_total`, all statuses; null without self metrics. */
  readonly scrapes: number | null;
  /** `telemeter_dropped_events_total`, all metrics and reasons; null without self metrics. */
  readonly dropped: number | null;
  /** Series held by the Telemeter, over every defined metric (what `telemeter_series` reports). */
  readonly series: number;
  /** Series kept in the dashboard's history. */
  readonly charted: number;
  /** Series not charted because their metric reached `maxSeriesPerMetric`. */
  readonly hidden: number;
}

/** A data response: the samples taken after `since`, for the series that match the tag filter. */
export interface DashboardData {
  /** True when `times` starts at the oldest sample held: the client replaces what it has instead of appending. */
  readonly full: boolean;
  /** Sample times, epoch milliseconds. */
  readonly times: number[];
  readonly metrics: MetricData[];
  /** Every tag value of the charted series, by tag name, sorted: the options of the tag filter. */
  readonly tags: Record<string, string[]>;
  readonly status: DashboardStatus;
}

interface TrackedSeries {
  /** Tag values, in the metric's `tagNames` order. */
  readonly tags: readonly string[];
  /** The table's incarnation of the index it was read from: another one means the index was reused. */
  readonly incarnation: number;
  /** `width` numbers per slot. */
  readonly values: Float64Array | Float32Array;
  /** Raw cumulative values at the previous sample (counts for distributions). */
  readonly previous: Float64Array;
  primed: boolean;
  /** Timeline tick at which the series was last present. */
  lastSeen: number;
}

const DEFAULTS = { interval: 1000, points: 900, maxSeriesPerMetric: 50 };

function positiveInteger(value: unknown, option: string, min: number, where: string): number {
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= min)) {
    invalidOption(`${where}: option ${option} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** The keys of {@link HistoryOptions}. */
export const HISTORY_OPTIONS: readonly string[] = ['interval', 'points', 'maxSeriesPerMetric'];

/**
 * @param where how messages name the caller, e.g. `'telemeter/dashboard: liveDashboard'`.
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_OPTION` naming the option when one is invalid (the caller
 *   checks the keys).
 */
export function resolveHistoryOptions(
  options: HistoryOptions = {},
  where = 'telemeter/dashboard: DashboardHistory',
): Required<HistoryOptions> {
  return {
    interval: positiveInteger(options.interval ?? DEFAULTS.interval, 'interval', 10, where),
    points: positiveInteger(options.points ?? DEFAULTS.points, 'points', 2, where),
    maxSeriesPerMetric: positiveInteger(
      options.maxSeriesPerMetric ?? DEFAULTS.maxSeriesPerMetric,
      'maxSeriesPerMetric',
      1,
      where,
    ),
  };
}

/** A Telemeter's own sink as it is; any other logger wrapped with warn-once state of its own; else the process's. */
function logSinkOf(logger: Logger | undefined): LogSink {
  if (logger instanceof LogSink) return logger;
  return logger === undefined ? processLog : new LogSink(logger);
}

/**
 * The rows a native-only distribution is charted in: powers of two from 2^-16 to 2^24 (15 µs to 194 days for
 * seconds, up to 16 MiB for bytes), as a classic histogram's bounds. A native bucket goes to the row that holds it
 * (at schema 0 or finer, every native bucket lies within one power of two), so the chart's quantiles are within a
 * factor of two, as Prometheus' would be over these bounds; values at or below 2^-16, zeros and negative values go
 * to the first row. Fixed rows keep the memory per series what a classic one with 40 buckets takes.
 */
const NATIVE_MIN_EXPONENT = -16;
const NATIVE_MAX_EXPONENT = 24;
const NATIVE_ROWS: readonly number[] = Array.from(
  { length: NATIVE_MAX_EXPONENT - NATIVE_MIN_EXPONENT + 1 },
  (_, k) => 2 ** (NATIVE_MIN_EXPONENT + k),
);

/** Observations of a native histogram per row of {@link NATIVE_ROWS} (plus `+Inf`), as a classic store counts them. */
function nativeRowCounts(family: HistogramFamily, series: number): Float64Array {
  const counts = new Float64Array(NATIVE_ROWS.length + 1);
  const data = family.nativeHistogram(series);
  if (data === undefined) return counts;
  const { schema, positive, negative } = data;
  counts[0] = data.zeroCount;
  for (const n of negative.counts) counts[0] += n;
  for (let b = 0; b < positive.indices.length; b++) {
    const index = positive.indices[b];
    // The power of two whose row holds the bucket: its schema-0 index, or for a coarser schema its upper bound's.
    const exponent = schema >= 0 ? Math.ceil(index / 2 ** schema) : index * 2 ** -schema;
    const row = Math.min(Math.max(exponent - NATIVE_MIN_EXPONENT, 0), NATIVE_ROWS.length);
    counts[row] += positive.counts[b];
  }
  return counts;
}

const toJson = (value: number): number | null => (Number.isFinite(value) ? value : null);

/** The history of one metric: its charted series and the table positions they were read from. */
class MetricHistory {
  readonly info: MetricInfo;
  readonly tracked: TrackedSeries[] = [];
  /** Hidden series at the last sample. */
  hidden = 0;
  private readonly width: number;
  private readonly bySeries: (TrackedSeries | undefined)[] = [];
  /** The incarnation of each table index at the previous sample, to tell new series from old ones. */
  private readonly known: (number | undefined)[] = [];

  constructor(
    readonly family: MetricFamily & { definition: MetricDefinition },
    id: number,
    private readonly timeline: Timeline,
    private readonly maxSeries: number,
  ) {
    const definition = family.definition;
    const view: MetricView =
      definition.type === 'counter' || definition.type === 'sum'
        ? 'rate'
        : definition.type === 'last_value'
          ? 'value'
          : definition.type === 'distribution'
            ? 'histogram'
            : 'summary';
    const native = family.kind === 'histogram' && family.layout === 'native';
    this.width =
      family.kind === 'histogram'
        ? native
          ? NATIVE_ROWS.length + 1
          : family.buckets
        : view === 'summary'
          ? 3
          : 1;
    this.info = {
      id,
      name: definition.name,
      exportedName: family.name,
      type: definition.type,
      view,
      group: definition.eventName.split('.')[0],
      description: family.help,
      unit: definition.unit,
      tagNames: [...family.labelNames],
      ...(family.kind === 'histogram' ? { bounds: native ? [...NATIVE_ROWS] : [...family.bounds] } : {}),
    };
  }

  /** Reads every series into `slot`. `dt` is the time since the previous sample in seconds (NaN on the first). */
  sample(slot: number, dt: number): void {
    const { family } = this;
    const tick = this.timeline.ticks;
    // A series gone for a whole history span has scrolled out: its place goes to the next new series.
    for (let t = this.tracked.length - 1; t >= 0; t--) {
      if (tick - this.tracked[t].lastSeen >= this.timeline.capacity) this.tracked.splice(t, 1);
    }
    let hidden = 0;
    for (let i = 0; i < family.seriesIdLimit; i++) {
      if (!family.holds(i)) {
        this.bySeries[i] = undefined;
        this.known[i] = undefined;
        continue;
      }
      const incarnation = family.incarnation(i);
      let series = this.bySeries[i];
      if (series !== undefined && series.incarnation !== incarnation) series = undefined;
      // Created since the previous sample: everything it holds was recorded in this interval.
      const isNew = this.known[i] !== incarnation && Number.isFinite(dt);
      this.known[i] = incarnation;
      if (series === undefined) {
        if (this.tracked.length >= this.maxSeries) {
          hidden++;
          this.bySeries[i] = undefined;
          continue;
        }
        series = this.track(family.labelValues(i), incarnation, isNew);
        this.bySeries[i] = series;
      }
      series.lastSeen = tick;
      this.read(series, i, slot, dt);
    }
    this.hidden = hidden;
    // Series gone from the table keep their history until it has scrolled out of the window.
    for (const series of this.tracked) {
      if (series.lastSeen !== tick)
        series.values.fill(Number.NaN, slot * this.width, (slot + 1) * this.width);
    }
  }

  private track(tags: readonly string[], incarnation: number, isNew: boolean): TrackedSeries {
    const points = this.timeline.capacity * this.width;
    const values = this.info.view === 'histogram' ? new Float32Array(points) : new Float64Array(points);
    values.fill(Number.NaN);
    const previous = new Float64Array(this.info.view === 'histogram' ? this.width : 1);
    const series = { tags, incarnation, values, previous, primed: isNew, lastSeen: 0 };
    this.tracked.push(series);
    return series;
  }

  private read(series: TrackedSeries, index: number, slot: number, dt: number): void {
    const { values, previous } = series;
    const { family } = this;
    switch (family.kind) {
      case 'counter':
      case 'gauge': {
        const current = family.value(index);
        if (this.info.view === 'value') {
          values[slot] = current;
          return;
        }
        let delta = current - previous[0];
        // A counter never goes down; when it does, it restarted from 0 (as Prometheus' rate() assumes).
        if (delta < 0 && family.kind === 'counter') delta = current;
        values[slot] = series.primed ? delta / dt : Number.NaN;
        previous[0] = current;
        series.primed = true;
        return;
      }
      case 'histogram': {
        const slots = this.width;
        const rows = family.layout === 'native' ? nativeRowCounts(family, index) : undefined;
        const countOf = (b: number) => (rows === undefined ? family.bucketCount(index, b) : rows[b]);
        let reset = false;
        for (let b = 0; b < slots; b++) if (countOf(b) < previous[b]) reset = true;
        for (let b = 0; b < slots; b++) {
          const current = countOf(b);
          values[slot * slots + b] = series.primed ? current - (reset ? 0 : previous[b]) : Number.NaN;
          previous[b] = current;
        }
        series.primed = true;
        return;
      }
      case 'summary': {
        const window = family.window(index);
        for (let q = 0; q < CHART_QUANTILES.length; q++) {
          values[slot * 3 + q] = window.count === 0 ? Number.NaN : window.quantile(CHART_QUANTILES[q]);
        }
        return;
      }
    }
  }

  /** The metric's data at `slots`, for the series whose tags match `filter`. */
  data(slots: readonly number[], filter: ReadonlyMap<string, string>): MetricData {
    const { id, view, tagNames } = this.info;
    const checks = tagNames.flatMap((name, position) =>
      filter.has(name) ? [{ position, value: filter.get(name) }] : [],
    );
    const matching = this.tracked.filter((s) => checks.every((c) => s.tags[c.position] === c.value));
    const live = this.family.seriesCount;
    const hidden = this.hidden;
    if (view === 'rate' || view === 'value') {
      const series = matching.map((s) => ({
        tags: s.tags,
        values: slots.map((slot) => toJson(s.values[slot])),
      }));
      return { id, view, series, live, hidden };
    }
    if (view === 'summary') {
      const column = (s: TrackedSeries, q: number) => slots.map((slot) => toJson(s.values[slot * 3 + q]));
      const series = matching.map((s) => ({
        tags: s.tags,
        p50: column(s, 0),
        p90: column(s, 1),
        p99: column(s, 2),
      }));
      return { id, view, series, live, hidden };
    }
    const width = this.width;
    const bounds = this.info.bounds ?? [];
    const heatmap: number[][] = [];
    const p50: (number | null)[] = [];
    const p90: (number | null)[] = [];
    const p99: (number | null)[] = [];
    const sums = new Float64Array(width);
    for (const slot of slots) {
      sums.fill(0);
      for (const s of matching) {
        for (let b = 0; b < width; b++) {
          const delta = s.values[slot * width + b];
          if (delta > 0) sums[b] += delta;
        }
      }
      heatmap.push(Array.from(sums));
      p50.push(toJson(bucketQuantile(0.5, bounds, sums)));
      p90.push(toJson(bucketQuantile(0.9, bounds, sums)));
      p99.push(toJson(bucketQuantile(0.99, bounds, sums)));
    }
    return { id, view, p50, p90, p99, heatmap, matched: matching.length, live, hidden };
  }
}

function sumOf(family: MetricFamily | undefined): number | null {
  if (family === undefined || family.kind === 'histogram' || family.kind === 'summary') return null;
  let total = 0;
  for (let i = 0; i < family.seriesIdLimit; i++) if (family.holds(i)) total += family.value(i);
  return total;
}

/**
 * The dashboard's history, aggregated on the server: every `interval` it reads each metric's series
 * from the Telemeter's stores (it attaches no handler and never sees an event) and keeps, per series,
 * `points` samples in a ring:
 *
 * - counters and sums: per-second rates, `Δvalue / Δt` (a counter that went down restarted from 0);
 * - last values: the value;
 * - distributions: each bucket's increase in the interval (quantiles and heatmap are derived on request);
 * - summaries: p50, p90 and p99 over the summary's own sliding window.
 *
 * Memory is fixed by the options: per charted series `points × 8` bytes (last values, rates),
 * `points × 24` (summaries) or `points × 4 × (buckets + 1)` (distributions), for at most
 * `maxSeriesPerMetric` series per metric.
 */
export class DashboardHistory {
  readonly options: Required<HistoryOptions>;
  readonly timeline: Timeline;
  private readonly metrics: MetricHistory[];
  /** The source's refresh of computed values, run before each sample. */
  private readonly refresh: (() => void) | undefined;
  private readonly scrapes: MetricFamily | undefined;
  private readonly dropped: MetricFamily | undefined;
  private lastClock = Number.NaN;
  private timer: NodeJS.Timeout | undefined;
  private readonly log: LogSink;

  /**
   * @param where how messages name the caller; the live dashboard passes its own name.
   * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` when `source` is not a Telemeter;
   *   `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid key) or `ERR_TELEMETER_INVALID_OPTION` naming the option.
   */
  constructor(
    source: DashboardSource,
    options: HistoryOptions = {},
    where = 'telemeter/dashboard: DashboardHistory',
  ) {
    if (!Array.isArray((source as { metricFamilies?: unknown } | null)?.metricFamilies)) {
      invalidArgument(`${where}: the first argument must be a Telemeter`);
    }
    checkOptionKeys(where, options, HISTORY_OPTIONS);
    this.options = resolveHistoryOptions(options, where);
    this.log = logSinkOf(source.logger);
    this.timeline = new Timeline(this.options.points);
    const defined = source.metricFamilies.filter(
      (f): f is MetricFamily & { definition: MetricDefinition } => f.definition !== undefined,
    );
    this.metrics = defined.map(
      (family, id) => new MetricHistory(family, id, this.timeline, this.options.maxSeriesPerMetric),
    );
    this.refresh =
      typeof source.refreshComputedFamilies === 'function'
        ? () => source.refreshComputedFamilies!()
        : undefined;
    this.scrapes = source.metricFamilies.find((f) => f.name === 'telemeter_scrapes_total');
    this.dropped = source.metricFamilies.find((f) => f.name === 'telemeter_dropped_events_total');
  }

  /**
   * Takes one sample of every metric. `time` stamps it (epoch ms); `clock` (ms, monotonic) measures the
   * interval that rates divide by. Both default to the current time; tests pass their own.
   */
  sample(time = performance.timeOrigin + performance.now(), clock = time): void {
    const dt = (clock - this.lastClock) / 1000;
    this.lastClock = clock;
    const slot = this.timeline.advance(time);
    const seconds = dt > 0 ? dt : Number.NaN;
    this.refresh?.();
    for (const metric of this.metrics) metric.sample(slot, seconds);
  }

  /** Samples every `interval` (unref'd, so it never keeps the process alive). Idempotent. */
  start(): void {
    if (this.timer !== undefined) return;
    this.sample();
    this.timer = setInterval(() => {
      try {
        this.sample();
      } catch (error) {
        // Never let a timer throw into the host process; the next interval tries again.
        this.log.errorOnce(
          'dashboard:sample',
          { err: error },
          'telemeter/dashboard: sampling the history failed',
        );
      }
    }, this.options.interval);
    this.timer.unref();
  }

  /** Stops sampling. The history stays readable. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The page layout: every defined metric, in definition order. */
  meta(): DashboardMeta {
    return { ...this.options, metrics: this.metrics.map((m) => m.info) };
  }

  /**
   * The samples taken after `since` (epoch ms; all of them when undefined or older than the history),
   * for the series whose tags match `filter` (tag name → value; a metric without that tag is not filtered).
   */
  data(since?: number, filter: ReadonlyMap<string, string> = new Map()): DashboardData {
    const { timeline } = this;
    const full = since === undefined || !(since >= timeline.oldest);
    const slots = timeline.slotsAfter(full ? undefined : since);
    const tagSets = new Map<string, Set<string>>();
    let charted = 0;
    let hidden = 0;
    for (const metric of this.metrics) {
      charted += metric.tracked.length;
      hidden += metric.hidden;
      metric.info.tagNames.forEach((name, position) => {
        const values = tagSets.get(name) ?? new Set<string>();
        tagSets.set(name, values);
        for (const s of metric.tracked) values.add(s.tags[position]);
      });
    }
    const tags: Record<string, string[]> = {};
    for (const name of [...tagSets.keys()].sort()) {
      const values = tagSets.get(name)!;
      if (values.size > 0) tags[name] = [...values].sort();
    }
    let series = 0;
    for (const metric of this.metrics) series += metric.family.seriesCount;
    return {
      full,
      times: slots.map((slot) => timeline.times[slot]),
      metrics: this.metrics.map((metric) => metric.data(slots, filter)),
      tags,
      status: {
        uptime: process.uptime(),
        scrapes: sumOf(this.scrapes),
        dropped: sumOf(this.dropped),
        series,
        charted,
        hidden,
      },
    };
  }
}
