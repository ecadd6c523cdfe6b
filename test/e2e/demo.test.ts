/**
 * `telemeter demo` end to end: the demo runs as a child process (as `npm run demo` runs it), a known set of
 * requests goes to its shop, and a real Prometheus 2.42 scrapes it with the generated alert rules loaded, as two
 * jobs: one negotiates OpenMetrics, the other takes text 0.0.4 (`?format=text`, as VictoriaMetrics and Fly.io do).
 *
 * What must hold:
 * - `http_server_requests_total` counts every request exactly, per method, route and status;
 * - every PromQL expression of the generated dashboard and rules parses, and returns data from each job, by
 *   this rule:
 *     1. an expression that is a condition (`a > b`, `up == 0`: normally empty) is judged by its left operand;
 *     2. the expression (or operand) must return at least one sample;
 *     3. except when every metric it reads is in MAY_BE_EMPTY: families that have series only while
 *        something happens (an event a metric cannot record, a metric at its series limit, a libuv request
 *        in flight when the runtime is polled). Those must instead be declared by the target: Prometheus's
 *        target metadata lists the family with its type, so the expression names what the demo exports;
 * - every alert rule loads and evaluates with health `ok`;
 * - `vm_memory_total` (the article's VM metric) is there, in kilobytes;
 * - SIGINT stops the demo: exit code 0 and "stopped." on stdout.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoMetrics } from '../../src/cli/demo/start.js';
import { alertRules, allExpressions, grafanaDashboard } from '../../src/dashboard/index.js';
import { judgeExpressions, MAY_BE_EMPTY, rawQuery } from '../support/dashboard-queries.js';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { conditionOperand, metricsRead } from '../support/promql-operands.js';
import { requirePrometheus } from '../support/tools.js';
import { type DemoProcess, startDemoProcess } from './demo-process.js';
import {
  countsByLabels,
  dbOperationCounts,
  orderAmount,
  sendTraffic,
  shopTraffic,
  vectorByLabels,
} from './shop-traffic.js';

const hasPrometheus = requirePrometheus();

/** Families whose series exist only while something happens, by the name queried → type; see rule 3 above. */
const JOB = 'demo';
const TEXT_JOB = 'demo-text';
const JOBS = [JOB, TEXT_JOB];

