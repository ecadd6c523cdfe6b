/**
 * A real Prometheus judges the generated PromQL: every expression of the dashboard and the rules must parse
 * (a parse error is HTTP 400 `bad_data`), the rules must load and evaluate, and against a scraped fixture
 * every panel of the fixture's own dashboard must return series, which only happens when the query names
 * what Prometheus stored (e.g. `<family>_total` for counters, as OpenMetrics spells them).
 *
 * Then the demo, scraped in both exposition formats: every query of its dashboard and rules must return data
 * from a Prometheus that scraped text and from one that scraped OpenMetrics.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoMetrics } from '../../src/cli/demo/start.js';
import {
  alertRules,
  allExpressions,
  grafanaDashboard,
  interpolateGrafana,
} from '../../src/dashboard/index.js';
import { httpMetrics } from '../../src/http/index.js';
import { setLogger, Telemeter } from '../../src/index.js';
import { runtimeMetrics } from '../../src/runtime/index.js';
import { type MetricsServer, serveMetrics } from '../../src/server/index.js';
import { type DemoProcess, startDemoProcess } from '../e2e/demo-process.js';
import { sendTraffic, shopTraffic } from '../e2e/shop-traffic.js';
import { exercise, metrics as fixtureMetrics } from '../fixtures/telemetry.js';
import { judgeExpressions, rawQuery } from '../support/dashboard-queries.js';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { requirePrometheus } from '../support/tools.js';

const hasPrometheus = requirePrometheus();
const everything = [...fixtureMetrics, ...httpMetrics(), ...runtimeMetrics()];

describe.skipIf(!hasPrometheus)('generated PromQL against a real Prometheus', () => {
  let telemeter: Telemeter;
  let server: MetricsServer;
  let prom: PrometheusHandle;
  let dir: string;
  const rules = alertRules(everything);
  const warnings: string[] = [];

  beforeAll(async () => {
    // The fixture drops and overflows on purpose; keep its warnings out of the test output.
    setLogger({ warn: (_f, m) => warnings.push(m), error: (_f, m) => warnings.push(m) });
    telemeter = new Telemeter({ metrics: fixtureMetrics });
    exercise();
    server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1' });
    dir = await mkdtemp(join(tmpdir(), 'telemeter-rules-'));
    const rulesFile = join(dir, 'rules.yml');
    await writeFile(rulesFile, rules);
    prom = await startPrometheus([{ jobName: 'fixture', targets: [`127.0.0.1:${server.port}`] }], {
      ruleFiles: [rulesFile],
    });
    await prom.waitForTargets();
    // rate() needs two samples in its window.
    await prom.waitForQuery('count_over_time(up{job="fixture"}[1m])', (r) => Number(r[0]?.value?.[1]) >= 3);
  });

  afterAll(async () => {
    await prom?.stop();
    await server?.close();
    telemeter?.close();
    setLogger(null);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scrapes the fixture without errors', async () => {
    const [target] = await prom.targets();
    expect(target.health).toBe('up');
    expect(target.lastError).toBe('');
    expect(warnings.some((w) => w.includes('maxSeries'))).toBe(true);
  });

  it('can fail: a malformed expression is answered 400 bad_data', async () => {
    const { status, body } = await rawQuery(prom, 'sum(rate(x[5m])');
    expect(status).toBe(400);
    expect(body.errorType).toBe('bad_data');
  });

  it('parses every expression of the dashboard and the rules', async () => {
    const expressions = allExpressions(grafanaDashboard(everything), rules);
    expect(expressions.length).toBeGreaterThan(80);
    const rejected: string[] = [];
    for (const { source, expr } of expressions) {
      const { status, body } = await rawQuery(prom, interpolateGrafana(expr));
      if (status !== 200 || body.status !== 'success') rejected.push(`${source}: ${body.error} in ${expr}`);
    }
    expect(rejected).toEqual([]);
  });

  it('returns data for every panel of the fixture dashboard', async () => {
    const expressions = allExpressions(grafanaDashboard(fixtureMetrics));
    const empty: string[] = [];
    for (const { source, expr } of expressions) {
      const { status, body } = await rawQuery(prom, interpolateGrafana(expr, { job: 'fixture' }));
      expect(status, `${source}: ${body.error}`).toBe(200);
      if (body.data.result.length === 0) empty.push(`${source}: ${expr}`);
    }
    expect(empty).toEqual([]);
    // The same check fails for a name Prometheus did not store: the 0.0.4 spelling of a counter.
    expect((await rawQuery(prom, 'shop_orders_count')).body.data.result).toEqual([]);
    expect((await rawQuery(prom, 'shop_orders_count_total')).body.data.result.length).toBe(1);
  });

  it('loads the rules and evaluates each of them without error', async () => {
    const count = rules.split('\n').filter((l) => l.trim().startsWith('- alert:')).length;
    const evaluated = await poll(async () => {
      const res = await fetch(`${prom.url}/api/v1/rules`, { signal: AbortSignal.timeout(5_000) });
      const list = (await res.json()).data.groups.flatMap((g: any) => g.rules);
      return list.length === count && list.every((r: any) => r.lastEvaluation > '2000') ? list : undefined;
    });
    for (const rule of evaluated) expect(rule.health, `${rule.name}: ${rule.lastError}`).toBe('ok');
  });
});

/** Families with series only while something happens (see test/e2e/demo.test.ts): declared, maybe empty. */
type Format = 'text' | 'openmetrics';

