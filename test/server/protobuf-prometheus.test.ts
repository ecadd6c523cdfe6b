import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCanonical } from '../../src/exposition/index.js';
import {
  counter,
  distribution,
  execute,
  lastValue,
  type MetricFamily,
  summary,
  Telemeter,
} from '../../src/index.js';
import { metricsHandler } from '../../src/server/index.js';
import { type PrometheusHandle, promNumber, startPrometheus } from '../support/prometheus-server.js';
import {
  type NotingServer,
  requireVictoriaMetrics,
  serveNotingScrapes,
  startVictoriaMetrics,
  type VictoriaMetricsHandle,
} from '../support/scrape-judges.js';
import { requirePrometheus } from '../support/tools.js';

const hasPrometheus = requirePrometheus();
const hasVictoriaMetrics = requireVictoriaMetrics();
const PROTOBUF_TYPE =
  'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

/** Every sample the read model implies, as Prometheus stores it: `name{labels}` (sorted, with job) → value. */
function expectedSamples(families: readonly MetricFamily[], job: string): Map<string, number> {
  const samples = new Map<string, number>();
  const add = (name: string, labels: [string, string][], value: number) => {
    const all = [...labels, ['job', job] as [string, string]].sort(([a], [b]) => (a < b ? -1 : 1));
    samples.set(`${name}{${all.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`, value);
  };
  for (const family of families) {
    for (let s = 0; s < family.seriesIdLimit; s++) {
      if (!family.holds(s)) continue;
      const labels: [string, string][] = [];
      family.forEachLabel(s, (name, value) => labels.push([name, value]));
      switch (family.kind) {
        case 'counter':
        case 'gauge':
          add(family.name, labels, family.value(s));
          break;
        case 'histogram': {
          let cumulative = 0;
          for (let b = 0; b < family.buckets; b++) {
            cumulative += family.bucketCount(s, b);
            const le = b < family.bounds.length ? formatCanonical(family.bounds[b]) : '+Inf';
            add(`${family.name}_bucket`, [...labels, ['le', le]], cumulative);
          }
          add(`${family.name}_sum`, labels, family.sum(s));
          add(`${family.name}_count`, labels, family.count(s));
          break;
        }
        case 'summary': {
          const window = family.window(s);
          for (const q of family.quantiles) {
            add(family.name, [...labels, ['quantile', formatCanonical(q)]], window.quantile(q));
          }
          add(`${family.name}_sum`, labels, family.sum(s));
          add(`${family.name}_count`, labels, family.count(s));
          break;
        }
      }
    }
  }
  return samples;
}

/** What a Prometheus stored for `job`, keyed as {@link expectedSamples} keys it (instance left out). */
async function storedSamples(prometheus: PrometheusHandle, job: string): Promise<Map<string, number>> {
  const result: { metric: Record<string, string>; value: [number, string] }[] = await prometheus.query(
    `{job="${job}", __name__!~"up|scrape_.*"}`,
  );
  const samples = new Map<string, number>();
  for (const { metric, value } of result) {
    const { __name__: name, instance: _instance, ...labels } = metric;
    const sorted = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1));
    samples.set(
      `${name}{${sorted.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`,
      promNumber(value[1]),
    );
  }
  return samples;
}

