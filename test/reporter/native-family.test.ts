/**
 * Distributions with native buckets (`reporterOptions.histogram: 'native' | 'both'`): their options, their storage
 * under expiry, overflow and bound handles, the read model, and both recording paths, each against a
 * NativeHistogramStore fed the same values (the store itself is judged in native-histogram.test.ts).
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { refuseCodeGenerationForTests } from '../../src/compile.js';
import {
  distribution,
  execute,
  type HistogramFamily,
  type MetricDefinition,
  type MetricOptions,
  setLogger,
  summary,
  Telemeter,
} from '../../src/index.js';
import { NativeHistogramStore } from '../../src/reporter/native-histogram.js';
import { closedAfterEach } from '../support/telemeters.js';

const { track } = closedAfterEach();
afterEach(() => {
  vi.useRealTimers();
  setLogger(null);
});

function telemeter(metrics: MetricDefinition[], plain = false): Telemeter {
  refuseCodeGenerationForTests(plain);
  try {
    const t = new Telemeter({ metrics, selfMetrics: false });
    track(t);
    return t;
  } finally {
    refuseCodeGenerationForTests(false);
  }
}

function histogram(t: Telemeter, name: string): HistogramFamily {
  const family = t.metricFamilies.find((f) => f.name === name);
  if (family?.kind !== 'histogram') throw new Error(`no histogram ${name}`);
  return family;
}

/** The native data a store gives for `values`, recorded one by one. */
function reference(values: readonly number[], options = {}) {
  const store = new NativeHistogramStore(options);
  store.grow(1);
  for (const v of values) store.observe(0, v);
  return store.read(0);
}