/**
 * One Prometheus per format, both scraping the same demo process as job `demo`. Prometheus 2.x always asks for
 * OpenMetrics first, and 2.42 has no `scrape_protocols` to ask for text, so the text scraper asks for
 * `/metrics?format=text` (telemeter's override of negotiation, sent through the scrape config's `params`): the
 * body a scraper that wants text gets, as VictoriaMetrics' default scrape and Fly.io's do.
 */
describe.skipIf(!hasPrometheus)('the demo dashboard and rules, scraped as text and as OpenMetrics', () => {
  const metrics = demoMetrics();
  const dashboard = grafanaDashboard(metrics);
  const rules = alertRules(metrics);
  const proms = new Map<Format, PrometheusHandle>();
  let demo: DemoProcess;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'telemeter-formats-'));
    const rulesFile = join(dir, 'rules.yml');
    await writeFile(rulesFile, rules);
    demo = await startDemoProcess();
    const job = { jobName: 'demo', targets: [demo.metricsTarget] };
    const [text, openMetrics] = await Promise.all([
      startPrometheus([{ ...job, params: { format: ['text'] } }], { ruleFiles: [rulesFile] }),
      startPrometheus([job], { ruleFiles: [rulesFile] }),
    ]);
    proms.set('text', text);
    proms.set('openmetrics', openMetrics);
    // Traffic while both wait for their first scrape (~5 s); a 405 gives the scrape-errors rule a series.
    await sendTraffic(demo.shopUrl, shopTraffic());
    const refused = await fetch(demo.metricsUrl, { method: 'POST', signal: AbortSignal.timeout(5_000) });
    await refused.arrayBuffer();
    // The GC panels need a collection; scrapes allocate, and a bounded number of them is enough.
    await poll(async () => {
      const body = await (await fetch(demo.metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
      return body.includes('nodejs_gc_duration_seconds_count{') ? true : undefined;
    }, 300);
    // rate() needs two samples that both saw the traffic: two scrapes that started after it, in each.
    const trafficDone = Date.now();
    await Promise.all([...proms.values()].map((prom) => prom.waitForScrapesAfter(trafficDone)));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...proms.values()].map((prom) => prom.stop()));
    await demo?.process.stop('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scrapes the demo in each format', async () => {
    for (const [format, prom] of proms) {
      const [target] = await prom.targets();
      expect(target.health, format).toBe('up');
      expect(target.lastError, format).toBe('');
      // Only OpenMetrics has `# UNIT`: the unit Prometheus recorded tells which body it parsed.
      const metadata = await prom.metadata('demo');
      const duration = metadata.find((m: any) => m.metric === 'http_server_request_duration_seconds');
      expect(duration?.unit, format).toBe(format === 'openmetrics' ? 'seconds' : '');
    }
  });

  it.each(['text', 'openmetrics'] as const)('returns data for every query, scraped as %s', async (format) => {
    const prom = proms.get(format)!;
    const expressions = allExpressions(dashboard, rules);
    expect(expressions.length).toBeGreaterThan(80);
    const { problems } = await judgeExpressions(prom, 'demo', expressions);
    expect(problems).toEqual([]);
  });
});

async function poll<T>(fn: () => Promise<T | undefined>, attempts = 40): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await fn();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('condition not met in time');
}
