import { describe, expect, it } from 'vitest';
import {
  counter,
  distribution,
  execute,
  type HistogramFamily,
  lastValue,
  type MetricFamily,
  type ScalarFamily,
  type SummaryFamily,
  sum,
  summary,
  type Telemeter,
} from '../../src/index.js';
import { storedFamilies } from '../../src/reporter/reporter.js';
import { sample } from '../support/samples.js';
import { closedAfterEach } from '../support/telemeters.js';

const { make } = closedAfterEach();

type FamilyOf<K> = K extends 'histogram'
  ? HistogramFamily
  : K extends 'summary'
    ? SummaryFamily
    : ScalarFamily;

function family<K extends MetricFamily['kind']>(t: Telemeter, name: string, kind: K): FamilyOf<K> {
  const found = t.metricFamilies.find((f) => f.name === name);
  if (found?.kind !== kind) throw new Error(`no ${kind} family ${name}`);
  return found as FamilyOf<K>;
}

/** Every held series as `labelValues → read`, walking ids as a format without order would. */
function byLabels<T>(f: MetricFamily, read: (id: number) => T): Record<string, T> {
  const result: Record<string, T> = {};
  for (let id = 0; id < f.seriesIdLimit; id++) {
    if (f.holds(id)) result[f.labelValues(id).join('|')] = read(id);
  }
  return result;
}

