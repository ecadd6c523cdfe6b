/**
 * What telemeter/otlp sends, decoded by protobufjs with the official opentelemetry-proto files (and the JSON
 * body read through the same schema), compared field by field with the Telemeter's read model for every kind:
 * counters, last values, sums exported as gauges, histograms, summaries; cumulative and delta; start times.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  counter,
  distribution,
  execute,
  lastValue,
  type MetricFamily,
  sum,
  summary,
  Telemeter,
} from '../../src/index.js';
import { startOtlp } from '../../src/otlp/index.js';
import { TELEMETER_VERSION } from '../../src/otlp/resource.js';
import { unixNanos } from '../../src/otlp/time.js';
import {
  type DecodedRequest,
  decodeProtobuf,
  labelsOf,
  nanosToMs,
  OtlpReceiver,
  pointFor,
} from './receiver.js';

const EVENT = 'otlp.test.request';

function metrics() {
  return [
    counter('otlp.test.requests', { eventName: EVENT, measurement: 'duration', tags: ['route', 'status'] }),
    sum('otlp.test.bytes', { eventName: EVENT, measurement: 'bytes', tags: ['route'], unit: 'byte' }),
    sum('otlp.test.balance', {
      eventName: EVENT,
      measurement: 'change',
      reporterOptions: { prometheusType: 'gauge' },
    }),
    lastValue('otlp.test.queue_depth', { eventName: EVENT, measurement: 'depth', tags: ['route'] }),
    distribution('otlp.test.duration_seconds', {
      eventName: EVENT,
      measurement: 'duration',
      tags: ['route'],
      unit: 'second',
      reporterOptions: { buckets: [0.1, 0.5, 1] },
    }),
    summary('otlp.test.size', {
      eventName: EVENT,
      measurement: 'bytes',
      tags: ['route'],
      reporterOptions: { quantiles: [0.5, 0.9] },
    }),
  ];
}

/** A few requests, with values that make every bucket, quantile and label differ. */
function record(round: number): void {
  const requests: Array<[string, string, number, number, number]> = [
    ['/cart', '200', 0.05, 120, 3],
    ['/cart', '500', 0.7, 80, -1],
    ['/checkout', '200', 0.3, 2048, 2],
    ['/checkout', '200', 2.5, 512 + round, 5],
  ];
  for (const [route, status, duration, bytes, change] of requests) {
    execute(EVENT, { duration, bytes, change, depth: bytes % 7 }, { route, status });
  }
}

let receiver: OtlpReceiver;
let telemeter: Telemeter;

beforeEach(async () => {
  receiver = await OtlpReceiver.start();
  telemeter = new Telemeter({ metrics: metrics(), selfMetrics: false, globalTags: { region: 'eu' } });
});

afterEach(async () => {
  telemeter.close();
  await receiver.close();
});

function metricsOf(request: DecodedRequest): Map<string, DecodedRequest> {
  const [resourceMetrics] = request.resourceMetrics;
  const [scopeMetrics] = resourceMetrics.scopeMetrics;
  return new Map(scopeMetrics.metrics.map((m: DecodedRequest) => [m.name, m]));
}

function seriesOf(family: MetricFamily): number[] {
  const ids: number[] = [];
  for (let id = 0; id < family.seriesIdLimit; id++) if (family.holds(id)) ids.push(id);
  return ids;
}

