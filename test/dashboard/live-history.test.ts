/**
 * The live dashboard's history: a bounded ring, rates from counters (with resets), quantiles and heatmap
 * rows from per-interval bucket increases, summaries, the per-metric series cap and the tag filter.
 * Samples are taken by hand with explicit times, so every expected number is exact.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { bucketQuantile } from '../../src/dashboard/live/bucket-quantile.js';
import { DashboardHistory, type MetricData } from '../../src/dashboard/live/history.js';
import { Timeline } from '../../src/dashboard/live/timeline.js';
import { addCollector } from '../../src/events/index.js';
import {
  counter,
  distribution,
  execute,
  lastValue,
  type MetricDefinition,
  sum,
  summary,
  Telemeter,
} from '../../src/index.js';
import type { StoredScalarFamily } from '../../src/reporter/family.js';
import { storedFamilies } from '../../src/reporter/reporter.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

let sequence = 0;
/** A Telemeter over events of its own (`t<n>.…`), so tests never see each other's events. */
function setup(define: (event: (name: string) => string) => MetricDefinition[], selfMetrics = false) {
  const prefix = `live${++sequence}`;
  const event = (name: string) => `${prefix}.${name}`;
  const telemeter = new Telemeter({ metrics: define(event), selfMetrics });
  cleanups.push(() => telemeter.close());
  return { telemeter, event };
}

function metric(data: { metrics: MetricData[] }, id: number) {
  return data.metrics[id] as any;
}

describe('Timeline', () => {
  it('holds at most its capacity, overwriting the oldest samples', () => {
    const timeline = new Timeline(5);
    for (let t = 1; t <= 12; t++) timeline.advance(t * 1000);
    expect(timeline.length).toBe(5);
    expect(timeline.ticks).toBe(12);
    expect(timeline.oldest).toBe(8000);
    expect(timeline.newest).toBe(12_000);
    const times = timeline.slotsAfter(undefined).map((slot) => timeline.times[slot]);
    expect(times).toEqual([8000, 9000, 10_000, 11_000, 12_000]);
    expect(timeline.slotsAfter(10_000).map((slot) => timeline.times[slot])).toEqual([11_000, 12_000]);
    expect(timeline.times.length).toBe(5);
    expect(() => new Timeline(1)).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_INVALID_ARGUMENT',
        message: expect.stringMatching(/2 points/),
      }),
    );
  });
});

describe('bucketQuantile (histogram_quantile interpolation)', () => {
  const bounds = [1, 2, 4, 8];

  it('interpolates linearly inside the bucket that holds the rank', () => {
    // 10 observations: 2 in (0,1], 4 in (1,2], 4 in (2,4].
    const counts = [2, 4, 4, 0, 0];
    expect(bucketQuantile(0.5, bounds, counts)).toBeCloseTo(1 + (5 - 2) / 4, 12); // 1.75
    expect(bucketQuantile(0.9, bounds, counts)).toBeCloseTo(2 + 2 * ((9 - 6) / 4), 12); // 3.5
    expect(bucketQuantile(0.1, bounds, counts)).toBeCloseTo(0.5, 12); // lowest bucket starts at 0
    expect(bucketQuantile(1, bounds, counts)).toBe(4);
  });

  it('answers the highest finite bound for a rank in +Inf, NaN when empty, and reads at an offset', () => {
    expect(bucketQuantile(0.99, bounds, [1, 0, 0, 0, 9])).toBe(8);
    expect(bucketQuantile(0.5, bounds, [0, 0, 0, 0, 0])).toBeNaN();
    expect(bucketQuantile(0.5, [-1, 5], [3, 1, 0])).toBe(-1);
    const two = [9, 9, 9, 9, 9, 0, 10, 0, 0, 0];
    expect(bucketQuantile(0.5, bounds, two, 5)).toBeCloseTo(1.5, 12);
  });
});

