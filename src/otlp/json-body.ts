import {
  type ExponentialBuckets,
  type ExponentialHistogramPoint,
  type ExportRequest,
  type HistogramPoint,
  type NumberPoint,
  POINTS_PER_STEP,
  type PointAttributes,
  type SummaryPoint,
} from './export-request.js';
import type { ResourceAttributes } from './resource.js';
import { unixNanos } from './time.js';

/**
 * The request in OTLP's JSON encoding (the proto3 JSON mapping with OTLP's deviations): lowerCamelCase keys,
 * enums as integers, 64-bit integers (times, counts) as decimal strings, NaN and infinities as the strings
 * `"NaN"`, `"Infinity"`, `"-Infinity"`. Zero-valued optional fields are left out, as proto3 does.
 */
export function encodeJson(request: ExportRequest): string {
  const steps = encodeJsonSteps(request);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * {@link encodeJson} in steps, pausing every {@link POINTS_PER_STEP} points: the body is written as pieces, one
 * `JSON.stringify` per point, since one call over a whole large request would hold the event loop for seconds.
 */
export function* encodeJsonSteps(request: ExportRequest): Generator<void, string> {
  const parts: string[] = [
    '{"resourceMetrics":[{"resource":',
    JSON.stringify({ attributes: resourceAttributes(request.resource) }),
    ',"scopeMetrics":[{"scope":',
    JSON.stringify({ name: request.scope.name, version: request.scope.version }),
    ',"metrics":[',
  ];
  for (let i = 0; i < request.metrics.length; i++) {
    const m = request.metrics[i];
    const head: Record<string, string> = { name: m.name };
    if (m.description !== '') head.description = m.description;
    if (m.unit !== '') head.unit = m.unit;
    // `{"name":…` without its closing brace, then the data member.
    parts.push(i === 0 ? '' : ',', JSON.stringify(head).slice(0, -1), `,"${m.data.type}":{"dataPoints":[`);
    const data = m.data;
    const points: readonly object[] = data.points;
    const encode: (point: never) => object =
      data.type === 'histogram'
        ? histogramPoint
        : data.type === 'exponentialHistogram'
          ? exponentialPoint
          : data.type === 'summary'
            ? summaryPoint
            : numberPoint;
    for (let j = 0; j < points.length; j++) {
      if (j % POINTS_PER_STEP === POINTS_PER_STEP - 1) yield;
      parts.push(j === 0 ? '' : ',', JSON.stringify(encode(points[j] as never)));
    }
    parts.push(']');
    if (data.type === 'sum' || data.type === 'histogram' || data.type === 'exponentialHistogram') {
      parts.push(`,"aggregationTemporality":${data.temporality}`);
    }
    if (data.type === 'sum' && data.monotonic) parts.push(',"isMonotonic":true');
    parts.push('}}');
  }
  parts.push(']}]}]}');
  return parts.join('');
}

function times(point: { start: number; time: number }): Record<string, string> {
  const out: Record<string, string> = {};
  if (point.start > 0) out.startTimeUnixNano = unixNanos(point.start).toString();
  out.timeUnixNano = unixNanos(point.time).toString();
  return out;
}

function numberPoint(point: NumberPoint): object {
  return { attributes: attributes(point.attributes), ...times(point), asDouble: double(point.value) };
}

function histogramPoint(point: HistogramPoint): object {
  return {
    attributes: attributes(point.attributes),
    ...times(point),
    count: String(point.count),
    sum: double(point.sum),
    bucketCounts: point.bucketCounts.map(String),
    explicitBounds: point.bounds.map(double),
  };
}

function exponentialPoint(point: ExponentialHistogramPoint): object {
  const out: Record<string, unknown> = {
    attributes: attributes(point.attributes),
    ...times(point),
    count: String(point.count),
    sum: double(point.sum),
  };
  if (point.scale !== 0) out.scale = point.scale;
  if (point.zeroCount !== 0) out.zeroCount = String(point.zeroCount);
  if (point.positive.bucketCounts.length > 0) out.positive = exponentialBuckets(point.positive);
  if (point.negative.bucketCounts.length > 0) out.negative = exponentialBuckets(point.negative);
  if (point.zeroThreshold !== 0) out.zeroThreshold = point.zeroThreshold;
  return out;
}

function exponentialBuckets(buckets: ExponentialBuckets): object {
  const out: Record<string, unknown> = { bucketCounts: buckets.bucketCounts.map(String) };
  if (buckets.offset !== 0) out.offset = buckets.offset;
  return out;
}

function summaryPoint(point: SummaryPoint): object {
  return {
    attributes: attributes(point.attributes),
    ...times(point),
    count: String(point.count),
    sum: double(point.sum),
    quantileValues: point.quantiles.map((q) => ({ quantile: double(q.quantile), value: double(q.value) })),
  };
}

function attributes(pairs: PointAttributes): object[] {
  return pairs.map(([key, value]) => ({ key, value: { stringValue: value } }));
}

function resourceAttributes(pairs: ResourceAttributes): object[] {
  return pairs.map(([key, value]) => {
    if (typeof value === 'string') return { key, value: { stringValue: value } };
    if (typeof value === 'boolean') return { key, value: { boolValue: value } };
    if (Number.isSafeInteger(value)) return { key, value: { intValue: String(value) } };
    return { key, value: { doubleValue: double(value) } };
  });
}

/** A double as proto3 JSON writes it: a number, or a string for the values JSON has no number for. */
function double(value: number): number | string {
  if (Number.isFinite(value)) return value;
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? 'Infinity' : '-Infinity';
}