/** Checks every family of the Telemeter against the decoded request, field by field. */
function expectMatchesStore(request: DecodedRequest, temporality: 1 | 2, exportedAt: number): void {
  const byName = metricsOf(request);
  for (const family of telemeter.metricFamilies) {
    const metric = byName.get(family.name);
    expect(metric, family.name).toBeDefined();
    expect(metric.description).toBe(family.help);
    const ids = seriesOf(family);
    switch (family.kind) {
      case 'counter': {
        expect(metric.sum.isMonotonic).toBe(true);
        expect(metric.sum.aggregationTemporality).toBe(temporality);
        expect(metric.sum.dataPoints).toHaveLength(ids.length);
        if (temporality === 2) {
          for (const id of ids)
            expect(pointFor(metric.sum.dataPoints, family, id).asDouble).toBe(family.value(id));
        }
        break;
      }
      case 'gauge': {
        if (family.cumulative) {
          expect(metric.sum.isMonotonic ?? false).toBe(false);
          expect(metric.sum.aggregationTemporality).toBe(2);
          for (const id of ids)
            expect(pointFor(metric.sum.dataPoints, family, id).asDouble).toBe(family.value(id));
        } else {
          expect(metric.gauge.dataPoints).toHaveLength(ids.length);
          for (const id of ids) {
            const point = pointFor(metric.gauge.dataPoints, family, id);
            expect(point.asDouble ?? 0).toBe(family.value(id));
            expect(point.startTimeUnixNano).toBeUndefined();
          }
        }
        break;
      }
      case 'histogram': {
        expect(metric.histogram.aggregationTemporality).toBe(temporality);
        expect(metric.histogram.dataPoints).toHaveLength(ids.length);
        if (temporality === 2) {
          for (const id of ids) {
            const point = pointFor(metric.histogram.dataPoints, family, id);
            expect(point.explicitBounds).toEqual(family.bounds);
            expect(point.bucketCounts.map(Number)).toEqual(
              Array.from({ length: family.buckets }, (_, b) => family.bucketCount(id, b)),
            );
            expect(Number(point.count)).toBe(family.count(id));
            expect(point.sum).toBe(family.sum(id));
          }
        }
        break;
      }
      case 'summary': {
        expect(metric.summary.dataPoints).toHaveLength(ids.length);
        for (const id of ids) {
          const point = pointFor(metric.summary.dataPoints, family, id);
          expect(Number(point.count)).toBe(family.count(id));
          expect(point.sum).toBe(family.sum(id));
          const window = family.window(id);
          expect(point.quantileValues).toEqual(
            family.quantiles.map((quantile) => ({ quantile, value: window.quantile(quantile) })),
          );
        }
        break;
      }
    }
    for (const kind of ['gauge', 'sum', 'histogram', 'summary']) {
      for (const point of metric[kind]?.dataPoints ?? []) {
        const time = nanosToMs(point.timeUnixNano);
        expect(Math.abs(time - exportedAt)).toBeLessThan(60_000);
      }
    }
  }
}

