import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Telemeter } from '../../src/index.js';
import { edgeValuesFixture, everyTypeFixture, HOSTILE_TAG_VALUES } from '../exposition/fixture.js';
import { type FixtureServer, serveExposition } from '../support/fixture-server.js';
import { parseOpenMetricsStrict } from '../support/openmetrics-parser.js';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { checkMetrics } from '../support/promtool.js';
import { requirePrometheus, requirePromtool, requirePythonPrometheusClient } from '../support/tools.js';

const hasPromtool = requirePromtool();
const hasPython = requirePythonPrometheusClient();
const hasPrometheus = requirePrometheus();

// User metric names in the fixture start with "c_": promtool's naming lint may only ever point at those.
const USER_PREFIX = 'c_';

describe('outside judges accept every metric type, hostile tag values included', () => {
  let telemeter: Telemeter;
  beforeAll(() => {
    telemeter = everyTypeFixture('c', { selfMetrics: true });
  });
  afterAll(() => telemeter.close());

  it.skipIf(!hasPromtool)(
    'promtool check metrics: no parse error, lint only on user-chosen names',
    async () => {
      const result = await checkMetrics(telemeter.scrape());
      expect(result.code, result.stderr).not.toBe(1);
      expect(result.lint.length).toBeGreaterThan(0);
      for (const line of result.lint) expect(line.startsWith(USER_PREFIX), line).toBe(true);
    },
  );

  it.skipIf(!hasPromtool)("promtool finds no problem at all in telemeter's own metrics", async () => {
    const result = await checkMetrics(telemeter.scrape());
    expect(result.lint.filter((l) => l.startsWith('telemeter_'))).toEqual([]);
  });

  it.skipIf(!hasPython)(
    'the strict OpenMetrics parser accepts the output and reads back the recorded values',
    async () => {
      const result = await parseOpenMetricsStrict(telemeter.scrape({ format: 'openmetrics' }));
      expect(result.ok, result.error).toBe(true);
      const families = new Map(result.families!.map((f) => [f.name, f]));
      const requests = families.get('c_http_request_count')!;
      expect(requests.type).toBe('counter');
      const routes = requests.samples.map((s) => s.labels.route);
      for (const hostile of HOSTILE_TAG_VALUES) expect(routes).toContain(hostile);
      expect(families.get('c_http_request_stop_duration_seconds')!.unit).toBe('seconds');
      expect(families.get('c_db_query_stop_duration')!.type).toBe('summary');
      const order = families.get('c_shop_order_amount')!.samples.find((s) => s.labels.currency === 'EUR')!;
      expect(order.name).toBe('c_shop_order_amount_total');
      expect(order.value).toBe(19.99 + 0.01);
      expect(families.get('c_shop_stock_delta')!.samples[0].value).toBe(-7);
    },
  );
});

/** Samples that two lines of one body give the same series: the same name and labels once decoded. */
function duplicateSeries(samples: ReadonlyArray<{ name: string; labels: Record<string, string> }>): string[] {
  const seen = new Set<string>();
  const duplicates: string[] = [];
  for (const sample of samples) {
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) duplicates.push(key);
    seen.add(key);
  }
  return duplicates;
}

describe('outside judges accept negative observations and tag values that collide once encoded', () => {
  let telemeter: Telemeter;
  beforeAll(() => {
    telemeter = edgeValuesFixture('e');
  });
  afterAll(() => telemeter.close());

  it.skipIf(!hasPython)('the strict OpenMetrics parser accepts it, with one line per series', async () => {
    const result = await parseOpenMetricsStrict(telemeter.scrape({ format: 'openmetrics' }));
    expect(result.ok, result.error).toBe(true);
    const samples = result.families!.flatMap((f) => f.samples);
    expect(duplicateSeries(samples)).toEqual([]);
    const value = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
    // A negative sum and its count are left out; the +Inf bucket still counts every observation.
    expect(value('e_temperature_change_bucket', { sensor: 'mixed', le: '+Inf' })).toBe(3);
    expect(value('e_temperature_change_sum', { sensor: 'mixed' })).toBeUndefined();
    expect(value('e_temperature_change_count', { sensor: 'mixed' })).toBeUndefined();
    expect(value('e_temperature_change_sum', { sensor: 'warm' })).toBe(2);
    expect(value('e_temperature_change_count', { sensor: 'warm' })).toBe(1);
    expect(value('e_balance_delta_bucket', { le: '+Inf' })).toBe(4);
    // Negative quantiles are left out, the others stay; the count stays.
    expect(value('e_clock_skew', { sensor: 'mixed', quantile: '0.99' })).toBeGreaterThan(1.9);
    expect(value('e_clock_skew', { sensor: 'mixed', quantile: '0.5' })).toBeUndefined();
    expect(value('e_clock_skew_count', { sensor: 'mixed' })).toBe(3);
    // Lone surrogates are U+FFFD on the wire, so they are one series with the real U+FFFD.
    expect(value('e_label_seen_total', { value: '\uFFFD' })).toBe(3);
    expect(value('e_label_seen_total', { value: 'a\uFFFD' })).toBe(2);
    expect(value('e_label_seen_total', { value: '__overflow__' })).toBe(1);
    // With maxSeries 1, the real "__overflow__" and the folded tag sets are one series.
    expect(value('e_capped_seen_total', { value: '__overflow__' })).toBe(3);
  });

  it.skipIf(!hasPromtool)('promtool parses the text format, which keeps every negative value', async () => {
    const body = telemeter.scrape();
    const result = await checkMetrics(body);
    expect(result.code, result.stderr).not.toBe(1);
    expect(body).toContain('e_temperature_change_sum{sensor="mixed"} -1.5');
    expect(body).toContain('e_clock_skew{sensor="mixed",quantile="0.1"} -');
  });
});

