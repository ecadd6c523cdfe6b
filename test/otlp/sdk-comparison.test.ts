/**
 * The same events measured by OpenTelemetry's SDK and pushed by its OTLP/HTTP protobuf exporter, and measured by
 * telemeter and pushed by telemeter/otlp, both to one loopback receiver: after Prometheus' OTLP name translation
 * (dots to underscores, unit suffix and `_total` added unless present) the two carry the same metric names,
 * types, monotonicity, temporality, attributes and values, cumulative and delta. (The SDK has no summary
 * instrument, so summaries are compared with the store in export.test.ts only.)
 */
import { metrics as otelMetrics } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { counter, distribution, execute, lastValue, sum, Telemeter } from '../../src/index.js';
import { startOtlp } from '../../src/otlp/index.js';
import { attributesOf, type DecodedRequest, OtlpReceiver } from './receiver.js';

const EVENT = 'sdk.compare.request';
const BOUNDS = [0.1, 0.5, 1, 2.5];
const REQUESTS: Array<{ route: string; status: string; duration: number; inflight: number; depth: number }> =
  [
    { route: '/cart', status: '200', duration: 0.05, inflight: 1, depth: 3 },
    { route: '/cart', status: '500', duration: 0.7, inflight: 1, depth: 9 },
    { route: '/checkout', status: '200', duration: 0.3, inflight: -1, depth: 4 },
    { route: '/checkout', status: '200', duration: 3.5, inflight: 2, depth: 1 },
    { route: '/cart', status: '200', duration: 0.5, inflight: -2, depth: 6 },
  ];

const UNIT_WORDS: Record<string, string> = { s: 'seconds', By: 'bytes', ms: 'milliseconds' };

/** Prometheus' OTLP translation of a metric name (UnderscoreEscapingWithSuffixes), enough for these metrics. */
function prometheusName(metric: DecodedRequest): string {
  let name = metric.name.replace(/[^a-zA-Z0-9_:]/g, '_');
  const unit = UNIT_WORDS[metric.unit ?? ''];
  if (unit !== undefined && !name.endsWith(`_${unit}`)) name += `_${unit}`;
  if (metric.sum?.isMonotonic && !name.endsWith('_total')) name += '_total';
  return name;
}

/** One request's metrics as comparable data: by translated name, the type and its points keyed by attributes. */
function semantics(request: DecodedRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const rm of request.resourceMetrics) {
    for (const sm of rm.scopeMetrics) {
      for (const metric of sm.metrics) {
        const kind = ['gauge', 'sum', 'histogram'].find((k) => metric[k] !== undefined);
        if (kind === undefined) continue;
        const data = metric[kind];
        const points: Record<string, unknown> = {};
        for (const point of data.dataPoints) {
          const key = JSON.stringify(
            Object.entries(attributesOf(point)).sort(([a], [b]) => a.localeCompare(b)),
          );
          points[key] =
            kind === 'histogram'
              ? {
                  count: Number(point.count),
                  sum: Number(point.sum.toFixed(9)),
                  bounds: point.explicitBounds,
                  buckets: point.bucketCounts.map(Number),
                }
              : Number((point.asDouble ?? Number(point.asInt ?? 0)).toFixed(9));
        }
        out[prometheusName(metric)] = {
          kind,
          monotonic: kind === 'sum' ? (data.isMonotonic ?? false) : undefined,
          temporality: data.aggregationTemporality,
          points,
        };
      }
    }
  }
  return out;
}

let receiver: OtlpReceiver;
beforeEach(async () => {
  receiver = await OtlpReceiver.start();
});
afterEach(async () => {
  await receiver.close();
});

/** The SDK's view of REQUESTS, pushed once by its exporter; returns the request it sent. */
async function sdkExport(temporality: 'cumulative' | 'delta'): Promise<DecodedRequest> {
  const exporter = new OTLPMetricExporter({
    url: receiver.url,
    temporalityPreference:
      temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
  });
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('sdk-compare');
  const requests = meter.createCounter('sdk.compare.requests');
  const inflight = meter.createUpDownCounter('sdk.compare.inflight');
  const depth = meter.createGauge('sdk.compare.queue_depth');
  const duration = meter.createHistogram('sdk.compare.duration', {
    unit: 's',
    advice: { explicitBucketBoundaries: BOUNDS },
  });
  for (const r of REQUESTS) {
    requests.add(1, { route: r.route, status: r.status });
    inflight.add(r.inflight);
    depth.record(r.depth, { route: r.route });
    duration.record(r.duration, { route: r.route });
  }
  const before = receiver.accepted.length;
  await reader.forceFlush();
  await provider.shutdown();
  otelMetrics.disable();
  return receiver.accepted[before].decoded;
}

/** telemeter's view of the same events, pushed once by startOtlp; returns the request it sent. */
async function telemeterExport(temporality: 'cumulative' | 'delta'): Promise<DecodedRequest> {
  const telemeter = new Telemeter({
    metrics: [
      counter('sdk.compare.requests', {
        eventName: EVENT,
        measurement: 'duration',
        tags: ['route', 'status'],
      }),
      sum('sdk.compare.inflight', {
        eventName: EVENT,
        measurement: 'inflight',
        reporterOptions: { prometheusType: 'gauge' },
      }),
      lastValue('sdk.compare.queue_depth', { eventName: EVENT, measurement: 'depth', tags: ['route'] }),
      distribution('sdk.compare.duration_seconds', {
        eventName: EVENT,
        measurement: 'duration',
        unit: 'second',
        tags: ['route'],
        reporterOptions: { buckets: BOUNDS },
      }),
    ],
    selfMetrics: false,
  });
  try {
    for (const r of REQUESTS) execute(EVENT, r, { route: r.route, status: r.status });
    const push = startOtlp(telemeter, { url: receiver.url, interval: 3_600_000, env: {}, temporality });
    const before = receiver.accepted.length;
    expect(await push.stop()).toBe(true);
    return receiver.accepted[before].decoded;
  } finally {
    telemeter.close();
  }
}

describe.each(['cumulative', 'delta'] as const)(
  'telemeter/otlp and the OpenTelemetry SDK, %s',
  (temporality) => {
    it('send the same metrics: names after translation, types, temporality, attributes, values', async () => {
      const fromSdk = semantics(await sdkExport(temporality));
      const fromTelemeter = semantics(await telemeterExport(temporality));
      expect(Object.keys(fromSdk).sort()).toEqual([
        'sdk_compare_duration_seconds',
        'sdk_compare_inflight',
        'sdk_compare_queue_depth',
        'sdk_compare_requests_total',
      ]);
      expect(fromTelemeter).toEqual(fromSdk);
    });
  },
);

describe('the comparison', () => {
  it('tells two different requests apart (it can fail)', async () => {
    const fromTelemeter = semantics(await telemeterExport('cumulative'));
    const fromSdk = semantics(await sdkExport('delta'));
    expect(fromTelemeter).not.toEqual(fromSdk);
  });
});
