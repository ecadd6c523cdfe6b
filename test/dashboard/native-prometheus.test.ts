/**
 * The generated dashboard and rules where metrics keep native buckets, judged by real Prometheus 2.42 servers:
 * one with `--enable-feature=native-histograms` (it scrapes protobuf and stores a native or 'both' distribution as
 * one native series), one without (it scrapes text and stores the classic series). Every expression parses and
 * returns data from the native one; the quantile panels give a value inside the bucket that holds the quantile of
 * what was recorded; a 'both' distribution's queries answer from either server; the alert rules fire for a slow
 * target and stay silent for a fast one.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportedMetrics } from '../../src/dashboard/exported-metrics.js';
import {
  alertRules,
  allExpressions,
  grafanaDashboard,
  interpolateGrafana,
} from '../../src/dashboard/index.js';
import { observationRates } from '../../src/dashboard/promql.js';
import { distribution, type NativeHistogramData, setLogger, Telemeter } from '../../src/index.js';
import { NativeHistogramStore, upperBound } from '../../src/reporter/native-histogram.js';
import { type MetricsServer, serveMetrics } from '../../src/server/index.js';
import { judgeExpressions, rawQuery } from '../support/dashboard-queries.js';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { checkRules } from '../support/promtool.js';
import { requirePrometheus } from '../support/tools.js';

const hasPrometheus = requirePrometheus();

function metrics() {
  return [
    distribution('http_server_request_duration_seconds', {
      eventName: 'nd.request',
      measurement: 'duration',
      unit: 'second',
      tags: ['route'],
      reporterOptions: { histogram: 'native' },
    }),
    distribution('shop_checkout_duration_seconds', {
      eventName: 'nd.checkout',
      measurement: 'duration',
      unit: 'second',
      tags: ['route'],
      reporterOptions: { histogram: 'both', buckets: [0.01, 0.1, 1, 10] },
    }),
    distribution('nodejs_eventloop_delay_seconds', {
      eventName: 'nd.delay',
      measurement: 'delay',
      unit: 'second',
      reporterOptions: { histogram: 'native' },
    }),
  ];
}

/** Latencies with a tail; the slow target's are a hundred times longer. */
const FAST = Array.from({ length: 400 }, (_, i) => 0.002 * 1.01 ** i);
const SLOW = FAST.map((v) => v * 100);

function recordAll(t: Telemeter, latencies: readonly number[], delay: number): void {
  for (const [i, v] of latencies.entries()) {
    const route = i % 2 === 0 ? '/cart' : '/pay';
    t.bind('http_server_request_duration_seconds', { route }).record(v);
    t.bind('shop_checkout_duration_seconds', { route }).record(v);
    t.bind('nodejs_eventloop_delay_seconds').record(i % 50 === 0 ? delay : 0.001);
  }
}

/** What the default native options make of `values`. */
function nativeOf(values: readonly number[]): NativeHistogramData {
  const store = new NativeHistogramStore({});
  store.grow(1);
  for (const v of values) store.observe(0, v);
  return store.read(0);
}

/** The positive bucket `[lower, upper]` in which Prometheus 2.42 interpolates the q-quantile (no negatives here). */
function quantileBucket(data: NativeHistogramData, q: number): [number, number] {
  const rank = q * data.count;
  let cumulative = data.zeroCount;
  for (const [b, i] of data.positive.indices.entries()) {
    cumulative += data.positive.counts[b];
    if (cumulative >= rank) return [upperBound(i - 1, data.schema), upperBound(i, data.schema)];
  }
  throw new Error('rank beyond the count');
}