describe.skipIf(!hasPrometheus || !hasVictoriaMetrics)(
  'protobuf and text from one endpoint, to three scrapers',
  () => {
    let telemeter: Telemeter;
    let native: PrometheusHandle;
    let plain: PrometheusHandle;
    let victoria: VictoriaMetricsHandle;
    let endpoint: NotingServer;

    beforeAll(async () => {
      telemeter = new Telemeter({
        metrics: [
          counter('pbp.orders.count', { eventName: 'pbp.order', measurement: 'amount', tags: ['status'] }),
          lastValue('pbp.cart.value', { eventName: 'pbp.cart', measurement: 'value', tags: ['shop'] }),
          distribution('pbp.latency.seconds', {
            eventName: 'pbp.request',
            measurement: 'duration',
            tags: ['route'],
            reporterOptions: { buckets: [0.005, 0.1, 1, 2.5] },
          }),
          summary('pbp.query.seconds', {
            eventName: 'pbp.query',
            measurement: 'duration',
            tags: ['table'],
            reporterOptions: { quantiles: [0.5, 0.99], maxAgeSeconds: 3600 },
          }),
        ],
        globalTags: { service: 'shop' },
        selfMetrics: false,
      });
      for (let i = 0; i < 7; i++)
        execute('pbp.order', { amount: 1 }, { status: i % 3 === 0 ? 'failed' : 'paid' });
      execute('pbp.cart', { value: 1234.5 }, { shop: 'a "quoted" \\ shop' });
      execute('pbp.cart', { value: -0.125 }, { shop: 'ünïcödé 日本' });
      for (const [i, duration] of [0.001, 0.05, 0.2, 0.7, 3, 1e-9, 2.5].entries()) {
        execute('pbp.request', { duration }, { route: i % 2 === 0 ? '/cart' : '/items/:id' });
      }
      for (const duration of [0.003, 0.03, 0.3, 0.31, 0.9])
        execute('pbp.query', { duration }, { table: 'orders' });

      endpoint = await serveNotingScrapes(metricsHandler(telemeter));
      const target = endpoint.target;
      victoria = await startVictoriaMetrics(target);
      [native, plain] = await Promise.all([
        startPrometheus([{ jobName: 'native', targets: [target], params: { scraper: ['native'] } }], {
          extraArgs: ['--enable-feature=native-histograms'],
        }),
        startPrometheus([{ jobName: 'plain', targets: [target], params: { scraper: ['plain'] } }]),
      ]);
      await Promise.all([native.waitForTargets(), plain.waitForTargets()]);
      // Two scrapes each, so the stored samples are from a complete scrape, and VictoriaMetrics has scraped too.
      for (let i = 0; i < 40 && !(['native', 'plain', 'vm'] as const).every((s) => count(s) >= 2); i++)
        await sleep(250);
    }, 90_000);

    const count = (scraper: string) => endpoint.count(scraper);

    afterAll(async () => {
      await native?.stop();
      await plain?.stop();
      await victoria?.stop();
      await endpoint?.close();
      telemeter?.close();
    });

    it('answers each scraper in the format it asked for first', () => {
      const formats = (scraper: string) =>
        new Set(endpoint.seen.filter((s) => s.scraper === scraper).map((s) => s.contentType));
      expect(count('native')).toBeGreaterThanOrEqual(2);
      expect(count('plain')).toBeGreaterThanOrEqual(2);
      expect(count('vm')).toBeGreaterThanOrEqual(1);
      expect(formats('native')).toEqual(new Set([PROTOBUF_TYPE]));
      expect(formats('plain')).toEqual(
        new Set(['application/openmetrics-text; version=1.0.0; charset=utf-8']),
      );
      expect(formats('vm')).toEqual(new Set(['text/plain; version=0.0.4; charset=utf-8']));
      expect(endpoint.seen.find((s) => s.scraper === 'native')!.accept).toMatch(
        /^application\/vnd\.google\.protobuf/,
      );
    });

    it('both Prometheus are up, with no scrape error', async () => {
      for (const prometheus of [native, plain]) {
        const [target] = await prometheus.targets();
        expect(target.health).toBe('up');
        expect(target.lastError).toBe('');
      }
    });

    it('the protobuf scrape stores every sample with the exact value, as the text scrape does', async () => {
      const expectedNative = expectedSamples(telemeter.metricFamilies, 'native');
      const storedNative = await storedSamples(native, 'native');
      expect(storedNative.size).toBe(expectedNative.size);
      expect(Object.fromEntries(storedNative)).toEqual(Object.fromEntries(expectedNative));
      expect(Object.fromEntries(await storedSamples(plain, 'plain'))).toEqual(
        Object.fromEntries(expectedSamples(telemeter.metricFamilies, 'plain')),
      );
      // Names are the text formats': the counter is stored as pbp_orders_count_total over protobuf too.
      expect(await native.queryValue('sum(pbp_orders_count_total{job="native"})')).toBe(7);
    });
  },
);
