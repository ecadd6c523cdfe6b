/**
 * One name per series, whatever the format: a counter not named `*_total` (the demo's `shop.order.amount`) must
 * reach every scraper as `<name>_total`, so a dashboard or rule written once finds it behind Prometheus (which
 * negotiates OpenMetrics) and behind VictoriaMetrics or Fly.io (which take text 0.0.4).
 *
 * Judged by outside tools: promtool and the Python text parser read the 0.0.4 body, the strict OpenMetrics parser
 * the other, and a real Prometheus scrapes `serveMetrics` once negotiated and once with `?format=text`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allExpressions, grafanaDashboard, interpolateGrafana } from '../../src/dashboard/index.js';
import { attach, detach, execute, type Metadata, setLogger, Telemeter } from '../../src/index.js';
import { type MetricsServer, serveMetrics } from '../../src/server/index.js';
import { everyTypeFixture } from '../exposition/fixture.js';
import { exercise, metrics as fixtureMetrics } from '../fixtures/telemetry.js';
import {
  type ParsedFamily,
  parseOpenMetricsStrict,
  parsePrometheusText,
} from '../support/openmetrics-parser.js';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { checkMetrics } from '../support/promtool.js';
import { requirePrometheus, requirePromtool, requirePythonPrometheusClient } from '../support/tools.js';

const hasPromtool = requirePromtool();
const hasPython = requirePythonPrometheusClient();
const hasPrometheus = requirePrometheus();

/** Each sample name a parser read, with the type of the family it was read in. */
function sampleTypes(families: readonly ParsedFamily[]): Map<string, string> {
  const types = new Map<string, string>();
  for (const family of families) for (const s of family.samples) types.set(s.name, family.type);
  return types;
}

async function bothFormats(
  telemeter: Telemeter,
): Promise<{ text: Map<string, string>; om: Map<string, string> }> {
  const body = telemeter.scrape();
  const lint = await checkMetrics(body);
  expect(lint.code, lint.error).not.toBe(1);
  const text = await parsePrometheusText(body);
  expect(text.ok, text.error).toBe(true);
  const om = await parseOpenMetricsStrict(telemeter.scrape({ format: 'openmetrics' }));
  expect(om.ok, om.error).toBe(true);
  return { text: sampleTypes(text.families!), om: sampleTypes(om.families!) };
}

describe.skipIf(!(hasPromtool && hasPython))('the same series names in text 0.0.4 and OpenMetrics', () => {
  it('every metric type, hostile tag values included', async () => {
    const telemeter = everyTypeFixture('n', { selfMetrics: true });
    try {
      const { text, om } = await bothFormats(telemeter);
      expect(text.size).toBeGreaterThan(10);
      expect(text).toEqual(om);
      // The sum and the counter named without _total carry it in both; the one named with it keeps one.
      for (const name of [
        'n_shop_order_amount_total',
        'n_http_request_count_total',
        'n_shop_payload_bytes_total',
      ])
        expect(text.get(name), name).toBe('counter');
      for (const name of ['n_shop_order_amount', 'n_http_request_count', 'n_shop_payload_bytes_total_total'])
        expect(text.has(name), name).toBe(false);
      // A sum exported as a gauge keeps its name: _total would claim it is a counter.
      expect(text.get('n_shop_stock_delta')).toBe('gauge');
    } finally {
      telemeter.close();
    }
  });

  it('the dashboard fixture, whose panels query these names', async () => {
    setLogger({ warn: () => {}, error: () => {} });
    const telemeter = new Telemeter({ metrics: fixtureMetrics });
    try {
      exercise();
      execute('telemeter.scrape.stop', { duration: 1_000_000 }, { status: 200 });
      const { text, om } = await bothFormats(telemeter);
      expect(text).toEqual(om);
      for (const name of ['shop_order_amount_total', 'shop_orders_count_total', 'jobs_processed_total'])
        expect(text.get(name), name).toBe('counter');
    } finally {
      telemeter.close();
      setLogger(null);
    }
  });
});

describe.skipIf(!hasPrometheus)('a real Prometheus stores one name per counter from either format', () => {
  const JOBS = ['openmetrics', 'text'] as const;
  let telemeter: Telemeter;
  let server: MetricsServer;
  let prom: PrometheusHandle;
  const stops: Metadata[] = [];

  beforeAll(async () => {
    // The fixture overflows one metric on purpose; keep its warning out of the output.
    setLogger({ warn: () => {}, error: () => {} });
    telemeter = new Telemeter({ metrics: fixtureMetrics });
    exercise();
    attach('series-names-stops', 'telemeter.scrape.stop', (_name, _measurements, metadata) => {
      stops.push(metadata);
    });
    server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1' });
    const target = `127.0.0.1:${server.port}`;
    prom = await startPrometheus([
      { jobName: 'openmetrics', targets: [target] },
      { jobName: 'text', targets: [target], params: { format: ['text'] } },
    ]);
    await prom.waitForTargets();
    // rate() needs two samples in its window, from each job.
    for (const job of JOBS) {
      await prom.waitForQuery(`count_over_time(up{job="${job}"}[1m])`, (r) => Number(r[0]?.value?.[1]) >= 3);
    }
  });

  afterAll(async () => {
    await prom?.stop();
    await server?.close();
    try {
      detach('series-names-stops');
    } catch {}
    telemeter?.close();
    setLogger(null);
  });

  it('scraped one job in OpenMetrics and the other in text 0.0.4, both up', async () => {
    for (const t of await prom.targets())
      expect([t.labels.job, t.health, t.lastError]).toEqual([t.labels.job, 'up', '']);
    const formats = new Set(stops.filter((s) => s.status === 200).map((s) => s.format));
    expect([...formats].sort()).toEqual(['openmetrics', 'text']);
  });

  it('answers the demo-like sum and counter under their _total names in both jobs, and never under the bare ones', async () => {
    for (const job of JOBS) {
      expect(await prom.queryValue(`shop_order_amount_total{job="${job}",currency="EUR"}`), job).toBe(12.5);
      expect(await prom.queryValue(`shop_orders_count_total{job="${job}",currency="EUR"}`), job).toBe(1);
      expect(await prom.query(`{job="${job}",__name__=~"shop_order_amount|shop_orders_count"}`), job).toEqual(
        [],
      );
    }
  });

  it('stores the same metric names from both jobs', async () => {
    const names = async (job: string) =>
      ((await prom.query(`group by (__name__) ({job="${job}"})`)) as Array<{ metric: { __name__: string } }>)
        .map((r) => r.metric.__name__)
        .sort();
    const om = await names('openmetrics');
    expect(om).toContain('shop_order_amount_total');
    expect(await names('text')).toEqual(om);
  });

  it('returns data for every panel of the fixture dashboard from each job', async () => {
    const expressions = allExpressions(grafanaDashboard(fixtureMetrics));
    expect(expressions.length).toBeGreaterThan(10);
    for (const job of JOBS) {
      const empty: string[] = [];
      for (const { source, expr } of expressions) {
        const result = await prom.query(interpolateGrafana(expr, { job }));
        if (result.length === 0) empty.push(`${source}: ${expr}`);
      }
      expect(empty, job).toEqual([]);
    }
  });
});