describe.skipIf(!hasPrometheus)(
  'dashboards and rules over native histograms, judged by Prometheus 2.42',
  () => {
    const definitions = metrics();
    const dashboard = grafanaDashboard(definitions);
    const rules = alertRules(definitions);
    let slow: Telemeter;
    let fast: Telemeter;
    const servers: MetricsServer[] = [];
    let native: PrometheusHandle;
    let plain: PrometheusHandle;
    let dir: string;

    beforeAll(async () => {
      setLogger({ warn: () => {}, error: () => {} });
      slow = new Telemeter({ metrics: definitions });
      fast = new Telemeter({ metrics: definitions });
      // A first observation, so every series exists (and is native) from the first scrape on.
      recordAll(slow, [0.5], 0.001);
      recordAll(fast, [0.005], 0.001);
      for (const t of [slow, fast]) servers.push(await serveMetrics(t, { port: 0, host: '127.0.0.1' }));
      const [slowTarget, fastTarget] = servers.map((s) => `127.0.0.1:${s.port}`);
      dir = await mkdtemp(join(tmpdir(), 'telemeter-native-rules-'));
      const rulesFile = join(dir, 'rules.yml');
      await writeFile(rulesFile, rules);
      [native, plain] = await Promise.all([
        startPrometheus(
          [
            { jobName: 'slow', targets: [slowTarget] },
            { jobName: 'fast', targets: [fastTarget] },
          ],
          { extraArgs: ['--enable-feature=native-histograms'], ruleFiles: [rulesFile] },
        ),
        startPrometheus([{ jobName: 'slow', targets: [slowTarget] }]),
      ]);
      await Promise.all([native.waitForTargets(), plain.waitForTargets()]);
      const since = Date.now();
      recordAll(slow, SLOW, 2);
      recordAll(fast, FAST, 0.001);
      await Promise.all([native.waitForScrapesAfter(since), plain.waitForScrapesAfter(since)]);
    }, 90_000);

    afterAll(async () => {
      await Promise.all([native?.stop(), plain?.stop()]);
      for (const s of servers) await s.close();
      slow?.close();
      fast?.close();
      setLogger(null);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('stores the native distributions as native series (protobuf was negotiated)', async () => {
      const [sample] = await native.query('http_server_request_duration_seconds{job="slow",route="/cart"}');
      expect(sample.histogram).toBeDefined();
      // Only the native series: Prometheus 2.42 drops the classic buckets of a 'both' histogram it reads natively.
      expect(await native.query('shop_checkout_duration_seconds_bucket')).toEqual([]);
      expect((await plain.query('shop_checkout_duration_seconds_bucket{job="slow"}')).length).toBeGreaterThan(
        0,
      );
    });

    it('every expression of the dashboard and the rules parses and returns data', async () => {
      const expressions = allExpressions(dashboard, rules);
      const histogramQueries = expressions.filter((e) => e.expr.includes('histogram_'));
      expect(histogramQueries.length).toBeGreaterThanOrEqual(8);
      expect(histogramQueries.some((e) => e.expr.includes('_bucket'))).toBe(true);
      // telemeter's own counters of rare events have no series here, and a protobuf scrape leaves a family
      // without series out (so no metadata excuses them): the text tests judge those.
      const rare = /telemeter_(dropped_events|series_overflow|scrapes)_total/;
      const { problems, withData } = await judgeExpressions(
        native,
        'slow',
        expressions.filter((e) => !rare.test(e.expr)),
      );
      expect(problems).toEqual([]);
      expect(withData).toBeGreaterThanOrEqual(histogramQueries.length);
    });

    it('the quantile panels give a value inside the bucket of the recorded quantile', async () => {
      for (const family of ['http_server_request_duration_seconds', 'shop_checkout_duration_seconds']) {
        const expressions = allExpressions(dashboard).filter(
          (e) =>
            e.source.includes(`"${family} p50 / p90 / p99"`) && e.expr.startsWith('histogram_quantile(0.99'),
        );
        expect(expressions, family).toHaveLength(1);
        const query = interpolateGrafana(expressions[0].expr, { job: 'slow' });
        if (family.startsWith('http')) expect(query).not.toContain('_bucket');
        const result = await native.query(query);
        const cart = result.find((r: any) => r.metric.route === '/cart');
        const want = quantileBucket(nativeOf(SLOW.filter((_, i) => i % 2 === 0)), 0.99);
        const got = Number(cart.value[1]);
        expect(got, `${family}: ${query}`).toBeGreaterThanOrEqual(want[0]);
        expect(got).toBeLessThanOrEqual(want[1]);
      }
    });

    it("a 'both' distribution's queries answer from a Prometheus that stored only the classic buckets", async () => {
      const expressions = allExpressions(dashboard).filter((e) =>
        e.expr.includes('shop_checkout_duration_seconds'),
      );
      expect(expressions.length).toBeGreaterThanOrEqual(3);
      for (const { source, expr } of expressions) {
        const { status, body } = await rawQuery(plain, interpolateGrafana(expr, { job: 'slow' }));
        expect(status, source).toBe(200);
        expect(body.data.result.length, `${source}: ${expr}`).toBeGreaterThan(0);
      }
      // The observation count through the same helper the generators use, exact from both servers.
      const exported = exportedMetrics(definitions, false);
      const both = exported.find((m) => m.family === 'shop_checkout_duration_seconds')!;
      const nativeOnly = exported.find((m) => m.family === 'http_server_request_duration_seconds')!;
      expect(both.histogram).toBe('both');
      expect(nativeOnly.histogram).toBe('native');
      const want = 1 + SLOW.length / 2;
      for (const [prom, metric] of [
        [native, both],
        [plain, both],
        [native, nativeOnly],
      ] as const) {
        // No function and no range: the instant count, exact (2.42's *_over_time functions skip native samples).
        const count = observationRates(metric, ['job="slow"', 'route="/cart"'], '', '');
        expect(await prom.queryValue(`sum(${count})`), count).toBe(want);
      }
    });

    it('promtool checks the rules file that queries native series', async () => {
      expect(rules).toContain('histogram_fraction(0, 0.2, increase(nodejs_eventloop_delay_seconds[2m]))');
      const checked = await checkRules(rules, { lintFatal: true });
      expect(checked.ok, checked.stderr + checked.stdout).toBe(true);
    });

    // promtool 2.42 cannot take native histograms as input series (its `{{schema:…}}` notation came later), so
    // the alerts are judged by the Prometheus that scraped a slow and a fast target.
    it('the latency and stall alerts fire for the slow target and not for the fast one', async () => {
      const firing = async () => {
        const res = await fetch(`${native.url}/api/v1/alerts`, { signal: AbortSignal.timeout(5_000) });
        return (await res.json()).data.alerts as any[];
      };
      let alerts: any[] = [];
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        alerts = await firing();
        const names = new Set(alerts.map((a) => a.labels.alertname));
        if (names.has('HttpServerLatencyHigh') && names.has('NodeEventLoopStalled')) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const of = (name: string) => alerts.filter((a) => a.labels.alertname === name).map((a) => a.labels.job);
      expect(of('HttpServerLatencyHigh')).toEqual(['slow']);
      expect(of('NodeEventLoopStalled')).toEqual(['slow']);
      // Every rule evaluates without error over native series.
      const res = await fetch(`${native.url}/api/v1/rules`, { signal: AbortSignal.timeout(5_000) });
      for (const rule of (await res.json()).data.groups.flatMap((g: any) => g.rules))
        expect(rule.health, `${rule.name}: ${rule.lastError}`).toBe('ok');
    });
  },
);
