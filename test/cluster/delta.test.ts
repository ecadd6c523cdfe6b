import { afterEach, describe, expect, it } from 'vitest';
import { DeltaApplier, mergeTargetFor } from '../../src/cluster/delta-applier.js';
import { DeltaExporter } from '../../src/cluster/delta-exporter.js';
import type { GaugeAggregation, GaugeContributions } from '../../src/cluster/gauge-merge.js';
import { clusterTelemeter } from '../../src/cluster/index.js';
import type { FamilyDelta } from '../../src/cluster/protocol.js';
import {
  counter,
  distribution,
  execute,
  type Logger,
  setLogger,
  summary,
  Telemeter,
} from '../../src/index.js';
import type { StoredSummaryFamily } from '../../src/reporter/family.js';
import type { ScalarMerge } from '../../src/reporter/index.js';
import { storedFamilies } from '../../src/reporter/reporter.js';
import { clusterMetrics, expectedTotals, routeOf } from '../fixtures/cluster-metrics.js';
import { parseOpenMetricsStrict } from '../support/openmetrics-parser.js';
import { sample } from '../support/samples.js';

/**
 * Delta shipping without a transport: worker Telemeters, their exporters, a JSON round trip (what cluster
 * IPC does), and the primary's appliers, all in this process. Recording goes through `bind`, so that each
 * value lands in exactly one Telemeter (`execute` would reach all of them).
 */

const telemeters: Telemeter[] = [];
afterEach(() => {
  for (const t of telemeters.splice(0)) t.close();
  setLogger(null);
});

function worker(): Telemeter {
  const t = new Telemeter({ metrics: clusterMetrics() });
  telemeters.push(t);
  return t;
}

function record(t: Telemeter, from: number, to: number): void {
  for (let v = from; v <= to; v++) {
    const route = routeOf(v);
    for (const name of ['shop.request.count', 'shop.request.amount_total', 'shop.request.value']) {
      t.bind(name, { route }).record(v);
    }
    t.bind('shop.request.latency').record(v);
  }
}

/** A primary and a way to connect workers to it, as the aggregator does. */
function primary(gaugeAggregation: GaugeAggregation = 'worker', logger?: Logger) {
  const telemeter = clusterTelemeter({
    metrics: clusterMetrics(),
    gaugeAggregation,
    ...(logger === undefined ? {} : { logger }),
  });
  telemeters.push(telemeter);
  const appliers: Array<{ applier: DeltaApplier; live: boolean }> = [];
  const target = mergeTargetFor(telemeter, gaugeAggregation, function* (gauge: ScalarMerge) {
    for (const a of appliers) {
      const values: GaugeContributions | undefined = a.live ? a.applier.contributions(gauge) : undefined;
      if (values !== undefined) yield values;
    }
  });
  return {
    telemeter,
    connect(source: Telemeter, maxEntries?: number) {
      const exporter = new DeltaExporter(source);
      exporter.resume();
      const entry = { applier: undefined as unknown as DeltaApplier, live: true };
      entry.applier = new DeltaApplier(target, String(appliers.length), () => entry.live);
      appliers.push(entry);
      let messages = 0;
      return {
        exporter,
        /** Ships what changed; returns the messages sent. */
        flush(): FamilyDelta[][] {
          const chunks = JSON.parse(JSON.stringify(exporter.collect(maxEntries))) as FamilyDelta[][];
          for (const chunk of chunks) entry.applier.apply(chunk);
          messages += chunks.length;
          return chunks;
        },
        retire() {
          entry.live = false;
          appliers.splice(appliers.indexOf(entry), 1);
          for (const [family, s] of [...entry.applier.gaugeSeries()]) target.merger?.update(family, s);
        },
        get messages() {
          return messages;
        },
      };
    },
  };
}

