import { ProtobufWriter } from '../protobuf/index.js';
import {
  type ExponentialBuckets,
  type ExponentialHistogramPoint,
  type ExportRequest,
  type HistogramPoint,
  type NumberPoint,
  type OtlpMetric,
  POINTS_PER_STEP,
  type PointAttributes,
  type SummaryPoint,
} from './export-request.js';
import { NanosCache } from './time.js';

// Field numbers of opentelemetry-proto v1 (collector/metrics/v1/metrics_service.proto, metrics/v1/metrics.proto,
// common/v1/common.proto, resource/v1/resource.proto).
const REQUEST_RESOURCE_METRICS = 1;
const RESOURCE_METRICS_RESOURCE = 1;
const RESOURCE_METRICS_SCOPE_METRICS = 2;
const RESOURCE_ATTRIBUTES = 1;
const SCOPE_METRICS_SCOPE = 1;
const SCOPE_METRICS_METRICS = 2;
const SCOPE_NAME = 1;
const SCOPE_VERSION = 2;
const METRIC_NAME = 1;
const METRIC_DESCRIPTION = 2;
const METRIC_UNIT = 3;
const METRIC_GAUGE = 5;
const METRIC_SUM = 7;
const METRIC_HISTOGRAM = 9;
const METRIC_EXPONENTIAL_HISTOGRAM = 10;
const METRIC_SUMMARY = 11;
const DATA_POINTS = 1;
const AGGREGATION_TEMPORALITY = 2;
const SUM_IS_MONOTONIC = 3;
const NUMBER_START = 2;
const NUMBER_TIME = 3;
const NUMBER_AS_DOUBLE = 4;
const NUMBER_ATTRIBUTES = 7;
const HISTOGRAM_START = 2;
const HISTOGRAM_TIME = 3;
const HISTOGRAM_COUNT = 4;
const HISTOGRAM_SUM = 5;
const HISTOGRAM_BUCKET_COUNTS = 6;
const HISTOGRAM_EXPLICIT_BOUNDS = 7;
const HISTOGRAM_ATTRIBUTES = 9;
const EXPONENTIAL_ATTRIBUTES = 1;
const EXPONENTIAL_START = 2;
const EXPONENTIAL_TIME = 3;
const EXPONENTIAL_COUNT = 4;
const EXPONENTIAL_SUM = 5;
const EXPONENTIAL_SCALE = 6;
const EXPONENTIAL_ZERO_COUNT = 7;
const EXPONENTIAL_POSITIVE = 8;
const EXPONENTIAL_NEGATIVE = 9;
const EXPONENTIAL_ZERO_THRESHOLD = 14;
const BUCKETS_OFFSET = 1;
const BUCKETS_COUNTS = 2;
const SUMMARY_START = 2;
const SUMMARY_TIME = 3;
const SUMMARY_COUNT = 4;
const SUMMARY_SUM = 5;
const SUMMARY_QUANTILE_VALUES = 6;
const SUMMARY_ATTRIBUTES = 7;
const QUANTILE = 1;
const QUANTILE_VALUE = 2;
const KEY_VALUE_KEY = 1;
const KEY_VALUE_VALUE = 2;
const ANY_STRING = 1;
const ANY_BOOL = 2;
const ANY_INT = 3;
const ANY_DOUBLE = 4;

/**
 * The request as an `ExportMetricsServiceRequest` in protobuf, fields in number order and zero values left out,
 * as proto3 encoders write them. Every double is written, zero included, where the field has presence (a
 * histogram's optional `sum`) or is part of a oneof (`as_double`), so a zero is not read as "absent".
 */
