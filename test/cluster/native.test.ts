/**
 * Native histograms across processes, without a transport: worker Telemeters, their exporters, a JSON round trip
 * (what cluster IPC does) and the primary's appliers. Property: whatever the split of values over workers and the
 * flushes in between, the primary holds what one process recording every value holds, bucket for bucket, also
 * where the bucket limit lowered the resolution differently in each process.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { DeltaApplier, mergeTargetFor } from '../../src/cluster/delta-applier.js';
import { DeltaExporter } from '../../src/cluster/delta-exporter.js';
import { clusterTelemeter } from '../../src/cluster/index.js';
import { decodeNative, encodeNative } from '../../src/cluster/native-codec.js';
import type { FamilyDelta } from '../../src/cluster/protocol.js';
import {
  distribution,
  type HistogramFamily,
  type MetricDefinition,
  setLogger,
  Telemeter,
} from '../../src/index.js';

const telemeters: Telemeter[] = [];
afterEach(() => {
  for (const t of telemeters.splice(0)) t.close();
  setLogger(null);
});

/** A native and a 'both' distribution, with a small bucket limit so that resolutions go down. */
function nativeMetrics(maxBucketCount = 12): MetricDefinition[] {
  return [
    distribution('shop.native.latency', {
      eventName: 'shop.native',
      measurement: 'value',
      tags: ['route'],
      unit: 'unit',
      reporterOptions: { histogram: 'native', nativeHistogram: { schema: 5, maxBucketCount } },
    }),
    distribution('shop.both.latency', {
      eventName: 'shop.native',
      measurement: 'value',
      unit: 'unit',
      reporterOptions: { histogram: 'both', buckets: [-1, 0, 1, 10, 100] },
    }),
  ];
}

function telemeter(metrics: MetricDefinition[]): Telemeter {
  const t = new Telemeter({ metrics, selfMetrics: false });
  telemeters.push(t);
  return t;
}

function histogram(t: Telemeter, name: string): HistogramFamily {
  const family = t.metricFamilies.find((f) => f.name === name);
  if (family?.kind !== 'histogram') throw new Error(`no histogram ${name}`);
  return family;
}

function record(t: Telemeter, value: number): void {
  t.bind('shop.native.latency', { route: value < 0 ? '/refund' : '/buy' }).record(value);
  t.bind('shop.both.latency').record(value);
}

function connect(primary: Telemeter, source: Telemeter, label: string) {
  const exporter = new DeltaExporter(source);
  exporter.resume();
  const applier = new DeltaApplier(
    mergeTargetFor(primary, 'worker', () => []),
    label,
    () => true,
  );
  return () => {
    for (const chunk of exporter.collect()) applier.apply(JSON.parse(JSON.stringify(chunk)) as FamilyDelta[]);
  };
}

/** Every series of both families as plain data, by label block: what a scrape of them shows. */
function contents(t: Telemeter) {
  const out: Record<string, unknown> = {};
  for (const name of ['shop_native_latency', 'shop_both_latency']) {
    const family = histogram(t, name);
    for (let s = 0; s < family.seriesIdLimit; s++) {
      if (!family.holds(s)) continue;
      const buckets = Array.from({ length: family.buckets }, (_, b) => family.bucketCount(s, b));
      out[`${name}{${family.labelBlock(s)}}`] = {
        native: family.nativeHistogram(s),
        count: family.count(s),
        sum: family.sum(s),
        buckets,
      };
    }
  }
  return out;
}

/** Dyadic values (exact sums in any order) over seven orders of magnitude, both signs, zeros. */
const value = fc.oneof(
  fc.integer({ min: -80_000, max: 80_000 }).map((n) => n / 64),
  fc.integer({ min: 1, max: 4096 }).map((n) => n / 2 ** 20),
  fc.constant(0),
);