describe('reporterOptions.histogram and nativeHistogram', () => {
  const cases: [string, MetricOptions, RegExp][] = [
    [
      'a misspelt layout',
      { reporterOptions: { histogram: 'natve' as never } },
      /option reporterOptions\.histogram must be 'classic', 'native' or 'both', got "natve"/,
    ],
    [
      'a layout on a summary',
      { reporterOptions: { histogram: 'native' } },
      /option reporterOptions\.histogram applies to distributions only, not to a summary/,
    ],
    [
      'native options on a classic histogram',
      { reporterOptions: { nativeHistogram: { schema: 3 } } },
      /option reporterOptions\.nativeHistogram applies only with histogram: 'native' or 'both'/,
    ],
    [
      'a misspelt native option',
      { reporterOptions: { histogram: 'both', nativeHistogram: { bucketFacter: 1.1 } as never } },
      /option reporterOptions\.nativeHistogram\.bucketFacter is unknown \(did you mean reporterOptions\.nativeHistogram\.bucketFactor\?/,
    ],
    [
      'native options that are not an object',
      { reporterOptions: { histogram: 'both', nativeHistogram: 3 as never } },
      /option reporterOptions\.nativeHistogram must be an object/,
    ],
    [
      'a factor of 1',
      { reporterOptions: { histogram: 'native', nativeHistogram: { bucketFactor: 1 } } },
      /option reporterOptions\.nativeHistogram\.bucketFactor must be a finite number > 1/,
    ],
    [
      'a schema of 9',
      { reporterOptions: { histogram: 'native', nativeHistogram: { schema: 9 } } },
      /option reporterOptions\.nativeHistogram\.schema must be an integer from -4 to 8, got 9/,
    ],
    [
      'a schema as a string',
      { reporterOptions: { histogram: 'native', nativeHistogram: { schema: '3' as never } } },
      /option reporterOptions\.nativeHistogram\.schema must be an integer/,
    ],
    [
      'both schema and factor',
      { reporterOptions: { histogram: 'native', nativeHistogram: { schema: 3, bucketFactor: 1.1 } } },
      /option reporterOptions\.nativeHistogram\.schema and bucketFactor both set the resolution/,
    ],
    [
      'a negative zero threshold',
      { reporterOptions: { histogram: 'native', nativeHistogram: { zeroThreshold: -1 } } },
      /option reporterOptions\.nativeHistogram\.zeroThreshold must be a finite number >= 0, got -1/,
    ],
    [
      'one bucket',
      { reporterOptions: { histogram: 'native', nativeHistogram: { maxBucketCount: 1 } } },
      /option reporterOptions\.nativeHistogram\.maxBucketCount must be an integer >= 2, got 1/,
    ],
    [
      'classic bounds on a native-only histogram',
      { reporterOptions: { histogram: 'native', buckets: [1, 2] } },
      /option reporterOptions\.buckets sets classic bucket bounds, which histogram: 'native' does not keep/,
    ],
  ];
  it.each(cases)('refuses %s at definition, naming the metric and the option', (what, options, message) => {
    const define = what.includes('summary') ? summary : distribution;
    expect(() => define('app.req.duration', options)).toThrow(message);
    expect(() => define('app.req.duration', options)).toThrow(/metric "app\.req\.duration"/);
  });

  it('takes every valid combination, and freezes the native options with the definition', () => {
    const d = distribution('app.req.duration', {
      reporterOptions: {
        histogram: 'both',
        buckets: [1],
        nativeHistogram: { schema: -4, zeroThreshold: 0, maxBucketCount: 2 },
      },
    });
    expect(Object.isFrozen(d.reporterOptions.nativeHistogram)).toBe(true);
    expect(() => distribution('app.req.size', { reporterOptions: { histogram: 'classic' } })).not.toThrow();
    expect(() =>
      distribution('app.req.size', {
        reporterOptions: { histogram: 'native', nativeHistogram: { bucketFactor: 2 } },
      }),
    ).not.toThrow();
  });
});

describe('the read model of a native distribution', () => {
  it("keeps no classic bounds with 'native': one +Inf bucket holds the count, beside the native buckets", () => {
    const t = telemeter([
      distribution('nf1.req.duration', { tags: ['route'], reporterOptions: { histogram: 'native' } }),
      distribution('nf1.req.both', {
        eventName: 'nf1.req',
        measurement: 'duration',
        reporterOptions: { histogram: 'both', buckets: [0.15, 1], nativeHistogram: { schema: 2 } },
      }),
      distribution('nf1.req.classic', {
        eventName: 'nf1.req',
        measurement: 'duration',
        reporterOptions: { buckets: [0.15, 1] },
      }),
    ]);
    const values = [0.1, 0.1, 0.1, 0.2, 0.2, 1.5, -3, 0, 2 ** -130];
    for (const v of values) execute('nf1.req', { duration: v }, { route: '/a' });
    const native = histogram(t, 'nf1_req_duration');
    expect(native.layout).toBe('native');
    expect(native.bounds).toEqual([]);
    expect(native.buckets).toBe(1);
    expect(native.bucketCount(0, 0)).toBe(values.length);
    expect(native.count(0)).toBe(values.length);
    expect(native.sum(0)).toBe(values.reduce((a, b) => a + b, 0));
    expect(native.nativeHistogram(0)).toEqual(reference(values));
    // The §11.3 example at schema 3: indices -26, -18, 5; -3 mirrored; 0 and 2^-130 in the zero bucket.
    expect(native.nativeHistogram(0)).toMatchObject({
      schema: 3,
      zeroCount: 2,
      positive: { indices: [-26, -18, 5], counts: [3, 2, 1] },
      negative: { indices: [13], counts: [1] },
    });
    const both = histogram(t, 'nf1_req_both');
    const classic = histogram(t, 'nf1_req_classic');
    expect(both.layout).toBe('both');
    expect(classic.layout).toBe('classic');
    expect(classic.nativeHistogram(0)).toBeUndefined();
    expect(both.bounds).toEqual(classic.bounds);
    for (let b = 0; b < both.buckets; b++) expect(both.bucketCount(0, b)).toBe(classic.bucketCount(0, b));
    expect(both.nativeHistogram(0)).toEqual(reference(values, { schema: 2 }));
    expect(both.nativeHistogram(0)?.count).toBe(both.count(0));
    expect(both.nativeHistogram(0)?.sum).toBe(both.sum(0));
  });

  it('records through a bound handle, into the overflow series, and empties a series that expired', () => {
    vi.useFakeTimers();
    setLogger({ warn: () => {}, error: () => {} });
    const t = telemeter([
      distribution('nf2.req.duration', {
        tags: ['route'],
        reporterOptions: { histogram: 'native', maxSeries: 3, idleTimeout: 1000 },
      }),
    ]);
    const family = histogram(t, 'nf2_req_duration');
    const bound = t.bind('nf2.req.duration', { route: '/bound' });
    bound.record(0.5);
    bound.record(-0.5);
    execute('nf2.req', { duration: 7 }, { route: '/a' });
    // maxSeries 3: /c folds into the overflow series.
    execute('nf2.req', { duration: 3 }, { route: '/b' });
    execute('nf2.req', { duration: 4 }, { route: '/c' });
    const byRoute = () => {
      const out: Record<string, unknown> = {};
      for (let s = 0; s < family.seriesIdLimit; s++)
        if (family.holds(s)) out[family.labelValues(s)[0]] = family.nativeHistogram(s);
      return out;
    };
    expect(byRoute()).toEqual({
      '/bound': reference([0.5, -0.5]),
      '/a': reference([7]),
      '/b': reference([3]),
      __overflow__: reference([4]),
    });
    vi.advanceTimersByTime(3000);
    expect(Object.keys(byRoute()).sort()).toEqual(['/bound', '__overflow__']);
    // The expired id comes back for a new series, with nothing of the old one's buckets.
    execute('nf2.req', { duration: 0.001 }, { route: '/a' });
    expect(byRoute()['/a']).toEqual(reference([0.001]));
  });

  it('records the same native buckets with and without code generation, for random values', () => {
    const definitions = (prefix: string) => [
      distribution(`${prefix}.req.duration`, {
        tags: ['route'],
        unit: ['native', 'millisecond'],
        reporterOptions: {
          histogram: 'both',
          buckets: [1, 10],
          nativeHistogram: { schema: 8, maxBucketCount: 8 },
        },
      }),
      distribution(`${prefix}.req.size`, {
        eventName: `${prefix}.req`,
        measurement: 'bytes',
        reporterOptions: { histogram: 'native', nativeHistogram: { zeroThreshold: 0 } },
      }),
    ];
    let run = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            duration: fc.double({ min: -1e12, max: 1e12, noNaN: true }),
            bytes: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ noNaN: true })),
            route: fc.constantFrom('/a', '/b'),
          }),
          { maxLength: 60 },
        ),
        (events) => {
          const prefix = `nf3x${++run}`;
          const pair = [telemeter(definitions(prefix), false), telemeter(definitions(prefix), true)];
          const bound = pair.map((t) => t.bind(`${prefix}.req.duration`, { route: '/bound' }));
          for (const e of events) {
            execute(`${prefix}.req`, { duration: e.duration, bytes: e.bytes }, { route: e.route });
            for (const b of bound) b.record(e.duration);
          }
          const read = (t: Telemeter) =>
            t.metricFamilies.map((f) => {
              if (f.kind !== 'histogram') return [];
              const out = [];
              for (let s = 0; s < f.seriesIdLimit; s++)
                out.push([f.labelBlock(s), f.nativeHistogram(s), f.count(s), f.sum(s)]);
              return out;
            });
          expect(read(pair[1])).toEqual(read(pair[0]));
          for (const t of pair) t.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});