describe('startOtlp, cumulative (the default), protobuf', () => {
  it('sends every family with the values, labels, bounds and quantiles of the read model', async () => {
    record(0);
    const before = Date.now();
    const push = startOtlp(telemeter, { url: receiver.url, interval: 3_600_000, env: {} });
    expect(await push.flush()).toBe(true);
    await push.stop();
    expect(receiver.accepted.length).toBeGreaterThanOrEqual(1);
    const [first] = receiver.accepted;
    expect(first.headers['content-type']).toBe('application/x-protobuf');
    expect(first.headers['content-encoding']).toBe('gzip');
    expectMatchesStore(first.decoded, 2, before);
  });

  it('names and units as Prometheus would read them back, resource and scope', async () => {
    record(0);
    const push = startOtlp(telemeter, {
      url: receiver.url,
      interval: 3_600_000,
      resource: { 'service.name': 'shop', 'service.version': '1.2.3', workers: 4 },
      env: { OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,service.name=ignored' },
    });
    await push.stop();
    const request = receiver.accepted[0].decoded;
    const byName = metricsOf(request);
    expect([...byName.keys()].sort()).toEqual(
      [
        'otlp_test_balance',
        'otlp_test_bytes_total',
        'otlp_test_duration_seconds',
        'otlp_test_queue_depth',
        'otlp_test_requests_total',
        'otlp_test_size',
      ].sort(),
    );
    expect(byName.get('otlp_test_duration_seconds').unit).toBe('s');
    const resource = Object.fromEntries(
      request.resourceMetrics[0].resource.attributes.map((a: DecodedRequest) => [a.key, a.value]),
    );
    expect(resource['service.name']).toEqual({ stringValue: 'shop' });
    expect(resource['service.version']).toEqual({ stringValue: '1.2.3' });
    expect(resource.workers).toEqual({ intValue: '4' });
    expect(resource['deployment.environment.name']).toEqual({ stringValue: 'prod' });
    expect(resource['telemetry.sdk.name']).toEqual({ stringValue: 'telemeter' });
    expect(resource['telemetry.sdk.version']).toEqual({ stringValue: TELEMETER_VERSION });
    expect(resource['service.instance.id'].stringValue).toMatch(/^[0-9a-f-]{36}$/);
    expect(request.resourceMetrics[0].scopeMetrics[0].scope).toMatchObject({
      name: 'telemeter',
      version: TELEMETER_VERSION,
    });
  });

  it("starts each series' points at its creation time, repeated by every cumulative point, and advances the time", async () => {
    record(0);
    const push = startOtlp(telemeter, { url: receiver.url, interval: 3_600_000, env: {} });
    await push.flush();
    record(1);
    await push.flush();
    await push.stop();
    expect(receiver.accepted.length).toBeGreaterThanOrEqual(2);
    const [first, second] = receiver.accepted.map((r) =>
      metricsOf(r.decoded).get('otlp_test_requests_total'),
    );
    const family = telemeter.metricFamilies.find((f) => f.name === 'otlp_test_requests_total');
    if (family === undefined) throw new Error('no family');
    for (const id of seriesOf(family)) {
      const created = unixNanos(family.created(id));
      expect(created).toBeGreaterThan(0n);
      expect(BigInt(pointFor(first.sum.dataPoints, family, id).startTimeUnixNano)).toBe(created);
      expect(BigInt(pointFor(second.sum.dataPoints, family, id).startTimeUnixNano)).toBe(created);
    }
    expect(BigInt(second.sum.dataPoints[0].timeUnixNano)).toBeGreaterThan(
      BigInt(first.sum.dataPoints[0].timeUnixNano),
    );
    expectMatchesStore(receiver.accepted[1].decoded, 2, Date.now());
  });

  it('sends the same request as JSON when format is json', async () => {
    record(0);
    const protobufPush = startOtlp(telemeter, {
      url: receiver.url,
      interval: 3_600_000,
      env: {},
      gzip: false,
    });
    await protobufPush.stop();
    const jsonPush = startOtlp(telemeter, {
      url: receiver.url,
      interval: 3_600_000,
      env: {},
      format: 'json',
    });
    await jsonPush.stop();
    const [fromProtobuf, fromJson] = receiver.accepted;
    expect(fromProtobuf.headers['content-encoding']).toBeUndefined();
    expect(fromJson.headers['content-type']).toBe('application/json');
    expectMatchesStore(fromJson.decoded, 2, Date.now());
    // The same values (times and instance ids aside: two exporters, two moments).
    const strip = (request: DecodedRequest) =>
      JSON.parse(
        JSON.stringify(request, (key, value) =>
          key === 'timeUnixNano' || key === 'startTimeUnixNano' || key === 'resource' ? undefined : value,
        ),
      );
    expect(strip(fromJson.decoded)).toEqual(strip(fromProtobuf.decoded));
  });

  it('fails a check when a value differs (the comparison can fail)', async () => {
    record(0);
    const push = startOtlp(telemeter, { url: receiver.url, interval: 3_600_000, env: {} });
    await push.stop();
    const request = receiver.accepted[0].decoded;
    metricsOf(request).get('otlp_test_duration_seconds').histogram.dataPoints[0].bucketCounts[0] = '99';
    expect(() => expectMatchesStore(request, 2, Date.now())).toThrow();
  });
});

describe('startOtlp, delta', () => {
  it('sends counters and histograms as changes since the previous export, each point starting where the last ended', async () => {
    record(0);
    const push = startOtlp(telemeter, {
      url: receiver.url,
      interval: 3_600_000,
      env: {},
      temporality: 'delta',
    });
    await push.flush();
    const counts = new Map<string, number>();
    const requests = telemeter.metricFamilies.find((f) => f.name === 'otlp_test_requests_total');
    if (requests?.kind !== 'counter') throw new Error('no counter');
    for (const id of seriesOf(requests))
      counts.set(JSON.stringify(labelsOf(requests, id)), requests.value(id));
    record(1);
    record(2);
    await push.flush();
    await push.stop();
    const [first, second] = receiver.accepted.map((r) => metricsOf(r.decoded));
    const firstSum = first.get('otlp_test_requests_total').sum;
    const secondSum = second.get('otlp_test_requests_total').sum;
    expect(firstSum.aggregationTemporality).toBe(1);
    for (const id of seriesOf(requests)) {
      const key = JSON.stringify(labelsOf(requests, id));
      const a = pointFor(firstSum.dataPoints, requests, id);
      const b = pointFor(secondSum.dataPoints, requests, id);
      expect(a.asDouble).toBe(counts.get(key));
      expect(a.asDouble + b.asDouble).toBeCloseTo(requests.value(id), 9);
      expect(b.startTimeUnixNano).toBe(a.timeUnixNano);
    }
    const histogram = telemeter.metricFamilies.find((f) => f.name === 'otlp_test_duration_seconds');
    if (histogram?.kind !== 'histogram') throw new Error('no histogram');
    for (const id of seriesOf(histogram)) {
      const a = pointFor(first.get(histogram.name).histogram.dataPoints, histogram, id);
      const b = pointFor(second.get(histogram.name).histogram.dataPoints, histogram, id);
      expect(Number(a.count) + Number(b.count)).toBe(histogram.count(id));
      const buckets = a.bucketCounts.map((n: string, i: number) => Number(n) + Number(b.bucketCounts[i]));
      expect(buckets).toEqual(
        Array.from({ length: histogram.buckets }, (_, i) => histogram.bucketCount(id, i)),
      );
      expect(second.get(histogram.name).histogram.aggregationTemporality).toBe(1);
    }
    // Sums exported as gauges stay cumulative (an UpDownCounter), gauges and summaries have no temporality.
    expect(second.get('otlp_test_balance').sum.aggregationTemporality).toBe(2);
    expectMatchesStore(receiver.accepted[1].decoded, 1, Date.now());
  });
});

describe('decoding', () => {
  it('rejects bytes that are not a request (the decoder can fail)', () => {
    expect(() => decodeProtobuf(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f]))).toThrow();
  });
});

