/**
 * Distributions with native buckets pushed by telemeter/otlp as OTLP exponential histograms, decoded by protobufjs
 * with the official opentelemetry-proto files (and the JSON body through the same schema), compared field by field
 * with the read model: scale, zero count and threshold, both sides' offsets and counts, count and sum; cumulative,
 * and delta across a resolution reduction between two exports; and the same events through OpenTelemetry's SDK
 * (base-2 exponential aggregation) and its exporter, compared bucket for bucket at telemeter's scale.
 */
import { metrics as otelMetrics } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import {
  AggregationTemporality,
  AggregationType,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  distribution,
  execute,
  type HistogramFamily,
  type NativeHistogramData,
  Telemeter,
} from '../../src/index.js';
import { startOtlp } from '../../src/otlp/index.js';
import { attributesOf, type DecodedRequest, OtlpReceiver, pointFor } from './receiver.js';

const EVENT = 'otlp.native.request';

function metrics(maxBucketCount = 160) {
  return [
    distribution('otlp.native.duration_seconds', {
      eventName: EVENT,
      measurement: 'duration',
      tags: ['route'],
      unit: 'second',
      reporterOptions: { histogram: 'native', nativeHistogram: { maxBucketCount } },
    }),
    distribution('otlp.native.change', {
      eventName: EVENT,
      measurement: 'change',
      unit: 'unit',
      reporterOptions: { histogram: 'both', buckets: [-1, 0, 1], nativeHistogram: { schema: 1 } },
    }),
  ];
}

let receiver: OtlpReceiver;
let telemeter: Telemeter;

beforeEach(async () => {
  receiver = await OtlpReceiver.start();
});

afterEach(async () => {
  telemeter?.close();
  await receiver.close();
});

function record(values: ReadonlyArray<readonly [string, number, number]>): void {
  for (const [route, duration, change] of values) execute(EVENT, { duration, change }, { route });
}

const REQUESTS: ReadonlyArray<readonly [string, number, number]> = [
  ['/cart', 0.1, 3],
  ['/cart', 0.1, -2.5],
  ['/cart', 0.2, 0],
  ['/checkout', 1.5, 1],
  ['/checkout', 0, -0.001],
  ['/checkout', 2 ** -130, 1e6],
];

function histogram(name: string): HistogramFamily {
  const family = telemeter.metricFamilies.find((f) => f.name === name);
  if (family?.kind !== 'histogram') throw new Error(`no histogram ${name}`);
  return family;
}

function metricsOf(request: DecodedRequest): Map<string, DecodedRequest> {
  return new Map(request.resourceMetrics[0].scopeMetrics[0].metrics.map((m: DecodedRequest) => [m.name, m]));
}

/** A decoded side as `OTLP index → count`, zeros left out. */
function otlpSide(buckets: DecodedRequest | undefined): Map<number, number> {
  const side = new Map<number, number>();
  (buckets?.bucketCounts ?? []).forEach((n: string, k: number) => {
    if (Number(n) !== 0) side.set((buckets.offset ?? 0) + k, Number(n));
  });
  return side;
}

/** The store's side in OTLP's indices: bucket `(base^(i-1), base^i]` is OTLP index `i - 1` (REFERENCE §13.1). */
function storeSide(buckets: NativeHistogramData['positive']): Map<number, number> {
  return new Map(buckets.indices.map((index, b) => [index - 1, buckets.counts[b]]));
}

/** One decoded point against one native histogram, field by field. */
function expectPoint(point: DecodedRequest, data: NativeHistogramData): void {
  expect(point.scale ?? 0).toBe(data.schema);
  expect(Number(point.zeroCount ?? 0)).toBe(data.zeroCount);
  expect(point.zeroThreshold ?? 0).toBe(data.zeroThreshold);
  expect(otlpSide(point.positive)).toEqual(storeSide(data.positive));
  expect(otlpSide(point.negative)).toEqual(storeSide(data.negative));
  expect(Number(point.count ?? 0)).toBe(data.count);
  expect(point.sum).toBe(data.sum);
}

