import {
  type HistogramFamily,
  type MetricFamily,
  type NativeHistogramData,
  nativeDifference,
  type ScalarFamily,
  type SummaryFamily,
  toOtlpBuckets,
} from '../reporter/index.js';
import {
  type PendingResource,
  type ResourceAttributes,
  TELEMETER_VERSION,
  withInstanceId,
} from './resource.js';

/**
 * One OTLP `ExportMetricsServiceRequest` with one resource and one scope, as plain data that the protobuf and the
 * JSON encoders both write. Times are Unix milliseconds (fractions allowed); the encoders turn them into
 * nanoseconds.
 */
export interface ExportRequest {
  readonly resource: ResourceAttributes;
  readonly scope: { readonly name: string; readonly version: string };
  readonly metrics: readonly OtlpMetric[];
  /** Points in the request, over every metric: what a receiver's `rejected_data_points` is out of. */
  readonly dataPoints: number;
}

/** `[name, value]` attributes of one point, in the order of the series' label block. */
export type PointAttributes = ReadonlyArray<readonly [string, string]>;

/** `AggregationTemporality`: DELTA 1, CUMULATIVE 2 (UNSPECIFIED 0 must not be sent). */
export const DELTA = 1;
export const CUMULATIVE = 2;
export type Temporality = typeof DELTA | typeof CUMULATIVE;

export interface OtlpMetric {
  readonly name: string;
  readonly description: string;
  /** UCUM (`s`, `By`), or `''`. */
  readonly unit: string;
  readonly data: GaugeData | SumData | HistogramData | ExponentialHistogramData | SummaryData;
}

export interface GaugeData {
  readonly type: 'gauge';
  readonly points: readonly NumberPoint[];
}

export interface SumData {
  readonly type: 'sum';
  readonly temporality: Temporality;
  readonly monotonic: boolean;
  readonly points: readonly NumberPoint[];
}

export interface HistogramData {
  readonly type: 'histogram';
  readonly temporality: Temporality;
  readonly points: readonly HistogramPoint[];
}

export interface ExponentialHistogramData {
  readonly type: 'exponentialHistogram';
  readonly temporality: Temporality;
  readonly points: readonly ExponentialHistogramPoint[];
}

export interface SummaryData {
  readonly type: 'summary';
  readonly points: readonly SummaryPoint[];
}

interface Point {
  readonly attributes: PointAttributes;
  /** 0 for a gauge point, which has no start. */
  readonly start: number;
  readonly time: number;
}

export interface NumberPoint extends Point {
  readonly value: number;
}

export interface HistogramPoint extends Point {
  readonly count: number;
  readonly sum: number;
  /** Per bucket, not cumulative: `bounds.length + 1` counts, the last one above every bound. */
  readonly bucketCounts: readonly number[];
  readonly bounds: readonly number[];
}

/** One side of an exponential histogram: `bucketCounts[k]` counts `(base^(offset + k), base^(offset + k + 1)]`. */
export interface ExponentialBuckets {
  readonly offset: number;
  readonly bucketCounts: readonly number[];
}

export interface ExponentialHistogramPoint extends Point {
  /** `zeroCount` plus every bucket: observations of ±Infinity and NaN, in no OTLP bucket, are left out. */
  readonly count: number;
  readonly sum: number;
  /** The Prometheus schema, -4…8. */
  readonly scale: number;
  readonly zeroCount: number;
  readonly zeroThreshold: number;
  readonly positive: ExponentialBuckets;
  readonly negative: ExponentialBuckets;
}

export interface SummaryPoint extends Point {
  readonly count: number;
  readonly sum: number;
  readonly quantiles: ReadonlyArray<{ readonly quantile: number; readonly value: number }>;
}

/** OpenMetrics unit words as UCUM, the unit syntax of OTLP, which Prometheus' OTLP receiver turns back into the words. */
const UCUM: Readonly<Record<string, string>> = {
  seconds: 's',
  milliseconds: 'ms',
  microseconds: 'us',
  nanoseconds: 'ns',
  bytes: 'By',
  kilobytes: 'kBy',
  megabytes: 'MBy',
  ratio: '1',
  percent: '%',
  meters: 'm',
  grams: 'g',
  joules: 'J',
  volts: 'V',
  amperes: 'A',
  celsius: 'Cel',
  hertz: 'Hz',
};