describe.skipIf(!hasPrometheus)('a real Prometheus scrapes scrape() output in both formats', () => {
  let telemeter: Telemeter;
  let edge: Telemeter;
  let fixture: FixtureServer;
  let edgeFixture: FixtureServer;
  let prometheus: PrometheusHandle;

  beforeAll(async () => {
    telemeter = everyTypeFixture('p', { selfMetrics: true });
    edge = edgeValuesFixture('q');
    fixture = await serveExposition((format) => telemeter.scrape({ format }));
    edgeFixture = await serveExposition((format) => edge.scrape({ format }));
    prometheus = await startPrometheus([
      { jobName: 'openmetrics', targets: [fixture.target], metricsPath: '/metrics' },
      { jobName: 'text', targets: [fixture.target], metricsPath: '/metrics-text' },
      { jobName: 'edge-openmetrics', targets: [edgeFixture.target], metricsPath: '/metrics' },
      { jobName: 'edge-text', targets: [edgeFixture.target], metricsPath: '/metrics-text' },
    ]);
    await prometheus.waitForTargets();
    // Let a second scrape land so rate-free queries see settled data.
    await new Promise((r) => setTimeout(r, 1500));
  });
  afterAll(async () => {
    await prometheus?.stop();
    await fixture?.close();
    await edgeFixture?.close();
    telemeter?.close();
    edge?.close();
  });

  it('reports both targets up with no lastError, and negotiated OpenMetrics on /metrics', async () => {
    const targets = await prometheus.targets();
    expect(targets.map((t) => [t.labels.job, t.health, t.lastError]).sort()).toEqual([
      ['edge-openmetrics', 'up', ''],
      ['edge-text', 'up', ''],
      ['openmetrics', 'up', ''],
      ['text', 'up', ''],
    ]);
    const omRequest = fixture.requests.find((r) => r.url.startsWith('/metrics') && r.url === '/metrics');
    expect(omRequest?.headers.accept).toContain('application/openmetrics-text');
  });

  it.each([
    ['openmetrics', 100],
    ['text', 100],
    ['edge-openmetrics', 20],
    ['edge-text', 20],
  ])('stores every scraped sample of the %s job (no duplicates)', async (job, least) => {
    const scraped = await prometheus.queryValue(`scrape_samples_scraped{job="${job}"}`);
    const stored = await prometheus.queryValue(`count({job="${job}",__name__!~"up|scrape_.+"})`);
    expect(scraped).toBeGreaterThan(least);
    expect(stored).toBe(scraped);
  });

  it('answers PromQL with the exact recorded values', async () => {
    expect(
      await prometheus.queryValue('p_http_request_count_total{job="openmetrics",route="plain",status="500"}'),
    ).toBe(1);
    expect(
      await prometheus.queryValue('p_http_request_count_total{job="text",route="plain",status="500"}'),
    ).toBe(1);
    expect(await prometheus.queryValue('sum(p_shop_order_amount_total{job="text"})')).toBe(25);
    expect(await prometheus.queryValue('sum(p_shop_order_amount_total{job="openmetrics"})')).toBe(25);
    expect(await prometheus.queryValue('p_vm_memory_total{job="text"}')).toBe(52428.8);
    expect(
      await prometheus.queryValue(
        'p_http_request_stop_duration_bucket{job="openmetrics",route="plain",le="1e+06"}',
      ),
    ).toBe(2);
    const median = await prometheus.queryValue(
      'p_db_query_stop_duration{job="openmetrics",table="orders",quantile="0.5"}',
    );
    expect(Math.abs(median! - 50) / 50).toBeLessThanOrEqual(0.0101);
    const hostile = await prometheus.query(
      'p_http_request_count_total{job="openmetrics",route="new\\nline"}',
    );
    expect(hostile).toHaveLength(1);
    expect(hostile[0].metric.route).toBe('new\nline');
  });

  it('reads HELP, TYPE and UNIT metadata as written', async () => {
    const metadata = await prometheus.metadata('openmetrics');
    const seconds = metadata.find(
      (m: { metric: string }) => m.metric === 'p_http_request_stop_duration_seconds',
    );
    expect(seconds).toMatchObject({
      type: 'histogram',
      unit: 'seconds',
      help: 'Request duration in seconds.',
    });
    const counter = metadata.find((m: { metric: string }) => m.metric === 'p_http_request_count');
    expect(counter.help).toBe('HTTP requests "served", with a \\ backslash\nand a newline.');
  });

  it('logs no ingestion warnings', () => {
    expect(prometheus.logs()).not.toMatch(/level=(warn|error).*(ingest|sample)/i);
  });
});
