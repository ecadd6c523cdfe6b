import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  counter,
  distribution,
  execute,
  type MetricDefinition,
  summary,
  Telemeter,
} from '../../src/index.js';
import type { StoredHistogramFamily } from '../../src/reporter/family.js';
import { HistogramStore, MAX_UINT32 } from '../../src/reporter/histogram-store.js';
import { storedFamilies } from '../../src/reporter/reporter.js';
import { SummaryStore } from '../../src/reporter/summary-store.js';
import { codeGenerationAllowed } from '../support/code-generation.js';
import { sample } from '../support/samples.js';
import { closedAfterEach } from '../support/telemeters.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const { track } = closedAfterEach();

function histogramTelemeter(name: string, tags: string[] = ['route']): Telemeter {
  const t = new Telemeter({
    metrics: [
      distribution(name, {
        eventName: `${name}.event`,
        measurement: 'v',
        tags,
        reporterOptions: { buckets: [1, 10] },
      }),
    ],
    maxSeries: 1_000_000,
  });
  track(t);
  return t;
}

function histogramOf(t: Telemeter, name: string): StoredHistogramFamily {
  return storedFamilies(t).find((f) => f.name === name) as StoredHistogramFamily;
}

describe('histogram storage', () => {
  it('keeps counts as 32-bit integers and moves to float64 before one would wrap, losing nothing', () => {
    const t = histogramTelemeter('st1.latency');
    execute('st1.latency.event', { v: 5 }, { route: '/a' });
    execute('st1.latency.event', { v: 5 }, { route: '/b' });
    const family = histogramOf(t, 'st1_latency');
    expect(family.store.counts).toBeInstanceOf(Uint32Array);

    const a = family.table.resolveValues(['/a']);
    family.store.counts[a * family.store.slots + 1] = 0xffffffff - 1;
    execute('st1.latency.event', { v: 5 }, { route: '/a' });
    expect(family.store.counts).toBeInstanceOf(Uint32Array);
    execute('st1.latency.event', { v: 5 }, { route: '/a' });
    expect(family.store.counts).toBeInstanceOf(Float64Array);
    const widened = family.store.counts;
    execute('st1.latency.event', { v: 5 }, { route: '/a' });
    execute('st1.latency.event', { v: 5 }, { route: '/a' });
    // Widened once: later counts past 2^32 are written in place, not copied into a new array each time.
    expect(family.store.counts).toBe(widened);

    const body = t.scrape();
    expect(sample(body, 'st1_latency_bucket{route="/a",le="10.0"}')).toBe(2 ** 32 + 2);
    expect(sample(body, 'st1_latency_count{route="/a"}')).toBe(2 ** 32 + 2);
    expect(sample(body, 'st1_latency_sum{route="/a"}')).toBe(5 * 5);
    expect(sample(body, 'st1_latency_bucket{route="/b",le="+Inf"}')).toBe(1);
    expect(sample(body, 'st1_latency_sum{route="/b"}')).toBe(5);
  });

  it('moves to float64 for a merged delta that a 32-bit count cannot hold', () => {
    const t = histogramTelemeter('st2.latency');
    execute('st2.latency.event', { v: 0.5 }, { route: '/a' });
    const family = histogramOf(t, 'st2_latency');
    const s = family.table.resolveValues(['/a']);
    family.store.addToBucket(s, 0, 2);
    expect(family.store.counts).toBeInstanceOf(Uint32Array);
    family.store.addToBucket(s, 2, 0.5);
    expect(family.store.counts).toBeInstanceOf(Float64Array);
    expect(family.store.count(s)).toBe(3.5);
  });

  it('keeps a merged count past 2^32 exactly, instead of wrapping it', () => {
    const t = histogramTelemeter('st5.latency');
    execute('st5.latency.event', { v: 5 }, { route: '/first' });
    execute('st5.latency.event', { v: 5 }, { route: '/a' });
    const family = histogramOf(t, 'st5_latency');
    const s = family.table.resolveValues(['/a']);
    expect(s).toBe(1);
    // Merges that add nothing, or bring a count to exactly 2^32 - 1, still fit 32 bits.
    family.store.addToBucket(s, 0, 0);
    family.store.addToBucket(0, 2, MAX_UINT32);
    expect(family.store.counts).toBeInstanceOf(Uint32Array);
    // A cluster merge adds whole deltas: the sum leaves the 32-bit range without any one delta doing so.
    family.store.addToBucket(s, 1, MAX_UINT32 - 1);
    expect(family.store.counts).toBeInstanceOf(Uint32Array);
    family.store.addToBucket(s, 1, 2);
    family.store.addToBucket(s, 0, 2 ** 33);
    const body = t.scrape();
    expect(sample(body, 'st5_latency_bucket{route="/a",le="1.0"}')).toBe(2 ** 33);
    expect(sample(body, 'st5_latency_bucket{route="/a",le="10.0"}')).toBe(2 ** 33 + 2 ** 32 + 1);
    expect(sample(body, 'st5_latency_count{route="/a"}')).toBe(2 ** 33 + 2 ** 32 + 1);
    expect(sample(body, 'st5_latency_count{route="/first"}')).toBe(MAX_UINT32 + 1);
  });

  it('counts and resets each series in its own buckets, never a neighbour’s', () => {
    const store = new HistogramStore(Float64Array.from([1, 10]));
    store.grow(3);
    for (let s = 0; s < 3; s++) {
      // Series s gets s + 1 observations of 0.5 (first bucket) and one of 100 (+Inf).
      for (let i = 0; i <= s; i++) store.observe(s, 0.5);
      store.observe(s, 100);
    }
    expect([0, 1, 2].map((s) => store.count(s))).toEqual([2, 3, 4]);
    expect(store.counts).toBeInstanceOf(Uint32Array);
    store.reset(1);
    expect([0, 1, 2].map((s) => store.count(s))).toEqual([2, 0, 4]);
    expect(Array.from(store.counts.subarray(0, 9))).toEqual([1, 0, 1, 0, 0, 0, 3, 0, 1]);
    expect(Array.from(store.sums.subarray(0, 3))).toEqual([100.5, 0, 101.5]);
    // Observed one at a time, a count fills the 32-bit range and moves to float64 only to leave it.
    store.counts[2 * 3] = MAX_UINT32 - 1;
    store.observe(2, 0.5);
    expect([store.counts instanceof Uint32Array, store.counts[2 * 3]]).toEqual([true, MAX_UINT32]);
    store.observe(2, 0.5);
    expect([store.counts instanceof Float64Array, store.counts[2 * 3]]).toEqual([true, MAX_UINT32 + 1]);
  });

  it('keeps the buckets and sum of every series as the store grows past its first capacity', () => {
    const store = new HistogramStore(Float64Array.from([1, 10]));
    for (let series = 1; series <= 50; series++) {
      store.grow(series);
      store.observe(series - 1, series);
    }
    for (let s = 0; s < 50; s++) {
      expect([s, store.count(s), store.sums[s]]).toEqual([s, 1, s + 1]);
      expect(store.counts[s * 3 + store.bucketOf(s + 1)]).toBe(1);
    }
  });

  it('keeps a count that a merge takes below zero as it is, instead of wrapping it to 4 billion', () => {
    const store = new HistogramStore(Float64Array.from([1]));
    store.grow(1);
    store.observe(0, 0.5);
    store.addToBucket(0, 0, -3);
    expect(store.counts).toBeInstanceOf(Float64Array);
    expect(store.count(0)).toBe(-2);
  });

  it('finds the inclusive bucket of a value among more than 16 bounds, where it searches by halves', () => {
    const bounds = Array.from({ length: 40 }, (_, i) => (i - 10) * 2.5);
    const store = new HistogramStore(Float64Array.from(bounds));
    const linear = (v: number) => {
      const i = bounds.findIndex((b) => v <= b);
      return i < 0 ? bounds.length : i;
    };
    for (const [i, b] of bounds.entries()) {
      expect(store.bucketOf(b)).toBe(i);
      expect(store.bucketOf(b + 0.1)).toBe(i + 1);
      expect(store.bucketOf(b - 0.1)).toBe(i);
    }
    expect(store.bucketOf(-1e9)).toBe(0);
    expect(store.bucketOf(1e9)).toBe(bounds.length);
    fc.assert(
      fc.property(fc.double({ min: -100, max: 100, noNaN: true }), (v) => {
        expect(store.bucketOf(v)).toBe(linear(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('holds a 3-tag histogram series in well under the 530 bytes it took with per-series arrays', async () => {
    const { perSeries, live } = await bytesPerSeries(
      distribution('st3.duration', {
        eventName: 'st3.event',
        measurement: 'v',
        tags: SERIES_TAGS,
        unit: 'second',
      }),
      () => 0.1,
    );
    expect(live).toBe(SERIES);
    // Measured about 265 bytes (15 counts, sum, label block, trie entry); prom-client holds ~600.
    expect(perSeries).toBeLessThan(400);
  });

  it('holds a 3-tag summary series with one observation in well under the 1150 bytes it took before', async () => {
    // Values around 1 put -0 bin indices in the mix, which once made every bin store box its integer fields.
    const { perSeries, live } = await bytesPerSeries(
      summary('st4.duration', { eventName: 'st4.event', measurement: 'v', tags: SERIES_TAGS }),
      (i) => 0.9 + (i % 200) / 1000,
    );
    expect(live).toBe(SERIES);
    // Measured about 775 bytes: a 5-slot window, one sketch with 16 32-bit bins, the label block, the trie entry.
    expect(perSeries).toBeLessThan(950);
  });
});

const SERIES = 10_000;
const SERIES_TAGS = ['route', 'method', 'status'];

/** Live bytes per series after recording one event into each of 10 000 3-tag series of `definition`. */
async function bytesPerSeries(
  definition: MetricDefinition,
  measurementOf: (i: number) => number,
): Promise<{ perSeries: number; live: number }> {
  const settled = async () => {
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.arrayBuffers;
  };
  const routes = Array.from({ length: SERIES / 100 }, (_, i) => `/api/v1/items/${i}/details`);
  const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'CONNECT', 'PURGE'];
  const statuses = ['200', '201', '204', '301', '304', '400', '401', '404', '500', '503'];
  const measurements = Array.from({ length: SERIES }, (_, i) => ({ v: measurementOf(i) }));
  const t = new Telemeter({ metrics: [definition], maxSeries: 1_000_000 });
  track(t);
  const eventName = definition.eventName;
  const before = await settled();
  let i = 0;
  for (const route of routes)
    for (const method of methods)
      for (const status of statuses) execute(eventName, measurements[i++], { route, method, status });
  t.scrape();
  const perSeries = ((await settled()) - before) / SERIES;
  const family = t.metricFamilies.find((f) => f.definition === definition);
  return { perSeries, live: family?.seriesCount ?? 0 };
}

describe('summary storage', () => {
  it('keeps each series its own window slots: a rotation clears one slot of each, a reset only its own', () => {
    const store = new SummaryStore([0.5], 6, 3);
    store.grow(3);
    for (let s = 0; s < 3; s++) store.observe(s, 10 * (s + 1));
    store.rotate();
    for (let s = 0; s < 3; s++) store.observe(s, 10 * (s + 1));
    expect([0, 1, 2].map((s) => store.window(s).count)).toEqual([2, 2, 2]);
    store.reset(1);
    expect([0, 1, 2].map((s) => store.window(s).count)).toEqual([2, 0, 2]);
    expect(Math.round(store.window(2).quantile(0.5))).toBe(30);
    store.rotate();
    store.rotate(); // the slot of the first observations comes round again and is cleared
    expect([0, 1, 2].map((s) => store.window(s).count)).toEqual([1, 0, 1]);
    expect(store.totals[0]).toBe(2);
  });

  it('keeps the sum, count and window of every series as the store grows past its first capacity', () => {
    const store = new SummaryStore([0.5], 6, 2);
    for (let series = 1; series <= 40; series++) {
      store.grow(series);
      store.observe(series - 1, series * 10);
    }
    expect(store.seriesCount).toBe(40);
    for (let s = 0; s < 40; s++) {
      expect([s, store.totals[s], store.sums[s], store.window(s).count]).toEqual([s, 1, (s + 1) * 10, 1]);
      expect(store.window(s).quantile(0.5)).toBeCloseTo((s + 1) * 10, -1);
    }
    store.grow(10); // a smaller size never shrinks the store
    expect(store.seriesCount).toBe(40);
  });

  it('drops the observations of a slot that rotates out of the window from every quantile, small ones too', () => {
    const store = new SummaryStore([0, 0.5, 1], 6, 2);
    store.grow(1);
    for (const v of [0.001, 0, -5]) store.observe(0, v);
    store.rotate();
    store.observe(0, 40);
    store.rotate(); // the slot of 0.001, 0 and -5 is the current one again, and empty
    store.observe(0, 50);
    const window = store.window(0);
    expect(window.count).toBe(2);
    // The window holds 40 and 50 only: a stale -5, 0 or 0.001 would be its minimum and its median.
    expect(window.quantile(0)).toBeCloseTo(40, -1);
    expect(window.quantile(0.5)).toBeCloseTo(40, -1);
    expect(window.quantile(1)).toBeCloseTo(50, -1);
    // The lifetime sum and count are not windowed.
    expect(store.totals[0]).toBe(5);
    expect(store.sums[0]).toBeCloseTo(85.001, 10);
  });
});

describe('generated code', () => {
  it('compiles each metric its own record function, even when two read the same', () => {
    const tags = ['route'];
    const t = new Telemeter({
      metrics: [
        distribution('gc1.a.duration', { eventName: 'gc1.a', measurement: 'v', tags }),
        distribution('gc1.b.duration', { eventName: 'gc1.b', measurement: 'v', tags }),
      ],
    });
    track(t);
    // V8 shares type feedback between functions compiled from the same source text: each must differ.
    const sources = (t as unknown as { recorders: Array<{ record: () => void }> }).recorders.map((r) =>
      String(r.record),
    );
    if (codeGenerationAllowed) {
      expect(sources[0]).not.toBe(sources[1]);
      // A profile or a stack trace names the metric whose record function it is.
      expect(sources[0]).toMatch(/\/\* record gc1\.a\.duration #\d+ \*\//);
    }
    // Where code generation is refused, both use the plain record function.
    else expect(sources.filter((source) => source.includes('/* record'))).toEqual([]);
    execute('gc1.a', { v: 1 }, { route: '/x' });
    execute('gc1.b', { v: 2 }, { route: '/x' });
    expect(sample(t.scrape(), 'gc1_b_duration_sum{route="/x"}')).toBe(2);
  });
});

describe('series tag values', () => {
  it('reads tag values back from the label block, escapes undone, global tags left out', () => {
    const t = new Telemeter({
      metrics: [
        distribution('tv1.duration', { eventName: 'tv1', measurement: 'v', tags: ['route', 'note'] }),
      ],
      globalTags: { region: 'eu-west', note: 'global' },
    });
    track(t);
    const hostile = 'a "quoted" \\ back\nslash, and="equals"';
    execute('tv1', { v: 1 }, { route: '/x', note: hostile });
    execute('tv1', { v: 1 }, { route: '/y', note: '' });
    const { table } = histogramOf(t, 'tv1_duration');
    expect(table.tagValuesOf(table.resolveValues(['/x', hostile]))).toEqual(['/x', hostile]);
    expect(table.tagValuesOf(table.resolveValues(['/y', '']))).toEqual(['/y', '']);
    expect(table.live).toBe(2);
  });
});

describe('generated bucket search', () => {
  it('puts every value in the bucket that HistogramStore.bucketOf picks, bounds included', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.array(fc.double({ min: -2e6, max: 2e6, noNaN: true, noDefaultInfinity: true }), { maxLength: 30 }),
        (rawBounds, rawValues) => {
          const bounds = [...new Set(rawBounds.map((b) => (Object.is(b, -0) ? 0 : b)))].sort((a, b) => a - b);
          // Every bound itself, and its neighbours, besides the random values.
          const values = [...rawValues, ...bounds, ...bounds.map((b) => b * (1 + 1e-12) + 1e-300)];
          const t = new Telemeter({
            metrics: [
              distribution('gb.value', {
                eventName: 'gb',
                measurement: 'v',
                reporterOptions: { buckets: bounds },
              }),
            ],
          });
          try {
            for (const v of values) execute('gb', { v }, {});
            const { store } = histogramOf(t, 'gb_value');
            const expected = new Array(bounds.length + 1).fill(0);
            for (const v of values) expected[store.bucketOf(v)]++;
            expect(Array.from(store.counts.subarray(0, bounds.length + 1))).toEqual(expected);
          } finally {
            t.close();
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('a streamed render while series come and go', () => {
  it('never writes out a series that expired between chunks, after the stores grew into new arrays', () => {
    const t = new Telemeter({
      metrics: [
        counter('sr.requests.count', { eventName: 'sr.requests', measurement: 'n', tags: ['route'] }),
      ],
      maxSeries: 1_000_000,
      selfMetrics: false,
    });
    track(t);
    for (let i = 0; i < 4000; i++) execute('sr.requests', { n: 1 }, { route: `/old/${i}` });
    const table = storedFamilies(t)[0].table;
    const chunks: string[] = [];
    let first = true;
    for (const chunk of t.render()) {
      chunks.push(chunk);
      if (first && chunk.includes('sr_requests_count_total{')) {
        first = false;
        // Between chunks: new series grow the arrays past their capacity, then every series expires.
        for (let i = 0; i < 8000; i++) execute('sr.requests', { n: 1 }, { route: `/new/${i}` });
        expect(table.expire(0)).toBe(12_000);
      }
    }
    expect(chunks.length).toBeGreaterThan(1);
    const lines = chunks.join('').split('\n');
    expect(lines.filter((line) => line.startsWith('sr_requests_count_total ')).length).toBe(0); // no label-less sample
    expect(lines.filter((line) => line.startsWith('sr_requests_count_total{')).length).toBeLessThan(4000);
    execute('sr.requests', { n: 1 }, { route: '/new/7' });
    expect(sample(t.scrape(), 'sr_requests_count_total{route="/new/7"}')).toBe(1);
  });
});