function expectMatchesStore(request: DecodedRequest, temporality: 1 | 2): void {
  const byName = metricsOf(request);
  for (const name of ['otlp_native_duration_seconds', 'otlp_native_change']) {
    const family = histogram(name);
    const metric = byName.get(name);
    expect(metric.histogram).toBeUndefined();
    expect(metric.exponentialHistogram.aggregationTemporality).toBe(temporality);
    const ids = [...Array(family.seriesIdLimit).keys()].filter((id) => family.holds(id));
    expect(metric.exponentialHistogram.dataPoints).toHaveLength(ids.length);
    for (const id of ids) {
      expectPoint(pointFor(metric.exponentialHistogram.dataPoints, family, id), family.nativeHistogram(id)!);
    }
  }
}

describe('native histograms over OTLP', () => {
  it('are exponential histograms, bucket for bucket, in protobuf and in JSON', async () => {
    telemeter = new Telemeter({ metrics: metrics(), selfMetrics: false });
    record(REQUESTS);
    const protobufPush = startOtlp(telemeter, { url: receiver.url, interval: 3_600_000, env: {} });
    await protobufPush.stop();
    const jsonPush = startOtlp(telemeter, {
      url: receiver.url,
      interval: 3_600_000,
      env: {},
      format: 'json',
    });
    await jsonPush.stop();
    const [fromProtobuf, fromJson] = receiver.accepted;
    expect(fromJson.headers['content-type']).toBe('application/json');
    expectMatchesStore(fromProtobuf.decoded, 2);
    expectMatchesStore(fromJson.decoded, 2);
    // What the example of REFERENCE §11.3 gives at schema 3: 0.1 ×2 in bucket -26, 0.2 in -18, 1.5 in 5.
    const cart = metricsOf(fromProtobuf.decoded)
      .get('otlp_native_duration_seconds')
      .exponentialHistogram.dataPoints.find((p: DecodedRequest) => attributesOf(p).route === '/cart');
    expect(cart.scale).toBe(3);
    expect(cart.positive.offset).toBe(-27);
    expect(cart.positive.bucketCounts.map(Number)).toEqual([2, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(cart.zeroThreshold).toBe(2 ** -128);
    expect(Number(cart.count)).toBe(3);
  });

  it('the comparison can fail', async () => {
    telemeter = new Telemeter({ metrics: metrics(), selfMetrics: false });
    record(REQUESTS);
    const push = startOtlp(telemeter, { url: receiver.url, interval: 3_600_000, env: {} });
    await push.stop();
    const request = receiver.accepted[0].decoded;
    metricsOf(request).get('otlp_native_change').exponentialHistogram.dataPoints[0].positive.offset += 1;
    expect(() => expectMatchesStore(request, 2)).toThrow();
  });

  it('delta points add up to the cumulative histogram, across a resolution reduction between exports', async () => {
    // At most 6 buckets: the second round spreads the values, and the series drops to a coarser schema.
    telemeter = new Telemeter({ metrics: metrics(6), selfMetrics: false });
    const push = startOtlp(telemeter, {
      url: receiver.url,
      interval: 3_600_000,
      env: {},
      temporality: 'delta',
    });
    record([
      ['/cart', 0.1, 1],
      ['/cart', 0.11, 1],
      ['/cart', 0.12, 2],
    ]);
    await push.flush();
    const before = histogram('otlp_native_duration_seconds').nativeHistogram(0)!;
    record([0.2, 0.5, 1, 2, 4, 8, 16, 0.1].map((d) => ['/cart', d, 1] as const));
    await push.flush();
    await push.stop();
    const family = histogram('otlp_native_duration_seconds');
    const after = family.nativeHistogram(0)!;
    expect(after.schema).toBeLessThan(before.schema);
    const [first, second] = receiver.accepted.map(
      (r) => metricsOf(r.decoded).get('otlp_native_duration_seconds').exponentialHistogram,
    );
    expect(first.aggregationTemporality).toBe(1);
    const a = first.dataPoints[0];
    const b = second.dataPoints[0];
    expect(b.startTimeUnixNano).toBe(a.timeUnixNano);
    expectPoint(a, before);
    expect(b.scale).toBe(after.schema);
    expect(Number(b.count)).toBe(8);
    // The first point brought to the second's scale (merging neighbours: OTLP index k goes to k >> delta), plus
    // the second, is the series now.
    const total = new Map<number, number>();
    for (const [k, n] of otlpSide(a.positive)) {
      const index = k >> (a.scale - b.scale);
      total.set(index, (total.get(index) ?? 0) + n);
    }
    for (const [k, n] of otlpSide(b.positive)) total.set(k, (total.get(k) ?? 0) + n);
    expect(new Map([...total].sort(([x], [y]) => x - y))).toEqual(storeSide(after.positive));
    expect(a.sum + b.sum).toBeCloseTo(after.sum, 12);
    for (const n of b.positive.bucketCounts) expect(Number(n)).toBeGreaterThanOrEqual(0);
  });
});

/** Durations with a long tail, none on a bucket boundary at any scale the SDK picks, and a zero. */
const DURATIONS = [0, ...Array.from({ length: 300 }, (_, i) => 0.0013 * 1.021 ** i + 1e-7 * (i % 7))];

/** A decoded exponential point at `scale` (<= its own): counts merged as OTLP downscales, `k >> delta`. */
function atScale(point: DecodedRequest, scale: number) {
  const positive = new Map<number, number>();
  for (const [k, n] of otlpSide(point.positive)) {
    const index = k >> ((point.scale ?? 0) - scale);
    positive.set(index, (positive.get(index) ?? 0) + n);
  }
  return {
    count: Number(point.count),
    sum: Number(point.sum.toFixed(9)),
    zeroCount: Number(point.zeroCount ?? 0),
    positive: [...positive].sort(([a], [b]) => a - b),
  };
}

describe.each(['cumulative', 'delta'] as const)(
  'telemeter/otlp and the OpenTelemetry SDK, %s',
  (temporality) => {
    it('send the same exponential histogram, at telemeter’s scale', async () => {
      const exporter = new OTLPMetricExporter({
        url: receiver.url,
        temporalityPreference:
          temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
      });
      const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
      const provider = new MeterProvider({
        readers: [reader],
        views: [
          {
            instrumentName: 'sdk.native.duration',
            aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM },
          },
        ],
      });
      const sdkHistogram = provider
        .getMeter('sdk-native')
        .createHistogram('sdk.native.duration', { unit: 's' });
      for (const d of DURATIONS) sdkHistogram.record(d, { route: '/cart' });
      await reader.forceFlush();
      await provider.shutdown();
      otelMetrics.disable();
      const fromSdk = metricsOf(receiver.accepted[0].decoded).get('sdk.native.duration').exponentialHistogram;

      telemeter = new Telemeter({ metrics: metrics(), selfMetrics: false });
      record(DURATIONS.map((d) => ['/cart', d, 1] as const));
      // The SDK exported once more on shutdown (the same cumulative point): the first of its requests counts.
      const before = receiver.accepted.length;
      const push = startOtlp(telemeter, { url: receiver.url, interval: 3_600_000, env: {}, temporality });
      expect(await push.stop()).toBe(true);
      const fromTelemeter = metricsOf(receiver.accepted[before].decoded).get(
        'otlp_native_duration_seconds',
      ).exponentialHistogram;

      expect(fromTelemeter.aggregationTemporality).toBe(fromSdk.aggregationTemporality);
      const [sdkPoint] = fromSdk.dataPoints;
      const [ours] = fromTelemeter.dataPoints;
      expect(attributesOf(ours)).toEqual(attributesOf(sdkPoint));
      // The SDK starts at scale 20 and lowers it until 160 buckets hold the values: finer than schema 3 here.
      expect(sdkPoint.scale).toBeGreaterThan(ours.scale);
      expect(atScale(ours, ours.scale)).toEqual(atScale(sdkPoint, ours.scale));
    });
  },
);