describe('DashboardHistory', () => {
  it('keeps at most `points` samples per series, however long it runs', () => {
    const { telemeter, event } = setup((e) => [
      lastValue(e('queue.depth'), { tags: ['queue'] }),
      distribution(e('job.stop.duration'), { reporterOptions: { buckets: [1, 10] } }),
    ]);
    const history = new DashboardHistory(telemeter, { points: 30 });
    for (let i = 0; i < 100; i++) {
      execute(event('queue'), { depth: i }, { queue: 'mail' });
      execute(event('job.stop'), { duration: i % 20 });
      history.sample(i * 1000);
    }
    const data = history.data();
    expect(data.full).toBe(true);
    expect(data.times).toHaveLength(30);
    expect(data.times[0]).toBe(70_000);
    expect(metric(data, 0).series[0].values).toHaveLength(30);
    expect(metric(data, 0).series[0].values.at(-1)).toBe(99);
    expect(metric(data, 1).heatmap).toHaveLength(30);
    expect(metric(data, 1).heatmap[0]).toHaveLength(3);
    expect(history.timeline.times.length).toBe(30);
  });

  it('turns counters into per-second rates, treating a decrease as a restart from 0', () => {
    const { telemeter, event } = setup((e) => [
      counter(e('request.count'), { eventName: e('request'), measurement: 'duration' }),
    ]);
    const history = new DashboardHistory(telemeter);
    const store = (storedFamilies(telemeter)[0] as StoredScalarFamily).store;
    const fire = (n: number) => {
      for (let i = 0; i < n; i++) execute(event('request'), { duration: 1 });
    };
    fire(3);
    history.sample(10_000);
    fire(10);
    history.sample(11_000);
    fire(5);
    history.sample(13_000);
    store.values[0] = 4; // 18 → 4: the counter restarted and counted 4 since
    history.sample(15_000);
    history.sample(16_000);
    const values = metric(history.data(), 0).series[0].values;
    expect(values).toEqual([null, 10, 2.5, 2, 0]);
  });

  it('counts the whole value of a series created between two samples, and only rates of sums can go negative', () => {
    const { telemeter, event } = setup((e) => [
      counter(e('hit.count'), { eventName: e('hit'), measurement: 'duration', tags: ['page'] }),
      sum(e('stock.change'), { reporterOptions: { prometheusType: 'gauge' } }),
    ]);
    const history = new DashboardHistory(telemeter);
    execute(event('hit'), { duration: 1 }, { page: 'a' });
    execute(event('stock'), { change: 10 });
    history.sample(0);
    for (let i = 0; i < 6; i++) execute(event('hit'), { duration: 1 }, { page: 'b' });
    execute(event('stock'), { change: -4 });
    history.sample(2000);
    const data = history.data();
    const [a, b] = metric(data, 0).series;
    expect(a.tags).toEqual(['a']);
    expect(a.values).toEqual([null, 0]);
    expect(b.tags).toEqual(['b']);
    expect(b.values).toEqual([null, 3]);
    expect(metric(data, 1).series[0].values).toEqual([null, -2]);
  });

  it('derives p50/p90/p99 and the heatmap from each interval’s bucket increases', () => {
    const { telemeter, event } = setup((e) => [
      distribution(e('job.stop.duration'), { tags: ['queue'], reporterOptions: { buckets: [1, 2, 4, 8] } }),
    ]);
    const history = new DashboardHistory(telemeter);
    const observe = (queue: string, values: number[]) => {
      for (const duration of values) execute(event('job.stop'), { duration }, { queue });
    };
    observe('mail', [0.5, 0.5]);
    history.sample(0);
    observe('mail', [0.5, 0.5, 1.5, 1.5]);
    observe('sms', [1.5, 1.5, 3, 3, 3, 3]);
    history.sample(1000);
    observe('sms', [100]);
    history.sample(2000);
    history.sample(3000);

    const all = metric(history.data(), 0);
    expect(all.matched).toBe(2);
    expect(all.heatmap).toEqual([
      [0, 0, 0, 0, 0],
      [2, 4, 4, 0, 0],
      [0, 0, 0, 0, 1],
      [0, 0, 0, 0, 0],
    ]);
    // The first interval of a series seen for the first time is unknown, not 0.
    expect(all.p50).toEqual([null, 1.75, 8, null]);
    expect(all.p90[1]).toBeCloseTo(3.5, 12);
    expect(all.p99[1]).toBeCloseTo(2 + 2 * ((9.9 - 6) / 4), 12);

    const mail = metric(history.data(undefined, new Map([['queue', 'mail']])), 0);
    expect(mail.matched).toBe(1);
    expect(mail.heatmap[1]).toEqual([2, 2, 0, 0, 0]);
    expect(mail.p50[1]).toBeCloseTo(1, 12);
  });

  it('charts a native-only distribution over powers of two, as a classic one with those bounds', () => {
    const powers = Array.from({ length: 41 }, (_, k) => 2 ** (k - 16));
    const { telemeter, event } = setup((e) => [
      distribution(e('job.stop.duration'), { tags: ['queue'], reporterOptions: { histogram: 'native' } }),
      distribution(e('job.stop.size'), {
        measurement: 'duration',
        tags: ['queue'],
        reporterOptions: { buckets: powers },
      }),
    ]);
    const history = new DashboardHistory(telemeter);
    const observe = (values: number[]) => {
      for (const duration of values) execute(event('job.stop'), { duration }, { queue: 'mail' });
    };
    observe([0.3]);
    history.sample(0);
    observe([0.001, 0.02, 0.3, 0.3, 0.7, 1, 1.5, 3, 40, 1e6, 2 ** -20]);
    history.sample(1000);
    observe([0.25, 0.26, 9]);
    history.sample(2000);
    const native = metric(history.data(), 0);
    const classic = metric(history.data(), 1);
    expect(native.matched).toBe(1);
    expect(native.heatmap[1]).toHaveLength(42);
    expect(native.heatmap[1].reduce((a: number, b: number) => a + b, 0)).toBe(11);
    expect(native.heatmap).toEqual(classic.heatmap);
    for (const q of ['p50', 'p90', 'p99']) expect(native[q]).toEqual(classic[q]);
    expect(native.p50[2]).toBeGreaterThan(0.25);
    expect(native.p50[2]).toBeLessThanOrEqual(0.5);
    expect(history.meta().metrics[0].bounds).toEqual(powers);
  });

  it('charts summaries with the quantiles of their own sliding window', () => {
    const { telemeter, event } = setup((e) => [summary(e('db.query.stop.duration'))]);
    const history = new DashboardHistory(telemeter);
    for (let i = 1; i <= 100; i++) execute(event('db.query.stop'), { duration: i });
    history.sample(0);
    const family = telemeter.metricFamilies[0];
    if (family.kind !== 'summary') throw new Error('expected a summary family');
    const window = family.window(0);
    const series = metric(history.data(), 0).series[0];
    expect(series.p50).toEqual([window.quantile(0.5)]);
    expect(series.p90).toEqual([window.quantile(0.9)]);
    expect(series.p99).toEqual([window.quantile(0.99)]);
    expect(series.p50[0]).toBeGreaterThan(49);
    expect(series.p50[0]).toBeLessThan(52);
  });

  it('caps the series charted per metric, counts the rest, and frees a place once a series has scrolled out', () => {
    const { telemeter, event } = setup((e) => [lastValue(e('queue.depth'), { tags: ['queue'] })]);
    const history = new DashboardHistory(telemeter, { points: 4, maxSeriesPerMetric: 3 });
    for (let q = 0; q < 10; q++) execute(event('queue'), { depth: q }, { queue: `q${q}` });
    history.sample(0);
    let data = history.data();
    expect(metric(data, 0).series.map((s: { tags: string[] }) => s.tags[0])).toEqual(['q0', 'q1', 'q2']);
    expect(metric(data, 0).hidden).toBe(7);
    expect(metric(data, 0).live).toBe(10);
    expect(data.status.charted).toBe(3);
    expect(data.status.hidden).toBe(7);

    // Forget every series (as idleTimeout would), then record a new one.
    const { table } = storedFamilies(telemeter)[0];
    table.expire(1);
    table.expire(1);
    execute(event('queue'), { depth: 42 }, { queue: 'new' });
    for (let t = 1; t <= 4; t++) history.sample(t * 1000);
    data = history.data();
    const charted = metric(data, 0).series;
    expect(charted.map((s: { tags: string[] }) => s.tags[0])).toEqual(['new']);
    expect(charted[0].values.filter((v: number | null) => v !== null)).toEqual([42]);
  });

  it('answers only the samples after `since`, and everything when `since` is older than the history', () => {
    const { telemeter, event } = setup((e) => [lastValue(e('queue.depth'))]);
    const history = new DashboardHistory(telemeter, { points: 5 });
    for (let t = 0; t < 8; t++) {
      execute(event('queue'), { depth: t });
      history.sample(t * 1000);
    }
    const later = history.data(5000);
    expect(later.full).toBe(false);
    expect(later.times).toEqual([6000, 7000]);
    expect(metric(later, 0).series[0].values).toEqual([6, 7]);
    expect(history.data(7000).times).toEqual([]);
    const stale = history.data(1000);
    expect(stale.full).toBe(true);
    expect(stale.times).toEqual([3000, 4000, 5000, 6000, 7000]);
  });

  it('samples the gauges that instrumentation reports on read (collectors) as a scrape would', () => {
    const { telemeter, event } = setup((e) => [
      lastValue(e('requests.inflight'), { eventName: e('inflight'), measurement: 'count' }),
    ]);
    let inFlight = 3;
    const unregister = addCollector(() => execute(event('inflight'), { count: inFlight }));
    cleanups.push(unregister);
    const history = new DashboardHistory(telemeter, { points: 5 });
    history.sample(1000);
    inFlight = 5;
    history.sample(2000);
    expect(metric(history.data(undefined), 0).series[0].values).toEqual([3, 5]);
  });

  it('filters by tag values, and leaves metrics without the tag alone', () => {
    const { telemeter, event } = setup((e) => [
      lastValue(e('queue.depth'), { tags: ['queue', 'region'] }),
      lastValue(e('memory.total')),
    ]);
    const history = new DashboardHistory(telemeter);
    execute(event('queue'), { depth: 1 }, { queue: 'mail', region: 'eu' });
    execute(event('queue'), { depth: 2 }, { queue: 'sms', region: 'eu' });
    execute(event('queue'), { depth: 3 }, { queue: 'sms', region: 'us' });
    execute(event('memory'), { total: 5 });
    history.sample(0);
    const data = history.data(undefined, new Map([['queue', 'sms']]));
    expect(metric(data, 0).series.map((s: { values: number[] }) => s.values[0])).toEqual([2, 3]);
    expect(metric(data, 1).series[0].values).toEqual([5]);
    expect(data.tags).toEqual({ queue: ['mail', 'sms'], region: ['eu', 'us'] });
    const both = history.data(
      undefined,
      new Map([
        ['queue', 'sms'],
        ['region', 'us'],
      ]),
    );
    expect(metric(both, 0).series.map((s: { values: number[] }) => s.values[0])).toEqual([3]);
  });

  it('reports scrapes, dropped events and series counts for the status strip', () => {
    const { telemeter, event } = setup((e) => [lastValue(e('queue.depth'), { tags: ['queue'] })], true);
    const history = new DashboardHistory(telemeter);
    execute(event('queue'), { depth: 1 }, { queue: 'a' });
    execute(event('queue'), { depth: 2 }, { queue: 'b' });
    execute(event('queue'), { depth: 'x' }, { queue: 'a' });
    execute(event('queue'), { depth: 3 });
    execute('telemeter.scrape.stop', { duration: 1000 }, { status: 200 });
    execute('telemeter.scrape.stop', { duration: 1000 }, { status: 200 });
    execute('telemeter.scrape.stop', { duration: 1000 }, { status: 503 });
    history.sample(0);
    const { status } = history.data();
    expect(status.dropped).toBe(2);
    expect(status.scrapes).toBe(3);
    // queue a, queue b; scrapes_total by 200 and 503; one scrape-duration series.
    expect(status.series).toBe(5);
    expect(status.uptime).toBeGreaterThan(0);
    expect(history.meta().metrics.map((m) => [m.name, m.view, m.group])).toEqual([
      [
        telemeter.metricFamilies[0].definition!.name,
        'value',
        telemeter.metricFamilies[0].definition!.eventName.split('.')[0],
      ],
      ['telemeter.scrapes_total', 'rate', 'telemeter'],
      ['telemeter.scrape_duration_seconds', 'histogram', 'telemeter'],
    ]);
  });

  it("logs a failed sample once, through the Telemeter's own logger", async () => {
    const logged: Array<[Record<string, unknown>, string]> = [];
    const telemeter = new Telemeter({
      metrics: [lastValue('live.logged.depth')],
      selfMetrics: false,
      logger: { warn() {}, error: (fields, message) => logged.push([fields, message]) },
    });
    cleanups.push(() => telemeter.close());
    const history = new DashboardHistory(telemeter, { interval: 10 });
    cleanups.push(() => history.stop());
    history.start();
    const failure = new Error('sample failed');
    let attempts = 0;
    history.sample = () => {
      attempts++;
      throw failure;
    };
    // Bounded: three timer runs that failed, and one line for all of them.
    for (let i = 0; i < 500 && attempts < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(logged).toEqual([[{ err: failure }, 'telemeter/dashboard: sampling the history failed']]);
  });

  it('rejects invalid options by name', () => {
    const { telemeter } = setup((e) => [lastValue(e('queue.depth'))]);
    const invalid = (message: RegExp) =>
      expect.objectContaining({
        code: 'ERR_TELEMETER_INVALID_OPTION',
        message: expect.stringMatching(message),
      });
    expect(() => new DashboardHistory(telemeter, { points: 1 })).toThrow(
      invalid(/^telemeter\/dashboard: DashboardHistory: option points/),
    );
    expect(() => new DashboardHistory(telemeter, { interval: 0.5 })).toThrow(invalid(/option interval/));
    expect(() => new DashboardHistory(telemeter, { maxSeriesPerMetric: 0 })).toThrow(
      invalid(/option maxSeriesPerMetric/),
    );
    expect(() => new DashboardHistory({} as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_INVALID_ARGUMENT',
        message: expect.stringMatching(/the first argument must be a Telemeter/),
      }),
    );
  });
});