export function encodeProtobuf(request: ExportRequest): Uint8Array {
  const steps = encodeProtobufSteps(request);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** {@link encodeProtobuf} in steps: it pauses (yields) every {@link POINTS_PER_STEP} points. */
export function* encodeProtobufSteps(request: ExportRequest): Generator<void, Uint8Array> {
  nanos = new NanosCache();
  const w = new ProtobufWriter(16 * 1024);
  const resourceMetrics = w.beginMessage(REQUEST_RESOURCE_METRICS);
  const resource = w.beginMessage(RESOURCE_METRICS_RESOURCE);
  for (const [key, value] of request.resource) {
    const pair = w.beginMessage(RESOURCE_ATTRIBUTES);
    w.string(KEY_VALUE_KEY, key);
    const any = w.beginMessage(KEY_VALUE_VALUE);
    if (typeof value === 'string') w.string(ANY_STRING, value);
    else if (typeof value === 'boolean') w.bool(ANY_BOOL, value);
    else if (Number.isSafeInteger(value)) w.int(ANY_INT, value);
    else w.double(ANY_DOUBLE, value);
    w.endMessage(any);
    w.endMessage(pair);
  }
  w.endMessage(resource);
  const scopeMetrics = w.beginMessage(RESOURCE_METRICS_SCOPE_METRICS);
  const scope = w.beginMessage(SCOPE_METRICS_SCOPE);
  w.string(SCOPE_NAME, request.scope.name);
  w.string(SCOPE_VERSION, request.scope.version);
  w.endMessage(scope);
  for (const metric of request.metrics) yield* writeMetric(w, metric);
  w.endMessage(scopeMetrics);
  w.endMessage(resourceMetrics);
  return w.finish();
}

/** Every point of an export shares its time, and most share their start: each converted once per export. */
let nanos = new NanosCache();

function* writeMetric(w: ProtobufWriter, metric: OtlpMetric): Generator<void, void> {
  const message = w.beginMessage(SCOPE_METRICS_METRICS);
  w.string(METRIC_NAME, metric.name);
  if (metric.description !== '') w.string(METRIC_DESCRIPTION, metric.description);
  if (metric.unit !== '') w.string(METRIC_UNIT, metric.unit);
  const data = metric.data;
  switch (data.type) {
    case 'gauge': {
      const gauge = w.beginMessage(METRIC_GAUGE);
      yield* eachPoint(data.points, (point) => writeNumberPoint(w, point));
      w.endMessage(gauge);
      break;
    }
    case 'sum': {
      const sum = w.beginMessage(METRIC_SUM);
      yield* eachPoint(data.points, (point) => writeNumberPoint(w, point));
      w.uint(AGGREGATION_TEMPORALITY, data.temporality);
      if (data.monotonic) w.bool(SUM_IS_MONOTONIC, true);
      w.endMessage(sum);
      break;
    }
    case 'histogram': {
      const histogram = w.beginMessage(METRIC_HISTOGRAM);
      yield* eachPoint(data.points, (point) => writeHistogramPoint(w, point));
      w.uint(AGGREGATION_TEMPORALITY, data.temporality);
      w.endMessage(histogram);
      break;
    }
    case 'exponentialHistogram': {
      const histogram = w.beginMessage(METRIC_EXPONENTIAL_HISTOGRAM, 3);
      yield* eachPoint(data.points, (point) => writeExponentialPoint(w, point));
      w.uint(AGGREGATION_TEMPORALITY, data.temporality);
      w.endMessage(histogram);
      break;
    }
    case 'summary': {
      const summary = w.beginMessage(METRIC_SUMMARY);
      yield* eachPoint(data.points, (point) => writeSummaryPoint(w, point));
      w.endMessage(summary);
      break;
    }
  }
  w.endMessage(message);
}

/** Calls `write` for each point, pausing every {@link POINTS_PER_STEP}. */
function* eachPoint<P>(points: readonly P[], write: (point: P) => void): Generator<void, void> {
  for (let i = 0; i < points.length; i++) {
    if (i % POINTS_PER_STEP === POINTS_PER_STEP - 1) yield;
    write(points[i]);
  }
}

function writeNumberPoint(w: ProtobufWriter, point: NumberPoint): void {
  const message = w.beginMessage(DATA_POINTS);
  if (point.start > 0) w.fixed64(NUMBER_START, nanos.of(point.start));
  w.fixed64(NUMBER_TIME, nanos.of(point.time));
  w.double(NUMBER_AS_DOUBLE, point.value);
  writeAttributes(w, NUMBER_ATTRIBUTES, point.attributes);
  w.endMessage(message);
}

function writeHistogramPoint(w: ProtobufWriter, point: HistogramPoint): void {
  const message = w.beginMessage(DATA_POINTS);
  if (point.start > 0) w.fixed64(HISTOGRAM_START, nanos.of(point.start));
  w.fixed64(HISTOGRAM_TIME, nanos.of(point.time));
  if (point.count !== 0) w.fixed64(HISTOGRAM_COUNT, point.count);
  w.double(HISTOGRAM_SUM, point.sum);
  w.packedFixed64s(HISTOGRAM_BUCKET_COUNTS, point.bucketCounts);
  w.packedDoubles(HISTOGRAM_EXPLICIT_BOUNDS, point.bounds);
  writeAttributes(w, HISTOGRAM_ATTRIBUTES, point.attributes);
  w.endMessage(message);
}

function writeExponentialPoint(w: ProtobufWriter, point: ExponentialHistogramPoint): void {
  const message = w.beginMessage(DATA_POINTS, 2);
  writeAttributes(w, EXPONENTIAL_ATTRIBUTES, point.attributes);
  if (point.start > 0) w.fixed64(EXPONENTIAL_START, nanos.of(point.start));
  w.fixed64(EXPONENTIAL_TIME, nanos.of(point.time));
  if (point.count !== 0) w.fixed64(EXPONENTIAL_COUNT, point.count);
  w.double(EXPONENTIAL_SUM, point.sum);
  if (point.scale !== 0) w.sint(EXPONENTIAL_SCALE, point.scale);
  if (point.zeroCount !== 0) w.fixed64(EXPONENTIAL_ZERO_COUNT, point.zeroCount);
  writeExponentialBuckets(w, EXPONENTIAL_POSITIVE, point.positive);
  writeExponentialBuckets(w, EXPONENTIAL_NEGATIVE, point.negative);
  if (point.zeroThreshold !== 0) w.double(EXPONENTIAL_ZERO_THRESHOLD, point.zeroThreshold);
  w.endMessage(message);
}

/** One side's buckets; nothing for a side without any (proto3 leaves an empty message out). */
function writeExponentialBuckets(w: ProtobufWriter, field: number, buckets: ExponentialBuckets): void {
  if (buckets.bucketCounts.length === 0) return;
  const message = w.beginMessage(field);
  if (buckets.offset !== 0) w.sint(BUCKETS_OFFSET, buckets.offset);
  w.packedUints(BUCKETS_COUNTS, buckets.bucketCounts);
  w.endMessage(message);
}

function writeSummaryPoint(w: ProtobufWriter, point: SummaryPoint): void {
  const message = w.beginMessage(DATA_POINTS);
  if (point.start > 0) w.fixed64(SUMMARY_START, nanos.of(point.start));
  w.fixed64(SUMMARY_TIME, nanos.of(point.time));
  if (point.count !== 0) w.fixed64(SUMMARY_COUNT, point.count);
  if (point.sum !== 0) w.double(SUMMARY_SUM, point.sum);
  for (const { quantile, value } of point.quantiles) {
    const q = w.beginMessage(SUMMARY_QUANTILE_VALUES);
    if (quantile !== 0) w.double(QUANTILE, quantile);
    if (value !== 0) w.double(QUANTILE_VALUE, value);
    w.endMessage(q);
  }
  writeAttributes(w, SUMMARY_ATTRIBUTES, point.attributes);
  w.endMessage(message);
}

function writeAttributes(w: ProtobufWriter, field: number, attributes: PointAttributes): void {
  for (const [key, value] of attributes) {
    const pair = w.beginMessage(field);
    w.string(KEY_VALUE_KEY, key);
    const any = w.beginMessage(KEY_VALUE_VALUE);
    w.string(ANY_STRING, value);
    w.endMessage(any);
    w.endMessage(pair);
  }
}