/** Series read between two pauses of {@link ExportBuilder.steps}: a few milliseconds of work. */
export const POINTS_PER_STEP = 4096;

/** What the builder keeps per series between exports. */
interface SeriesState {
  /** The incarnation the state belongs to; a different one at the same id is another series. */
  incarnation: number;
  /** The start of the series' stream: its cumulative points repeat it. */
  start: number;
  /** Delta only: the end of the previous point, where the next one starts. */
  lastTime: number;
  /** Delta only: the cumulative values at `lastTime` (a counter's value; a histogram's count, sum and buckets). */
  previous: Float64Array | undefined;
  /** Delta only, native histograms: the series at `lastTime`. */
  previousNative?: NativeHistogramData;
}

/**
 * Builds export requests from a Telemeter's read model, as the OpenTelemetry compatibility specification maps
 * Prometheus types to OTLP: counters to monotonic sums, last values to gauges, sums exported as gauges to
 * non-monotonic cumulative sums, classic histograms to explicit-bucket histograms (per-bucket counts, bounds
 * without +Inf), native histograms (layout `'native'` or `'both'`) to exponential histograms, summaries to
 * summaries. Names stay the Prometheus names (a counter keeps `_total`), so a
 * receiver that translates OTLP back to Prometheus (adding `_total` and the unit suffix unless present) gives
 * the names a scrape gives.
 *
 * Per series it keeps the start of the stream and, for delta temporality, the values last sent, keyed by id and
 * incarnation, so a series that expired and came back at the same id starts a new stream.
 */
export class ExportBuilder {
  private readonly states = new Map<MetricFamily, Array<SeriesState | undefined>>();
  /** The time of the previous build: a series first seen now began after it. */
  private previousBuild: number | undefined;
  /** The resource, completed at the first build. */
  private resource: ResourceAttributes | undefined;

  constructor(
    private readonly families: readonly MetricFamily[],
    private readonly pendingResource: PendingResource,
    private readonly temporality: 'cumulative' | 'delta',
  ) {}

  /** The request for the series held now, at `now` (Unix ms); `undefined` when there is no series to send. */
  build(now: number): ExportRequest | undefined {
    const steps = this.steps(now);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  }

  /**
   * {@link build} in steps: it pauses (yields) between families and every {@link POINTS_PER_STEP} series, so
   * the exporter can give the event loop a turn while it reads a Telemeter with many series, as a streamed scrape
   * does.
   */
  *steps(now: number): Generator<void, ExportRequest | undefined> {
    const metrics: OtlpMetric[] = [];
    let dataPoints = 0;
    for (const family of this.families) {
      if (family.seriesCount === 0) continue;
      const metric = yield* this.metric(family, now);
      yield;
      if (metric === undefined) continue;
      metrics.push(metric);
      dataPoints += metric.data.points.length;
    }
    this.previousBuild = now;
    if (dataPoints === 0) return undefined;
    this.resource ??= withInstanceId(this.pendingResource);
    return {
      resource: this.resource,
      scope: { name: 'telemeter', version: TELEMETER_VERSION },
      metrics,
      dataPoints,
    };
  }