describe('large exports', () => {
  it('read and encode in steps, pausing every POINTS_PER_STEP series, to the same bytes as in one go', async () => {
    const { ExportBuilder, POINTS_PER_STEP } = await import('../../src/otlp/export-request.js');
    const { encodeProtobuf, encodeProtobufSteps } = await import('../../src/otlp/protobuf-body.js');
    const { encodeJson, encodeJsonSteps } = await import('../../src/otlp/json-body.js');
    const many = new Telemeter({
      metrics: [counter('otlp.many', { eventName: 'otlp.many', measurement: 'n', tags: ['i'] })],
      selfMetrics: false,
    });
    try {
      const series = 2 * POINTS_PER_STEP + 10;
      for (let i = 0; i < series; i++) execute('otlp.many', { n: 1 }, { i });
      const count = <T>(steps: Generator<void, T>): [number, T] => {
        let pauses = 0;
        for (;;) {
          const step = steps.next();
          if (step.done) return [pauses, step.value];
          pauses++;
        }
      };
      const builder = new ExportBuilder(many.metricFamilies, [], 'cumulative');
      const [buildPauses, request] = count(builder.steps(Date.now()));
      expect(buildPauses).toBeGreaterThanOrEqual(2);
      if (request === undefined) throw new Error('no request');
      expect(request.dataPoints).toBe(series);
      const [protobufPauses, bytes] = count(encodeProtobufSteps(request));
      expect(protobufPauses).toBe(2);
      expect(bytes).toEqual(encodeProtobuf(request));
      const [jsonPauses, json] = count(encodeJsonSteps(request));
      expect(jsonPauses).toBe(2);
      expect(json).toBe(encodeJson(request));
      expect(decodeProtobuf(bytes).resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints).toHaveLength(
        series,
      );
    } finally {
      many.close();
    }
  });
});