describe('native histograms in the cluster', () => {
  it('merge to what one process recording every value holds, whatever the split and the flushes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, fc.integer({ min: 0, max: 2 }), fc.boolean()), { maxLength: 120 }),
        fc.integer({ min: 4, max: 40 }),
        (steps, maxBucketCount) => {
          const metrics = nativeMetrics(maxBucketCount);
          const primary = clusterTelemeter({ metrics, selfMetrics: false });
          telemeters.push(primary);
          const single = telemeter(metrics);
          const workers = [telemeter(metrics), telemeter(metrics), telemeter(metrics)];
          const flushes = workers.map((w, i) => connect(primary, w, String(i)));
          for (const [v, w, flush] of steps) {
            record(workers[w], v);
            record(single, v);
            if (flush) flushes[w]();
          }
          for (const flush of flushes) flush();
          expect(contents(primary)).toEqual(contents(single));
          for (const t of telemeters.splice(0)) t.close();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('merges values hundreds of powers of two apart, at a very coarse schema', () => {
    const metrics = nativeMetrics(4);
    const primary = clusterTelemeter({ metrics, selfMetrics: false });
    telemeters.push(primary);
    const single = telemeter(metrics);
    const workers = [telemeter(metrics), telemeter(metrics)];
    const flushes = workers.map((w, i) => connect(primary, w, String(i)));
    [1e-300, 1e300, 3, -1e-200, -1e200, 0, 2 ** -130, 7e50].forEach((v, i) => {
      record(workers[i % 2], v);
      record(single, v);
      flushes[i % 2]();
    });
    const merged = contents(primary);
    expect(merged).toEqual(contents(single));
    const native = (
      merged['shop_native_latency{route="/buy"}'] as { native: { schema: number; count: number } }
    ).native;
    expect(native.schema).toBeLessThan(0);
    expect(native.count).toBe(6);
  });

  it('refuses a family whose histogram layout differs between worker and primary, with one warning', () => {
    const warnings: string[] = [];
    const metrics = nativeMetrics();
    const primary = clusterTelemeter({
      metrics,
      selfMetrics: false,
      logger: { warn: (_f, m) => warnings.push(m), error: (_f, m) => warnings.push(m) },
    });
    telemeters.push(primary);
    // The same name and bounds, classic in the worker: as many buckets, so only the layout tells them apart.
    const worker = telemeter([
      nativeMetrics()[0],
      distribution('shop.both.latency', {
        eventName: 'shop.native',
        measurement: 'value',
        unit: 'unit',
        reporterOptions: { buckets: [-1, 0, 1, 10, 100] },
      }),
    ]);
    const flush = connect(primary, worker, '0');
    record(worker, 5);
    flush();
    expect(histogram(primary, 'shop_both_latency').count(0)).toBe(0);
    expect(histogram(primary, 'shop_native_latency').nativeHistogram(0)?.count).toBe(1);
    expect(warnings.filter((w) => w.includes('shop_both_latency'))).toHaveLength(1);
    expect(warnings[0]).toMatch(/histogram layout/);
  });
});

describe('the native wire form', () => {
  it('round-trips through JSON, and refuses what the primary must not merge', () => {
    const data = {
      schema: 3,
      zeroThreshold: 2 ** -128,
      zeroCount: 2,
      count: 7,
      sum: 1.5,
      positive: { indices: [-26, -18, 5], counts: [1, 2, 1] },
      negative: { indices: [3], counts: [1] },
    };
    expect(decodeNative(JSON.parse(JSON.stringify(encodeNative(data))))).toEqual(data);
    const bad = (change: object) => decodeNative({ ...encodeNative(data), ...change });
    expect(bad({ s: 9 })).toBeUndefined();
    expect(bad({ s: 2.5 })).toBeUndefined();
    expect(bad({ t: -1 })).toBeUndefined();
    expect(bad({ c: 5 })).toBeUndefined(); // fewer than the buckets hold
    expect(bad({ p: [5, 1, -26, 1] })).toBeUndefined(); // not ascending
    expect(bad({ p: [1e9, 1] })).toBeUndefined(); // beyond the overflow bucket
    expect(bad({ p: [1, 0] })).toBeUndefined();
    expect(bad({ p: [1] })).toBeUndefined();
    expect(bad({ z: Number.NaN })).toBeUndefined();
    expect(decodeNative(null)).toBeUndefined();
  });
});