describe('delta shipping', () => {
  it('merges counters, sums and histogram buckets exactly across workers and flushes', () => {
    const p = primary();
    const a = worker();
    const b = worker();
    const linkA = p.connect(a);
    const linkB = p.connect(b);
    record(a, 1, 300);
    record(b, 501, 1000);
    linkA.flush();
    linkB.flush();
    record(a, 301, 500); // second flush: only the difference travels
    linkA.flush();
    const body = p.telemeter.scrape();
    const want = expectedTotals([
      [1, 500],
      [501, 1000],
    ]);
    for (const route of ['/even', '/odd'] as const) {
      expect(sample(body, `shop_request_count_total{route="${route}"}`)).toBe(want.count[route]);
      expect(sample(body, `shop_request_amount_total{route="${route}"}`)).toBe(want.sum[route]);
      expect(sample(body, `shop_request_value_sum{route="${route}"}`)).toBe(want.sum[route]);
      expect(sample(body, `shop_request_value_count{route="${route}"}`)).toBe(want.count[route]);
      let cumulative = 0;
      want.bounds.forEach((bound, i) => {
        cumulative += want.buckets[route][i];
        expect(sample(body, `shop_request_value_bucket{route="${route}",le="${bound.toFixed(1)}"}`)).toBe(
          cumulative,
        );
      });
      expect(sample(body, `shop_request_value_bucket{route="${route}",le="+Inf"}`)).toBe(want.count[route]);
    }
    expect(sample(body, 'shop_request_latency_count')).toBe(1000);
    expect(sample(body, 'shop_request_latency_sum')).toBe(500_500);
  });

  it('sends nothing when nothing changed, and only changed series otherwise', () => {
    const p = primary();
    const a = worker();
    const link = p.connect(a);
    record(a, 1, 10);
    expect(link.flush()).toHaveLength(1);
    expect(link.flush()).toEqual([]);
    a.bind('shop.request.count', { route: '/odd' }).record();
    const [chunk] = link.flush();
    expect(chunk).toHaveLength(1);
    expect(chunk[0]).toMatchObject({
      name: 'shop_request_count_total',
      announce: [],
      data: [expect.any(Number), 1],
    });
  });

  it('merges summary sketches: the cluster p50 is the p50 of all observations, not a sum of p50s', () => {
    const p = primary();
    const a = worker();
    const b = worker();
    const linkA = p.connect(a);
    const linkB = p.connect(b);
    record(a, 1, 500);
    record(b, 501, 1000);
    linkA.flush();
    linkB.flush();
    const body = p.telemeter.scrape();
    const p50 = sample(body, 'shop_request_latency{quantile="0.5"}');
    expect(Math.abs(p50 - 500) / 500).toBeLessThanOrEqual(0.01);
    const p90 = sample(body, 'shop_request_latency{quantile="0.9"}');
    expect(Math.abs(p90 - 900) / 900).toBeLessThanOrEqual(0.01);
    // What adding per-worker p50s would give: 250 + 750.
    expect(p50).toBeLessThan(600);
  });

  it('ships the summary observations recorded before the exporter started', () => {
    const p = primary();
    const a = worker();
    record(a, 1, 100);
    const link = p.connect(a);
    link.flush();
    const body = p.telemeter.scrape();
    expect(Math.abs(sample(body, 'shop_request_latency{quantile="0.5"}') - 50) / 50).toBeLessThanOrEqual(
      0.01,
    );
  });

  it('puts merged observations in the current window slot, so they age out on the primary clock', () => {
    const p = primary();
    const family = storedFamilies(p.telemeter).find(
      (f) => f.name === 'shop_request_latency',
    ) as StoredSummaryFamily;
    const store = family.store;
    store.rotate(); // the current slot is now 1, not 0
    const a = worker();
    const link = p.connect(a);
    record(a, 1, 100);
    link.flush();
    const s = family.table.resolveValues([]);
    expect(store.currentSketch(s).count).toBe(100);
    for (let i = 1; i < store.ageBuckets; i++) {
      store.rotate();
      expect(store.window(s).count).toBe(100);
    }
    store.rotate();
    expect(store.window(s).count).toBe(0);
    expect(store.totals[s]).toBe(100);
  });

  it('splits a flush into messages of at most maxEntries series and applies them to the same totals', () => {
    const p = primary();
    const a = worker();
    const link = p.connect(a, 3);
    for (let i = 0; i < 20; i++) a.bind('shop.request.count', { route: `/r${i}` }).record();
    const chunks = link.flush();
    expect(chunks.length).toBe(7);
    for (const chunk of chunks) {
      const entries = chunk.reduce((n, d) => n + d.data.length / 2, 0);
      expect(entries).toBeLessThanOrEqual(3);
    }
    const body = p.telemeter.scrape();
    for (let i = 0; i < 20; i++) expect(sample(body, `shop_request_count_total{route="/r${i}"}`)).toBe(1);
  });

  it('keeps one gauge series per worker under gaugeAggregation worker, and the output parses', async () => {
    const p = primary('worker');
    const a = worker();
    const b = worker();
    const linkA = p.connect(a);
    const linkB = p.connect(b);
    a.bind('shop.queue.depth', { queue: 'mail' }).record(7);
    b.bind('shop.queue.depth', { queue: 'mail' }).record(9);
    p.telemeter.bind('shop.queue.depth', { queue: 'mail', worker: 'primary' }).record(1);
    record(a, 1, 10);
    linkA.flush();
    linkB.flush();
    const body = p.telemeter.scrape({ format: 'openmetrics' });
    expect(sample(body, 'shop_queue_depth{queue="mail",worker="0"}')).toBe(7);
    expect(sample(body, 'shop_queue_depth{queue="mail",worker="1"}')).toBe(9);
    expect(sample(body, 'shop_queue_depth{queue="mail",worker="primary"}')).toBe(1);
    const parsed = await parseOpenMetricsStrict(body);
    expect(parsed.error).toBeUndefined();
    expect(parsed.ok).toBe(true);
  });

  it.each([
    ['sum', 16, 9],
    ['max', 9, 9],
    ['min', 7, 9],
  ] as const)('combines gauges with %s over live workers', (mode, both, afterRetire) => {
    const p = primary(mode);
    const a = worker();
    const b = worker();
    const linkA = p.connect(a);
    const linkB = p.connect(b);
    a.bind('shop.queue.depth', { queue: 'mail' }).record(3);
    linkA.flush();
    a.bind('shop.queue.depth', { queue: 'mail' }).record(7); // replaces, not adds
    b.bind('shop.queue.depth', { queue: 'mail' }).record(9);
    linkA.flush();
    linkB.flush();
    expect(sample(p.telemeter.scrape(), 'shop_queue_depth{queue="mail"}')).toBe(both);
    linkA.retire();
    expect(sample(p.telemeter.scrape(), 'shop_queue_depth{queue="mail"}')).toBe(afterRetire);
  });

  it('keeps the latest received value under last', () => {
    const p = primary('last');
    const a = worker();
    const b = worker();
    const linkA = p.connect(a);
    const linkB = p.connect(b);
    b.bind('shop.queue.depth', { queue: 'mail' }).record(9);
    linkB.flush();
    a.bind('shop.queue.depth', { queue: 'mail' }).record(7);
    linkA.flush();
    expect(sample(p.telemeter.scrape(), 'shop_queue_depth{queue="mail"}')).toBe(7);
  });

  it('announces every series again, and resends last values, in a new session', () => {
    const p = primary();
    const a = worker();
    const link = p.connect(a);
    a.bind('shop.queue.depth', { queue: 'mail' }).record(7);
    a.bind('shop.request.count', { route: '/x' }).record();
    link.flush();
    link.exporter.forgetAnnouncements();
    const [chunk] = link.flush();
    expect(chunk.map((d) => d.name)).toEqual(['shop_queue_depth']);
    expect(chunk[0].announce).toEqual([[0, ['mail']]]);
  });

  it('never lets a reused series index (idleTimeout) carry counts to the series that expired', () => {
    const metrics = [
      counter('expiring.hits', {
        eventName: 'expiring.hit',
        measurement: 'n',
        tags: ['key'],
        reporterOptions: { idleTimeout: 60_000 },
      }),
    ];
    const source = new Telemeter({ metrics, selfMetrics: false });
    const merged = clusterTelemeter({ metrics, selfMetrics: false });
    telemeters.push(source, merged);
    merged.close(); // only the worker records events; the primary only merges
    const target = mergeTargetFor(merged, 'worker', () => []);
    const applier = new DeltaApplier(target, '0', () => true);
    const exporter = new DeltaExporter(source);
    exporter.resume();
    const flush = () => {
      for (const chunk of JSON.parse(JSON.stringify(exporter.collect()))) applier.apply(chunk);
    };
    const hit = (key: string, times: number) => {
      for (let i = 0; i < times; i++) execute('expiring.hit', { n: 1 }, { key });
    };
    const expireAll = (t: Telemeter) => {
      for (let i = 0; i < 3; i++) storedFamilies(t)[0].table.expire(2);
    };

    hit('a', 3);
    flush();
    expireAll(source); // "a" expires in the worker, and "b" takes its index
    hit('b', 5);
    flush();
    let body = merged.scrape();
    expect(sample(body, 'expiring_hits_total{key="a"}')).toBe(3);
    expect(sample(body, 'expiring_hits_total{key="b"}')).toBe(5);

    expireAll(merged); // both expire in the primary; "b" comes back from 0, as it would in one process
    hit('b', 1);
    flush();
    body = merged.scrape();
    expect(body).not.toContain('key="a"');
    expect(sample(body, 'expiring_hits_total{key="b"}')).toBe(1);
  });

  it('skips a family defined differently in the primary, with one warning to its logger, and applies the rest', () => {
    const warnings: string[] = [];
    const elsewhere: string[] = [];
    setLogger({ warn: (_f, m) => elsewhere.push(m), error: (_f, m) => elsewhere.push(m) });
    const p = primary('worker', { warn: (_f, m) => warnings.push(m), error: (_f, m) => warnings.push(m) });
    const other = new Telemeter({
      metrics: [
        ...clusterMetrics().filter((d) => d.name !== 'shop.request.value'),
        distribution('shop.request.value', {
          eventName: 'shop.request.stop',
          measurement: 'value',
          tags: ['route'],
          reporterOptions: { buckets: [1, 2] },
        }),
      ],
    });
    telemeters.push(other);
    const link = p.connect(other);
    record(other, 1, 4);
    link.flush();
    const body = p.telemeter.scrape();
    expect(body).not.toContain('shop_request_value_count{');
    expect(sample(body, 'shop_request_count_total{route="/odd"}')).toBe(2);
    expect(warnings.filter((w) => w.includes('shop_request_value'))).toHaveLength(1);
    // The primary Telemeter's own logger, not the process-wide one.
    expect(elsewhere).toEqual([]);
  });

  it('merges a summary whose relativeAccuracy gives the same schema, and skips one of another schema', () => {
    const warnings: string[] = [];
    const p = primary('worker', { warn: (_f, m) => warnings.push(m), error: (_f, m) => warnings.push(m) });
    const withAccuracy = (relativeAccuracy: number) =>
      new Telemeter({
        metrics: [
          ...clusterMetrics().filter((d) => d.name !== 'shop.request.latency'),
          summary('shop.request.latency', {
            eventName: 'shop.request.stop',
            measurement: 'value',
            reporterOptions: { quantiles: [0.5, 0.9, 0.99], relativeAccuracy },
          }),
        ],
      });
    // The primary has the default, schema 5 (1.08%); 0.02 asks for the same schema, 0.01 for schema 6.
    const same = withAccuracy(0.02);
    const finer = withAccuracy(0.01);
    telemeters.push(same, finer);
    const links = [p.connect(same), p.connect(finer)];
    record(same, 1, 100);
    record(finer, 1000, 2000);
    for (const link of links) link.flush();
    const body = p.telemeter.scrape();
    expect(sample(body, 'shop_request_latency_count')).toBe(100);
    const median = sample(body, 'shop_request_latency{quantile="0.5"}');
    expect(Math.abs(median - 50) / 50).toBeLessThanOrEqual(0.0109);
    expect(warnings.filter((w) => w.includes('shop_request_latency'))).toHaveLength(1);
    expect(warnings.join('\n')).toMatch(/defined differently in a worker and in the primary/);
  });
});