async function poll<T>(what: string, fn: () => Promise<T | undefined>, attempts = 120): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await fn();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(!hasPrometheus)('telemeter demo, scraped by a real Prometheus', () => {
  const plan = shopTraffic();
  const metrics = demoMetrics();
  const rules = alertRules(metrics);
  let demo: DemoProcess;
  let prom: PrometheusHandle;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'telemeter-demo-e2e-'));
    const rulesFile = join(dir, 'telemeter.rules.yml');
    await writeFile(rulesFile, rules);
    demo = await startDemoProcess();
    prom = await startPrometheus(
      [
        { jobName: JOB, targets: [demo.metricsTarget] },
        { jobName: TEXT_JOB, targets: [demo.metricsTarget], params: { format: ['text'] } },
      ],
      { ruleFiles: [rulesFile] },
    );
    // Traffic goes out while Prometheus waits for its first scrape (~5 s).
    await sendTraffic(demo.shopUrl, plan);
    // A 405 on the metrics endpoint gives telemeter_scrapes_total{status!="200"} (TelemeterScrapeErrors) a series.
    const refused = await fetch(demo.metricsUrl, { method: 'POST', signal: AbortSignal.timeout(5_000) });
    await refused.arrayBuffer();
    expect(refused.status).toBe(405);
    // The GC panels need a collection to have happened; scrapes allocate, a bounded number of them is enough.
    await poll(
      'a garbage collection in the demo',
      async () => {
        const body = await (await fetch(demo.metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
        return body.includes('nodejs_gc_duration_seconds_count{') ? true : undefined;
      },
      300,
    );
    // rate() needs two samples that both saw all the traffic: two scrapes by each job that started after it.
    const trafficDone = Date.now();
    const first = new Map<string, number>();
    await prom.waitForTargets(
      (targets) =>
        targets.length === 2 &&
        targets.every((target) => {
          const at = Date.parse(target.lastScrape ?? '');
          if (target.health !== 'up' || !(at > trafficDone)) return false;
          if (!first.has(target.labels.job)) first.set(target.labels.job, at);
          return at > first.get(target.labels.job)!;
        }),
      30_000,
    );
  });

  afterAll(async () => {
    await prom?.stop();
    await demo?.process.stop('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scrapes the demo with no errors, in both formats', async () => {
    const targets = await prom.targets();
    expect(targets.map((t) => [t.labels.job, t.health, t.lastError]).sort()).toEqual([
      [JOB, 'up', ''],
      [TEXT_JOB, 'up', ''],
    ]);
  });

  it('stores the same series names from the text job as from the OpenMetrics one', async () => {
    const names = async (job: string) =>
      ((await prom.query(`group by (__name__) ({job="${job}"})`)) as Array<{ metric: { __name__: string } }>)
        .map((r) => r.metric.__name__)
        .filter((name) => !MAY_BE_EMPTY.has(name))
        .sort();
    const negotiated = await names(JOB);
    expect(negotiated).toContain('shop_order_amount_total');
    expect(await names(TEXT_JOB)).toEqual(negotiated);
    for (const job of JOBS) {
      expect(await prom.queryValue(`shop_order_amount_total{job="${job}",currency="EUR"}`), job).toBe(
        orderAmount(plan),
      );
      expect(await prom.query(`shop_order_amount{job="${job}"}`), job).toEqual([]);
    }
  });

  it('counts every request exactly, per method, route and status', async () => {
    const stored = vectorByLabels(await prom.query(`http_server_requests_total{job="${JOB}"}`), [
      'method',
      'route',
      'status',
    ]);
    expect(stored).toEqual(countsByLabels(plan));
    expect(await prom.queryValue(`sum(http_server_requests_total{job="${JOB}"})`)).toBe(plan.length);
    // The duration histogram saw the same requests.
    const observed = vectorByLabels(
      await prom.query(`http_server_request_duration_seconds_count{job="${JOB}"}`),
      ['method', 'route', 'status'],
    );
    expect(observed).toEqual(countsByLabels(plan));
    expect(await prom.queryValue(`shop_order_amount_total{job="${JOB}",currency="EUR"}`)).toBe(
      orderAmount(plan),
    );
    expect(await prom.queryValue(`sum(http_server_request_exception_duration_count{job="${JOB}"})`)).toBe(
      plan.filter((r) => r.status === 500).length,
    );
  });

  it('reports the in-memory store as PostgreSQL: one operation per statement, the repeated order as class 23', async () => {
    const stored = vectorByLabels(
      await prom.query(
        `db_client_operation_duration_seconds_count{job="${JOB}",db_system_name="postgresql"}`,
      ),
      ['db_operation_name', 'db_collection_name', 'error_type'],
    );
    expect(stored).toEqual(dbOperationCounts(plan));
    // Every statement went through the simulated pool: a queue time each, a checkout each.
    const statements = Object.values(dbOperationCounts(plan)).reduce((a, b) => a + b, 0);
    expect(
      await prom.queryValue(
        `db_client_operation_queue_time_seconds_count{job="${JOB}",db_client_connection_pool_name="shop"}`,
      ),
    ).toBe(statements);
    expect(
      await prom.queryValue(
        `db_client_connection_wait_time_seconds_count{job="${JOB}",db_client_connection_pool_name="shop"}`,
      ),
    ).toBe(statements);
    expect(await prom.queryValue(`shop_repo_query_total_time_count{job="${JOB}"}`)).toBe(statements);
    // The in-memory store reports Ecto's decode and idle phases too, as the article's repo summaries show them.
    expect(await prom.queryValue(`shop_repo_query_decode_time_count{job="${JOB}"}`)).toBe(statements);
    expect(await prom.queryValue(`shop_repo_query_idle_time_count{job="${JOB}"}`)).toBe(statements);
    // All connections are back once the traffic is over, and nobody waits.
    expect(
      await prom.queryValue(`db_client_connection_count{job="${JOB}",db_client_connection_state="used"}`),
    ).toBe(0);
    expect(await prom.queryValue(`db_client_connection_pending_requests{job="${JOB}"}`)).toBe(0);
  });

  it('exports the article VM metric vm_memory_total, in kilobytes', async () => {
    const kilobytes = await prom.queryValue(`vm_memory_total{job="${JOB}"}`);
    const rss = await prom.queryValue(`process_resident_memory_bytes{job="${JOB}"}`);
    expect(kilobytes).toBeGreaterThan(0);
    expect(rss).toBeGreaterThan(0);
    // Both are the resident set size, polled a moment apart: kilobytes * 1024 is close to the bytes.
    expect((kilobytes! * 1024) / rss!).toBeGreaterThan(0.5);
    expect((kilobytes! * 1024) / rss!).toBeLessThan(2);
  });

  it('can fail: a malformed expression is rejected, a misspelled metric returns nothing', async () => {
    const malformed = await rawQuery(prom, 'sum(rate(http_server_requests_total[1m])');
    expect(malformed.status).toBe(400);
    expect(malformed.body.errorType).toBe('bad_data');
    expect((await rawQuery(prom, 'http_server_requests')).body.data.result).toEqual([]);
    expect(conditionOperand('sum(x{a=~"b>c"}) / sum(y) > 0.05')).toBe('sum(x{a=~"b>c"}) / sum(y)');
    expect(conditionOperand('histogram_quantile(0.99, sum by (le) (rate(x[5m])))')).toBeUndefined();
    expect(metricsRead('sum(rate(a_total{s="b[1m]"}[5m])) / up')).toEqual(['a_total']);
  });

  it.each(JOBS)('parses every dashboard and rule expression and gets data for each (%s)', async (job) => {
    const expressions = allExpressions(grafanaDashboard(metrics), rules);
    expect(expressions.length).toBeGreaterThan(80);
    const { problems, withData } = await judgeExpressions(prom, job, expressions);
    expect(problems).toEqual([]);
    // Two panels and two rules read the telemeter counters, one panel reads nodejs_active_requests.
    expect(withData).toBeGreaterThanOrEqual(expressions.length - 5);
  });

  it('loads every alert rule and evaluates each with health ok', async () => {
    const count = rules.split('\n').filter((l) => l.trim().startsWith('- alert:')).length;
    expect(count).toBe(11);
    const evaluated = await poll('every rule evaluated', async () => {
      const res = await fetch(`${prom.url}/api/v1/rules`, { signal: AbortSignal.timeout(5_000) });
      const list = (await res.json()).data.groups.flatMap((g: any) => g.rules);
      return list.length === count && list.every((r: any) => Date.parse(r.lastEvaluation) > 0)
        ? list
        : undefined;
    });
    for (const rule of evaluated) expect(rule.health, `${rule.name}: ${rule.lastError}`).toBe('ok');
  });

  it('stops on SIGINT: exit code 0 and "stopped."', async () => {
    const exit = await demo.process.stop('SIGINT');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(demo.process.stdout()).toMatch(/stopping\.\.\.\nstopped\.\n$/);
    expect(demo.process.stderr()).toBe('');
  });
});
