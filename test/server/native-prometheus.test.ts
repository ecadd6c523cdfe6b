import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  counter,
  distribution,
  execute,
  type HistogramFamily,
  lastValue,
  type NativeHistogramData,
  summary,
  Telemeter,
} from '../../src/index.js';
import { upperBound } from '../../src/reporter/native-histogram.js';
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

/** Latencies with a long tail, a negative value and exact zeros: deterministic, no two runs differ. */
const LATENCIES = Array.from({ length: 500 }, (_, i) => 0.001 * 1.013 ** i);
const MIXED = [-5, -5, -0.5, 0, 0, 0, 1];

/**
 * The bucket Prometheus 2.42's histogram_quantile interpolates in for `q`, as [lower, upper]: it walks the
 * negative buckets from the most negative, then the zero bucket, then the positive ones, and stops at the first
 * whose running count reaches q·count.
 */
function quantileBucket(data: NativeHistogramData, q: number): [number, number] {
  const rank = q * data.count;
  const walk: [number, number, number][] = [];
  for (let b = data.negative.indices.length - 1; b >= 0; b--) {
    const i = data.negative.indices[b];
    walk.push([-upperBound(i, data.schema), -upperBound(i - 1, data.schema), data.negative.counts[b]]);
  }
  if (data.zeroCount > 0) walk.push([-data.zeroThreshold, data.zeroThreshold, data.zeroCount]);
  for (const [b, i] of data.positive.indices.entries())
    walk.push([upperBound(i - 1, data.schema), upperBound(i, data.schema), data.positive.counts[b]]);
  let cumulative = 0;
  for (const [lower, upper, count] of walk) {
    cumulative += count;
    if (cumulative >= rank) return [lower, upper];
  }
  throw new Error('rank beyond the count');
}

