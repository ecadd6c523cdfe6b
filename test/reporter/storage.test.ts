import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  counter,
  distribution,
  execute,
  type MetricDefinition,
  summary,
  Telemeter,
} from '../../src/index.js';
import type { HistogramFamily } from '../../src/reporter/family.js';
import { SummaryStore } from '../../src/reporter/summary-store.js';
import { codeGenerationAllowed } from '../support/code-generation.js';
import { sample } from '../support/samples.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const open: Telemeter[] = [];
afterEach(() => {
  for (const t of open.splice(0)) t.close();
});

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
  open.push(t);
  return t;
}

function histogramOf(t: Telemeter, name: string): HistogramFamily {
  return t.families.find((f) => f.name === name) as HistogramFamily;
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
  open.push(t);
  const eventName = definition.eventName;
  const before = await settled();
  let i = 0;
  for (const route of routes)
    for (const method of methods)
      for (const status of statuses) execute(eventName, measurements[i++], { route, method, status });
  t.scrape();
  const perSeries = ((await settled()) - before) / SERIES;
  const family = t.families.find((f) => f.definition === definition);
  return { perSeries, live: family?.table.live ?? 0 };
}

describe('summary storage', () => {
  it('keeps each series its own window slots: a rotation clears one slot of each, a reset only its own', () => {
    const store = new SummaryStore([0.5], 0.01, 3);
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
    open.push(t);
    // V8 shares type feedback between functions compiled from the same source text: each must differ.
    const sources = (t as unknown as { recorders: Array<{ record: () => void }> }).recorders.map((r) =>
      String(r.record),
    );
    if (codeGenerationAllowed) expect(sources[0]).not.toBe(sources[1]);
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
    open.push(t);
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
    open.push(t);
    for (let i = 0; i < 4000; i++) execute('sr.requests', { n: 1 }, { route: `/old/${i}` });
    const table = t.families[0].table;
    const chunks: string[] = [];
    let first = true;
    for (const chunk of t.render()) {
      chunks.push(chunk);
      if (first && chunk.includes('sr_requests_count{')) {
        first = false;
        // Between chunks: new series grow the arrays past their capacity, then every series expires.
        for (let i = 0; i < 8000; i++) execute('sr.requests', { n: 1 }, { route: `/new/${i}` });
        expect(table.expire(0)).toBe(12_000);
      }
    }
    expect(chunks.length).toBeGreaterThan(1);
    const lines = chunks.join('').split('\n');
    expect(lines.filter((line) => line.startsWith('sr_requests_count ')).length).toBe(0); // no label-less sample
    expect(lines.filter((line) => line.startsWith('sr_requests_count{')).length).toBeLessThan(4000);
    execute('sr.requests', { n: 1 }, { route: '/new/7' });
    expect(sample(t.scrape(), 'sr_requests_count{route="/new/7"}')).toBe(1);
  });
});
