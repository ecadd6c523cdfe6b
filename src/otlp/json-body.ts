import type {
  ExportRequest,
  HistogramPoint,
  NumberPoint,
  OtlpMetric,
  PointAttributes,
  SummaryPoint,
} from './export-request.js';
import type { ResourceAttributes } from './resource.js';
import { unixNanos } from './time.js';

/**
 * The request in OTLP's JSON encoding (the proto3 JSON mapping with OTLP's deviations): lowerCamelCase keys,
 * enums as integers, 64-bit integers (times, counts) as decimal strings, NaN and infinities as the strings
 * `"NaN"`, `"Infinity"`, `"-Infinity"`. Zero-valued optional fields are left out, as proto3 does.
 */
export function encodeJson(request: ExportRequest): string {
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: resourceAttributes(request.resource) },
        scopeMetrics: [
          {
            scope: { name: request.scope.name, version: request.scope.version },
            metrics: request.metrics.map(metric),
          },
        ],
      },
    ],
  });
}

function metric(m: OtlpMetric): object {
  const out: Record<string, unknown> = { name: m.name };
  if (m.description !== '') out.description = m.description;
  if (m.unit !== '') out.unit = m.unit;
  const data = m.data;
  switch (data.type) {
    case 'gauge':
      out.gauge = { dataPoints: data.points.map(numberPoint) };
      break;
    case 'sum':
      out.sum = {
        dataPoints: data.points.map(numberPoint),
        aggregationTemporality: data.temporality,
        ...(data.monotonic ? { isMonotonic: true } : {}),
      };
      break;
    case 'histogram':
      out.histogram = {
        dataPoints: data.points.map(histogramPoint),
        aggregationTemporality: data.temporality,
      };
      break;
    case 'summary':
      out.summary = { dataPoints: data.points.map(summaryPoint) };
      break;
  }
  return out;
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
