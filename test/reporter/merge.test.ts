import { describe, expect, it } from 'vitest';
import { counter, distribution, execute, lastValue, sum, summary, type Telemeter } from '../../src/index.js';
import {
  type FamilyMerge,
  familyMerges,
  type HistogramMerge,
  type ScalarMerge,
  type SummaryMerge,
} from '../../src/reporter/index.js';
import { storedFamilies } from '../../src/reporter/reporter.js';
import { samples } from '../support/samples.js';
import { closedAfterEach } from '../support/telemeters.js';

const { make } = closedAfterEach();

type MergeOf<S> = S extends 'histogram' ? HistogramMerge : S extends 'summary' ? SummaryMerge : ScalarMerge;

function mergeOf<S extends FamilyMerge['shape']>(t: Telemeter, name: string, shape: S): MergeOf<S> {
  const found = familyMerges(t).find((m) => m.family.name === name);
  if (found?.shape !== shape) throw new Error(`no ${shape} merge for ${name}`);
  return found as MergeOf<S>;
}

const definitions = (prefix: string) => [
  counter(`${prefix}.hits`, { eventName: `${prefix}.hit`, measurement: 'n', tags: ['route'] }),
  sum(`${prefix}.balance`, {
    eventName: `${prefix}.hit`,
    measurement: 'n',
    reporterOptions: { prometheusType: 'gauge' },
  }),
  lastValue(`${prefix}.depth`, { eventName: `${prefix}.hit`, measurement: 'n' }),
  distribution(`${prefix}.size`, {
    eventName: `${prefix}.hit`,
    measurement: 'n',
    reporterOptions: { buckets: [1, 10] },
  }),
  summary(`${prefix}.latency`, {
    eventName: `${prefix}.hit`,
    measurement: 'n',
    reporterOptions: { quantiles: [0.5], relativeAccuracy: 0.02 },
  }),
];

describe('the merge interface', () => {
  it('names each family’s shape and the layout both sides must agree on', () => {
    const t = make(definitions('mg1'));
    expect(familyMerges(t).map((m) => [m.family.name, m.shape, m.layout])).toEqual([
      ['mg1_hits_total', 'add', 0],
      ['mg1_balance', 'add', 0],
      ['mg1_depth', 'set', 0],
      ['mg1_size', 'histogram', 3],
      ['mg1_latency', 'summary', 5], // the schema: 0.02 asks for schema 5 (1.08%)
    ]);
    expect(familyMerges(t).map((m) => m.family)).toEqual(t.metricFamilies);
  });

  it('adds and replaces values, bucket counts, sums and sketch bins: a scrape shows what was merged', () => {
    const t = make(definitions('mg2'));
    const hits = mergeOf(t, 'mg2_hits_total', 'add');
    const cart = hits.resolve(['/cart']);
    hits.add(cart, 3);
    hits.add(cart, 2);
    const depth = mergeOf(t, 'mg2_depth', 'set');
    depth.set(depth.resolve([]), 7);
    const size = mergeOf(t, 'mg2_size', 'histogram');
    const s = size.resolve([]);
    size.addToBucket(s, 0, 2);
    size.addToBucket(s, 2, 1);
    size.addToSum(s, 101);
    const latency = mergeOf(t, 'mg2_latency', 'summary');
    const l = latency.resolve([]);
    latency.addToTotals(l, 3, 30);
    // Bin 0 of the positive side stands for 1; zeros have no bin.
    latency.addToWindow(l, 1, 0, 2);
    latency.addToWindow(l, 0, 0, 1);
    const body = samples(t.scrape());
    expect(body.get('mg2_hits_total{route="/cart"}')).toBe(5);
    expect(body.get('mg2_depth')).toBe(7);
    expect(body.get('mg2_size_bucket{le="1.0"}')).toBe(2);
    expect(body.get('mg2_size_bucket{le="10.0"}')).toBe(2);
    expect(body.get('mg2_size_bucket{le="+Inf"}')).toBe(3);
    expect(body.get('mg2_size_sum')).toBe(101);
    expect(body.get('mg2_size_count')).toBe(3);
    expect(body.get('mg2_latency_count')).toBe(3);
    expect(body.get('mg2_latency_sum')).toBe(30);
    expect(latency.family.window(l).count).toBe(3);
    expect(body.get('mg2_latency{quantile="0.5"}')).toBeCloseTo(1, 1);
  });

  it('resolves the same series events record into, and touch keeps a merged series from expiring', () => {
    const t = make(definitions('mg3'));
    execute('mg3.hit', { n: 1 }, { route: '/a' });
    const hits = mergeOf(t, 'mg3_hits_total', 'add');
    const a = hits.resolve(['/a']);
    expect(hits.family.value(a)).toBe(1);
    const table = storedFamilies(t)[0].table;
    table.expire(2);
    table.expire(2);
    hits.touch(a);
    expect(table.expire(2)).toBe(0);
    expect(hits.family.holds(a)).toBe(true);
  });

  it('taps a summary’s new observations as bins until taken, then empties them', () => {
    const t = make(definitions('mg4'));
    execute('mg4.hit', { n: 5 }, { route: '/a' });
    const tap = mergeOf(t, 'mg4_latency', 'summary').observations();
    expect(tap.take(0)).toBeUndefined();
    // The first start keeps what the window already holds, so nothing recorded before it is lost.
    tap.start();
    execute('mg4.hit', { n: 5 }, { route: '/a' });
    execute('mg4.hit', { n: -5 }, { route: '/a' });
    execute('mg4.hit', { n: 0 }, { route: '/a' });
    const bins = tap.take(0);
    expect(bins?.zeroCount).toBe(1);
    expect(bins?.positive.length).toBe(2);
    expect(bins?.positive[1]).toBe(2);
    expect(bins?.negative).toEqual([bins?.positive[0], 1]);
    expect(tap.take(0)).toBeUndefined();
    tap.stop();
    execute('mg4.hit', { n: 5 }, { route: '/a' });
    expect(tap.take(0)).toBeUndefined();
    expect(t.metricFamilies[4].kind === 'summary' && t.metricFamilies[4].count(0)).toBe(5);
  });
});