  private *metric(family: MetricFamily, now: number): Generator<void, OtlpMetric | undefined> {
    const name = family.name;
    const description = family.help;
    const unit = family.unit === undefined ? '' : (UCUM[family.unit] ?? family.unit);
    switch (family.kind) {
      case 'counter':
        return {
          name,
          description,
          unit,
          data: {
            type: 'sum',
            temporality: this.temporality === 'delta' ? DELTA : CUMULATIVE,
            monotonic: true,
            points: yield* this.numberPoints(family, now, this.temporality === 'delta', true),
          },
        };
      case 'gauge':
        if (family.cumulative) {
          // A sum exported as a gauge may go down: an UpDownCounter, which stays cumulative under a delta preference.
          return {
            name,
            description,
            unit,
            data: {
              type: 'sum',
              temporality: CUMULATIVE,
              monotonic: false,
              points: yield* this.numberPoints(family, now, false, true),
            },
          };
        }
        return {
          name,
          description,
          unit,
          data: { type: 'gauge', points: yield* this.numberPoints(family, now, false, false) },
        };
      case 'histogram':
        // A metric is one data type in OTLP: where a family keeps both kinds of buckets, the native ones go, as they
        // merge exactly and carry the finer resolution.
        if (family.layout !== 'classic') {
          return {
            name,
            description,
            unit,
            data: {
              type: 'exponentialHistogram',
              temporality: this.temporality === 'delta' ? DELTA : CUMULATIVE,
              points: yield* this.exponentialPoints(family, now),
            },
          };
        }
        return {
          name,
          description,
          unit,
          data: {
            type: 'histogram',
            temporality: this.temporality === 'delta' ? DELTA : CUMULATIVE,
            points: yield* this.histogramPoints(family, now),
          },
        };
      case 'summary':
        return {
          name,
          description,
          unit,
          data: { type: 'summary', points: yield* this.summaryPoints(family, now) },
        };
      default:
        // A kind this exporter does not know yet: left out rather than misread.
        return undefined;
    }
  }

  private *numberPoints(
    family: ScalarFamily,
    now: number,
    delta: boolean,
    started: boolean,
  ): Generator<void, NumberPoint[]> {
    const points: NumberPoint[] = [];
    const limit = family.seriesIdLimit;
    for (let id = 0; id < limit; id++) {
      if (id % POINTS_PER_STEP === POINTS_PER_STEP - 1) yield;
      if (!family.holds(id)) continue;
      const value = family.value(id);
      const attributes = attributesOf(family, id);
      if (!started) {
        points.push({ attributes, start: 0, time: now, value });
        continue;
      }
      const state = this.stateOf(family, id, now, delta ? 1 : 0);
      if (!delta) {
        points.push({ attributes, start: state.start, time: now, value });
        continue;
      }
      const previous = state.previous as Float64Array;
      // A counter below its last value was reset behind our back: all of it is new.
      const change = value >= previous[0] ? value - previous[0] : value;
      points.push({ attributes, start: state.lastTime, time: now, value: change });
      previous[0] = value;
      state.lastTime = now;
    }
    return points;
  }

  private *histogramPoints(family: HistogramFamily, now: number): Generator<void, HistogramPoint[]> {
    const points: HistogramPoint[] = [];
    const delta = this.temporality === 'delta';
    const buckets = family.buckets;
    const limit = family.seriesIdLimit;
    for (let id = 0; id < limit; id++) {
      if (id % POINTS_PER_STEP === POINTS_PER_STEP - 1) yield;
      if (!family.holds(id)) continue;
      const state = this.stateOf(family, id, now, delta ? buckets + 2 : 0);
      const count = family.count(id);
      const sum = family.sum(id);
      const bucketCounts = new Array<number>(buckets);
      for (let b = 0; b < buckets; b++) bucketCounts[b] = family.bucketCount(id, b);
      const attributes = attributesOf(family, id);
      if (!delta) {
        points.push({
          attributes,
          start: state.start,
          time: now,
          count,
          sum,
          bucketCounts,
          bounds: family.bounds,
        });
        continue;
      }
      const previous = state.previous as Float64Array;
      const reset = count < previous[0];
      const changes = reset ? bucketCounts : bucketCounts.map((n, b) => n - previous[2 + b]);
      points.push({
        attributes,
        start: state.lastTime,
        time: now,
        count: reset ? count : count - previous[0],
        sum: reset ? sum : sum - previous[1],
        bucketCounts: changes,
        bounds: family.bounds,
      });
      previous[0] = count;
      previous[1] = sum;
      for (let b = 0; b < buckets; b++) previous[2 + b] = bucketCounts[b];
      state.lastTime = now;
    }
    return points;
  }