describe.skipIf(!hasPrometheus || !hasVictoriaMetrics)(
  'native histograms, scraped over protobuf by Prometheus 2.42 and as text by the others',
  () => {
    let telemeter: Telemeter;
    let native: PrometheusHandle;
    let plain: PrometheusHandle;
    let victoria: VictoriaMetricsHandle;
    let endpoint: NotingServer;

    beforeAll(async () => {
      telemeter = new Telemeter({
        metrics: [
          distribution('nhp.latency.seconds', {
            eventName: 'nhp.request',
            measurement: 'duration',
            tags: ['route'],
            reporterOptions: { histogram: 'native' },
          }),
          distribution('nhp.both.seconds', {
            eventName: 'nhp.request',
            measurement: 'duration',
            tags: ['route'],
            reporterOptions: { histogram: 'both', buckets: [0.01, 0.1, 1], nativeHistogram: { schema: 5 } },
          }),
          // Zero threshold 0, and its first series (by label) empty: written after one Prometheus reads as native.
          distribution('nhp.exact.seconds', {
            eventName: 'nhp.exact',
            measurement: 'duration',
            tags: ['route'],
            reporterOptions: { histogram: 'native', nativeHistogram: { zeroThreshold: 0 } },
          }),
          distribution('nhp.classic.seconds', {
            eventName: 'nhp.request',
            measurement: 'duration',
            tags: ['route'],
            reporterOptions: { buckets: [0.01, 0.1, 1] },
          }),
          counter('nhp.requests.count', {
            eventName: 'nhp.request',
            measurement: 'duration',
            tags: ['route'],
          }),
          lastValue('nhp.last.seconds', {
            eventName: 'nhp.request',
            measurement: 'duration',
            tags: ['route'],
          }),
          summary('nhp.window.seconds', {
            eventName: 'nhp.request',
            measurement: 'duration',
            reporterOptions: { quantiles: [0.5], maxAgeSeconds: 3600 },
          }),
        ],
        selfMetrics: false,
      });
      for (const duration of LATENCIES) execute('nhp.request', { duration }, { route: '/slow' });
      for (const duration of MIXED) execute('nhp.request', { duration }, { route: '/mixed' });
      telemeter.bind('nhp.exact.seconds', { route: '/a-empty' });
      for (const duration of [0, 0.25, 0.25, 4]) execute('nhp.exact', { duration }, { route: '/b' });

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
      for (let i = 0; i < 40 && !['native', 'plain', 'vm'].every((s) => count(s) >= 2); i++) await sleep(250);
    }, 90_000);

    const count = (scraper: string) => endpoint.count(scraper);

    afterAll(async () => {
      await native?.stop();
      await plain?.stop();
      await victoria?.stop();
      await endpoint?.close();
      telemeter?.close();
    });

    const family = (name: string): HistogramFamily => {
      const found = telemeter.metricFamilies.find((f) => f.name === name);
      if (found?.kind !== 'histogram') throw new Error(`no histogram ${name}`);
      return found;
    };
    const seriesOf = (f: HistogramFamily, route: string): number => {
      for (let s = 0; s < f.seriesIdLimit; s++) if (f.holds(s) && f.labelValues(s)[0] === route) return s;
      throw new Error(`no series ${route}`);
    };

    it('protobuf for the flagged Prometheus, text for the others, and no scrape error', async () => {
      expect(new Set(endpoint.seen.filter((s) => s.scraper === 'native').map((s) => s.contentType))).toEqual(
        new Set([
          'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited',
        ]),
      );
      expect(endpoint.seen.find((s) => s.scraper === 'plain')?.contentType).toMatch(
        /^application\/openmetrics-text/,
      );
      expect(endpoint.seen.find((s) => s.scraper === 'vm')?.contentType).toMatch(
        /^text\/plain; version=0\.0\.4/,
      );
      for (const prometheus of [native, plain]) {
        const [target] = await prometheus.targets();
        expect(target.health).toBe('up');
        expect(target.lastError).toBe('');
      }
    });

    it('histogram_count, histogram_sum and histogram_quantile agree with what was recorded', async () => {
      for (const name of ['nhp_latency_seconds', 'nhp_both_seconds']) {
        const f = family(name);
        for (const route of ['/slow', '/mixed']) {
          const s = seriesOf(f, route);
          const data = f.nativeHistogram(s)!;
          const selector = `${name}{job="native",route="${route}"}`;
          expect(await native.queryValue(`histogram_count(${selector})`)).toBe(f.count(s));
          expect(await native.queryValue(`histogram_sum(${selector})`)).toBe(f.sum(s));
          for (const q of [0.5, 0.99]) {
            const [lower, upper] = quantileBucket(data, q);
            const quantile = (await native.queryValue(`histogram_quantile(${q}, ${selector})`))!;
            expect(quantile, `${name} ${route} q${q}`).toBeGreaterThanOrEqual(lower);
            expect(quantile, `${name} ${route} q${q}`).toBeLessThanOrEqual(upper);
          }
        }
      }
      // Within the schema's relative error of the recorded values' own quantile (nearest rank).
      const f = family('nhp_latency_seconds');
      const truth = LATENCIES[Math.ceil(0.99 * LATENCIES.length) - 1];
      const q99 = (await native.queryValue(
        'histogram_quantile(0.99, nhp_latency_seconds{job="native",route="/slow"})',
      ))!;
      const base = 2 ** (2 ** -f.nativeHistogram(seriesOf(f, '/slow'))!.schema);
      expect(q99 / truth).toBeGreaterThan(1 / base);
      expect(q99 / truth).toBeLessThan(base);
      // /mixed: half of its 7 values are at or below zero; the median is in the zero bucket.
      const median = (await native.queryValue(
        'histogram_quantile(0.5, nhp_latency_seconds{job="native",route="/mixed"})',
      ))!;
      expect(Math.abs(median)).toBeLessThanOrEqual(2 ** -128);
    });

    it('reads a family as native when its first series is empty with a zero threshold of 0', async () => {
      const selector = 'nhp_exact_seconds{job="native",route="/b"}';
      expect(await native.queryValue(`histogram_count(${selector})`)).toBe(4);
      expect(await native.queryValue(`histogram_sum(${selector})`)).toBe(4.5);
      expect(
        await native.queryValue('histogram_count(nhp_exact_seconds{job="native",route="/a-empty"})'),
      ).toBe(0);
      // Ingested as native only: no classic series for it.
      expect(await native.query('{job="native",__name__=~"nhp_exact_seconds_.*"}')).toEqual([]);
    });

    it("stores 'both' as native only over protobuf, and classic histograms, counters, gauges and summaries exactly", async () => {
      expect(await native.query('{job="native",__name__=~"nhp_both_seconds_.*"}')).toEqual([]);
      const exact = async (prometheus: PrometheusHandle, job: string) => {
        const samples: Record<string, number> = {};
        const result: { metric: Record<string, string>; value: [number, string] }[] = await prometheus.query(
          `{job="${job}",__name__=~"nhp_(classic|requests|last|window)_.*"}`,
        );
        for (const { metric, value } of result)
          samples[`${metric.__name__}{${metric.route ?? ''}${metric.le ?? ''}${metric.quantile ?? ''}}`] =
            promNumber(value[1]);
        return samples;
      };
      const slow = seriesOf(family('nhp_classic_seconds'), '/slow');
      const classic = family('nhp_classic_seconds');
      const fromProtobuf = await exact(native, 'native');
      expect(fromProtobuf['nhp_classic_seconds_count{/slow}']).toBe(classic.count(slow));
      expect(fromProtobuf['nhp_classic_seconds_sum{/slow}']).toBe(classic.sum(slow));
      expect(fromProtobuf['nhp_classic_seconds_bucket{/slow0.1}']).toBe(
        classic.bucketCount(slow, 0) + classic.bucketCount(slow, 1),
      );
      expect(fromProtobuf['nhp_requests_count_total{/mixed}']).toBe(MIXED.length);
      expect(fromProtobuf['nhp_last_seconds{/mixed}']).toBe(1);
      expect(fromProtobuf['nhp_window_seconds_count{}']).toBe(LATENCIES.length + MIXED.length);
      // The flagless Prometheus reads the very same values from OpenMetrics text.
      const fromText = await exact(plain, 'plain');
      // (OpenMetrics leaves out the _sum and _count of a histogram that has seen negative values, as /mixed has.)
      const omitted = ['nhp_classic_seconds_sum{/mixed}', 'nhp_classic_seconds_count{/mixed}'];
      expect(Object.keys(fromText).sort()).toEqual(
        Object.keys(fromProtobuf)
          .filter((key) => !omitted.includes(key))
          .sort(),
      );
      for (const [key, value] of Object.entries(fromText)) expect(value, key).toBe(fromProtobuf[key]);
    });

    it('the flagless Prometheus and VictoriaMetrics get the count and the sum of each native distribution', async () => {
      const f = family('nhp_latency_seconds');
      const s = seriesOf(f, '/slow');
      expect(await plain.queryValue('nhp_latency_seconds_count{route="/slow"}')).toBe(f.count(s));
      expect(await plain.queryValue('nhp_latency_seconds_sum{route="/slow"}')).toBe(f.sum(s));
      expect(await plain.queryValue('nhp_latency_seconds_bucket{route="/slow",le="+Inf"}')).toBe(f.count(s));
      const vmQuery = async (query: string): Promise<number | undefined> => {
        for (let attempt = 0; attempt < 60; attempt++) {
          const response = await fetch(`${victoria.url}/api/v1/query?query=${encodeURIComponent(query)}`);
          const json = (await response.json()) as { data: { result: { value: [number, string] }[] } };
          if (json.data.result.length > 0) return promNumber(json.data.result[0].value[1]);
          await sleep(250);
        }
        return undefined;
      };
      expect(await vmQuery('nhp_latency_seconds_count{route="/slow"}')).toBe(f.count(s));
      // VictoriaMetrics keeps 12 significant digits.
      expect(await vmQuery('nhp_latency_seconds_sum{route="/slow"}')).toBeCloseTo(f.sum(s), 9);
    });
  },
);