describe('the read model', () => {
  it('describes every family: name, kind, help, unit, label names and definition, then telemeter’s own', () => {
    const requests = counter('rm1.http.requests', {
      eventName: 'rm1.http.stop',
      measurement: 'duration',
      tags: ['route'],
    });
    const latency = distribution('rm1.http.duration.seconds', {
      eventName: 'rm1.http.stop',
      measurement: 'duration',
      unit: ['millisecond', 'second'],
      tags: ['route', 'method'],
      description: 'Request latency.',
      reporterOptions: { buckets: [0.1, 0.5] },
    });
    const t = make([requests, latency], { selfMetrics: true });
    expect(t.metricFamilies.map((f) => [f.name, f.kind, f.unit, f.labelNames, f.definition?.name])).toEqual([
      ['rm1_http_requests_total', 'counter', undefined, ['route'], 'rm1.http.requests'],
      ['rm1_http_duration_seconds', 'histogram', 'seconds', ['route', 'method'], 'rm1.http.duration.seconds'],
      ['telemeter_scrapes_total', 'counter', undefined, ['status'], 'telemeter.scrapes_total'],
      ['telemeter_scrape_duration_seconds', 'histogram', 'seconds', [], 'telemeter.scrape_duration_seconds'],
      ['telemeter_dropped_events_total', 'counter', undefined, ['metric', 'reason'], undefined],
      ['telemeter_series_overflow_total', 'counter', undefined, ['metric'], undefined],
      ['telemeter_series', 'gauge', undefined, ['metric'], undefined],
    ]);
    expect(family(t, 'rm1_http_duration_seconds', 'histogram').help).toBe('Request latency.');
    expect(Object.isFrozen(t.metricFamilies)).toBe(true);
  });

  it('reads counters, sums and last values, and tells accumulating values from replaced ones', () => {
    const t = make([
      counter('rm2.jobs.count', { eventName: 'rm2.job', measurement: 'bytes', tags: ['queue'] }),
      sum('rm2.jobs.bytes', { eventName: 'rm2.job', measurement: 'bytes', tags: ['queue'] }),
      sum('rm2.jobs.balance', {
        eventName: 'rm2.job',
        measurement: 'bytes',
        reporterOptions: { prometheusType: 'gauge' },
      }),
      lastValue('rm2.jobs.last', { eventName: 'rm2.job', measurement: 'bytes', tags: ['queue'] }),
    ]);
    execute('rm2.job', { bytes: 10 }, { queue: 'mail' });
    execute('rm2.job', { bytes: 5 }, { queue: 'mail' });
    execute('rm2.job', { bytes: 7 }, { queue: 'sms' });
    const count = family(t, 'rm2_jobs_count_total', 'counter');
    const bytes = family(t, 'rm2_jobs_bytes_total', 'counter');
    const balance = family(t, 'rm2_jobs_balance', 'gauge');
    const last = family(t, 'rm2_jobs_last', 'gauge');
    expect(byLabels(count, (id) => count.value(id))).toEqual({ mail: 2, sms: 1 });
    expect(byLabels(bytes, (id) => bytes.value(id))).toEqual({ mail: 15, sms: 7 });
    expect(byLabels(balance, (id) => balance.value(id))).toEqual({ '': 22 });
    expect(byLabels(last, (id) => last.value(id))).toEqual({ mail: 5, sms: 7 });
    expect([count, bytes, balance, last].map((f: ScalarFamily) => f.cumulative)).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(count.seriesCount).toBe(2);
    expect(count.seriesIdLimit).toBeGreaterThanOrEqual(2);
    expect(count.holds(count.seriesIdLimit)).toBe(false);
  });

  it('reads histogram buckets one by one (not cumulative), with sum and count', () => {
    const t = make([
      distribution('rm3.size', {
        eventName: 'rm3.upload',
        measurement: 'bytes',
        tags: ['kind'],
        reporterOptions: { buckets: [10, 100] },
      }),
    ]);
    for (const bytes of [5, 10, 11, 100, 1000, 2000]) execute('rm3.upload', { bytes }, { kind: 'photo' });
    const f: HistogramFamily = family(t, 'rm3_size', 'histogram');
    expect(f.bounds).toEqual([10, 100]);
    expect(f.buckets).toBe(3);
    const [id] = Object.values(byLabels(f, (series) => series));
    expect([0, 1, 2].map((b) => f.bucketCount(id, b))).toEqual([2, 2, 2]);
    expect(f.sum(id)).toBe(3126);
    expect(f.count(id)).toBe(6);
    // What the text format writes is the running total of the same counts.
    expect(sample(t.scrape(), 'rm3_size_bucket{kind="photo",le="100.0"}')).toBe(4);
  });

  it('reads summaries: quantiles from one window per series, lifetime sum and count', () => {
    const t = make([
      summary('rm4.latency', {
        eventName: 'rm4.query',
        measurement: 'ms',
        reporterOptions: { quantiles: [0.9, 0.5], relativeAccuracy: 0.02 },
      }),
    ]);
    for (let ms = 1; ms <= 100; ms++) execute('rm4.query', { ms }, {});
    const f: SummaryFamily = family(t, 'rm4_latency', 'summary');
    expect(f.quantiles).toEqual([0.5, 0.9]);
    // 0.02 asks for the coarsest schema within 2%: schema 5, whose bound (1.08%) is what the family reports.
    expect([f.schema, f.relativeAccuracy]).toEqual([5, (2 ** (1 / 32) - 1) / (2 ** (1 / 32) + 1)]);
    const window = f.window(0);
    expect(window.count).toBe(100);
    expect(Math.abs(window.quantile(0.5) - 50) / 50).toBeLessThanOrEqual(f.relativeAccuracy);
    expect(f.sum(0)).toBe(5050);
    expect(f.count(0)).toBe(100);
    expect(sample(t.scrape(), 'rm4_latency{quantile="0.5"}')).toBe(window.quantile(0.5));
  });

  it('gives labels as the text formats write them, and as unescaped pairs with the global tags', () => {
    const t = make(
      [counter('rm5.hits', { eventName: 'rm5.hit', measurement: 'n', tags: ['path', 'agent'] })],
      {
        globalTags: { service: 'shop', app: 'web' },
      },
    );
    const path = 'a "quoted" \\ back\nslash';
    execute('rm5.hit', { n: 1 }, { path, agent: 'curl' });
    const f = family(t, 'rm5_hits_total', 'counter');
    const id = f.seriesOrder().next().value as Uint32Array;
    const series = id[0];
    expect(f.labelBlock(series)).toBe(
      'agent="curl",app="web",path="a \\"quoted\\" \\\\ back\\nslash",service="shop"',
    );
    const pairs: Array<[string, string]> = [];
    f.forEachLabel(series, (name, value) => pairs.push([name, value]));
    expect(pairs).toEqual([
      ['agent', 'curl'],
      ['app', 'web'],
      ['path', path],
      ['service', 'shop'],
    ]);
    expect(f.labelValues(series)).toEqual([path, 'curl']);
    expect(t.scrape()).toContain(`rm5_hits_total{${f.labelBlock(series)}} 1\n`);
  });

  it('orders series by label block, in steps, and the order is the one a scrape writes', () => {
    const t = make([counter('rm6.hits', { eventName: 'rm6.hit', measurement: 'n', tags: ['key'] })]);
    for (const key of ['c', 'a', 'b', 'aa']) execute('rm6.hit', { n: 1 }, { key });
    const f = family(t, 'rm6_hits_total', 'counter');
    const steps = f.seriesOrder();
    let step = steps.next();
    while (!step.done) step = steps.next();
    expect(Array.from(step.value, (id) => f.labelValues(id)[0])).toEqual(['a', 'aa', 'b', 'c']);
  });

  it('changes a series id’s incarnation when its series expires, and reuses the id for the next one', () => {
    const t = make([
      counter('rm7.hits', {
        eventName: 'rm7.hit',
        measurement: 'n',
        tags: ['key'],
        reporterOptions: { idleTimeout: 60_000 },
      }),
    ]);
    execute('rm7.hit', { n: 1 }, { key: 'old' });
    const f = family(t, 'rm7_hits_total', 'counter');
    const before = f.incarnation(0);
    for (let i = 0; i < 3; i++) storedFamilies(t)[0].table.expire(2);
    expect(f.holds(0)).toBe(false);
    expect(f.seriesCount).toBe(0);
    execute('rm7.hit', { n: 1 }, { key: 'new' });
    expect(f.holds(0)).toBe(true);
    expect(f.labelValues(0)).toEqual(['new']);
    expect(f.incarnation(0)).not.toBe(before);
    expect(f.value(0)).toBe(1);
  });

  it('keeps the deprecated families for one minor version: the same families, with one DeprecationWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => {
      if (warning.name === 'DeprecationWarning') warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      const t = make([counter('rm8.hits', { eventName: 'rm8.hit', measurement: 'n' })]);
      expect(t.families).toEqual(t.metricFamilies);
      expect(t.families[0]).toBe(t.metricFamilies[0]);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => [(w as { code?: string }).code, w.message])).toEqual([
      [
        'TELEMETER_DEP0005',
        'telemeter: Telemeter.families is deprecated and will be removed in telemeter 0.3; use Telemeter.metricFamilies',
      ],
    ]);
  });
});