  private *exponentialPoints(
    family: HistogramFamily,
    now: number,
  ): Generator<void, ExponentialHistogramPoint[]> {
    const points: ExponentialHistogramPoint[] = [];
    const delta = this.temporality === 'delta';
    const limit = family.seriesIdLimit;
    for (let id = 0; id < limit; id++) {
      if (id % POINTS_PER_STEP === POINTS_PER_STEP - 1) yield;
      if (!family.holds(id)) continue;
      const data = family.nativeHistogram(id);
      if (data === undefined) continue;
      const state = this.stateOf(family, id, now, 0);
      const attributes = attributesOf(family, id);
      if (!delta) {
        points.push(exponentialPoint(data, attributes, state.start, now));
        continue;
      }
      // A series whose resolution went down since the last export is compared at the new resolution; one that
      // cannot have grown from what was sent was reset, and all of it is new.
      const previous = state.previousNative;
      const change = previous === undefined ? data : (nativeDifference(data, previous) ?? data);
      points.push(exponentialPoint(change, attributes, state.lastTime, now));
      state.previousNative = data;
      state.lastTime = now;
    }
    return points;
  }

  private *summaryPoints(family: SummaryFamily, now: number): Generator<void, SummaryPoint[]> {
    const points: SummaryPoint[] = [];
    const limit = family.seriesIdLimit;
    for (let id = 0; id < limit; id++) {
      if (id % POINTS_PER_STEP === POINTS_PER_STEP - 1) yield;
      if (!family.holds(id)) continue;
      const state = this.stateOf(family, id, now, 0);
      const window = family.window(id);
      points.push({
        attributes: attributesOf(family, id),
        start: state.start,
        time: now,
        count: family.count(id),
        sum: family.sum(id),
        quantiles: family.quantiles.map((quantile) => ({ quantile, value: window.quantile(quantile) })),
      });
    }
    return points;
  }

  /** The state of series `id`, new when the id holds another series than last time. */
  private stateOf(family: MetricFamily, id: number, now: number, previousValues: number): SeriesState {
    let states = this.states.get(family);
    if (states === undefined) {
      states = [];
      this.states.set(family, states);
    }
    const incarnation = family.incarnation(id);
    let state = states[id];
    if (state === undefined || state.incarnation !== incarnation) {
      const start = this.seriesStart(family, id, now);
      state = {
        incarnation,
        start,
        lastTime: start,
        previous: previousValues > 0 ? new Float64Array(previousValues) : undefined,
      };
      states[id] = state;
    }
    return state;
  }

  /**
   * When a series first seen now began: its creation time. Where the clock read 0 then (a Worker's module top
   * level), the previous export if there was one (the series' value counts from before it, so the start is a
   * little late, and its first rate a little high), else now: a start equal to the time, which OTLP reads as a
   * reset at an unknown time.
   */
  private seriesStart(family: MetricFamily, id: number, now: number): number {
    const created = family.created(id);
    if (created > 0 && created <= now) return created;
    return this.previousBuild ?? now;
  }
}

/** A native histogram as OTLP's data point (REFERENCE §13.3): the overflow buckets are left out, of `count` too. */
function exponentialPoint(
  data: NativeHistogramData,
  attributes: PointAttributes,
  start: number,
  time: number,
): ExponentialHistogramPoint {
  const positive = toOtlpBuckets(data.positive, data.schema);
  const negative = toOtlpBuckets(data.negative, data.schema);
  let count = data.zeroCount;
  for (const n of positive.bucketCounts) count += n;
  for (const n of negative.bucketCounts) count += n;
  return {
    attributes,
    start,
    time,
    count,
    sum: data.sum,
    scale: data.schema,
    zeroCount: data.zeroCount,
    zeroThreshold: data.zeroThreshold,
    positive: { offset: positive.offset, bucketCounts: positive.bucketCounts },
    negative: { offset: negative.offset, bucketCounts: negative.bucketCounts },
  };
}

function attributesOf(family: MetricFamily, id: number): PointAttributes {
  const attributes: Array<readonly [string, string]> = [];
  family.forEachLabel(id, (name, value) => attributes.push([name, value]));
  return attributes;
}
