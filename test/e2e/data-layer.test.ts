/**
 * One application process uses pg, mysql2, ioredis, node-redis and BullMQ against the local PostgreSQL, MariaDB
 * and Redis (test/fixtures/data-layer-app.ts), with all four integrations; a real Prometheus scrapes it. The
 * dashboard and the alert rules generated from the four `…Metrics()` lists together are judged like the demo's:
 * every expression parses and returns data, unless every metric it reads is in MAY_BE_EMPTY and declared with
 * that type. The app drops its table, keys and queue on SIGINT; the test checks they are gone.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertRules, allExpressions, grafanaDashboard } from '../../src/dashboard/index.js';
import { dataLayerMetrics } from '../fixtures/data-layer-app.js';
import { judgeExpressions } from '../support/dashboard-queries.js';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import {
  REDIS_PORT,
  requireMariadb,
  requirePostgres,
  requirePrometheus,
  requireRedis,
} from '../support/tools.js';
import { type ChildHandle, startChild } from './child-process.js';
import { REPO_ROOT } from './demo-process.js';

const ready = requirePrometheus() && requirePostgres() && requireMariadb() && (await requireRedis());
const JOB = 'app';

interface Names {
  readonly table: string;
  readonly keyPrefix: string;
  readonly queuePrefix: string;
  readonly queue: string;
}

describe.skipIf(!ready)('pg, mysql2, Redis and BullMQ in one app, scraped by a real Prometheus', () => {
  const metrics = dataLayerMetrics();
  const dashboard = grafanaDashboard(metrics);
  const rules = alertRules(metrics);
  let app: ChildHandle;
  let names: Names;
  let prom: PrometheusHandle;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'telemeter-data-layer-'));
    const rulesFile = join(dir, 'rules.yml');
    await writeFile(rulesFile, rules);
    app = startChild(process.execPath, ['--import', 'tsx', 'test/fixtures/data-layer-app.ts'], {
      name: 'data-layer app',
      cwd: REPO_ROOT,
    });
    const [, json] = await app.waitForStdout(/^names (.*)$/m, 20_000);
    names = JSON.parse(json);
    const [, port] = await app.waitForStdout(/^metrics http:\/\/127\.0\.0\.1:(\d+)\/metrics$/m, 20_000);
    prom = await startPrometheus([{ jobName: JOB, targets: [`127.0.0.1:${port}`] }], {
      ruleFiles: [rulesFile],
    });
    await app.waitForStdout(/^ready$/m, 30_000);
    // A 405 on the metrics endpoint gives telemeter_scrapes_total{status!="200"} (TelemeterScrapeErrors) a series.
    const refused = await fetch(`http://127.0.0.1:${port}/metrics`, {
      method: 'POST',
      signal: AbortSignal.timeout(5_000),
    });
    await refused.arrayBuffer();
    expect(refused.status).toBe(405);
    // rate() and increase() need two samples that both saw the one-off events: two scrapes that started after
    // them, and a third, because a scrape counts in telemeter_scrapes_total only from the next one on. The app
    // keeps working in rounds meanwhile, so every rate has traffic in its window.
    const eventsDone = Date.now();
    const seen = new Set<string>();
    await prom.waitForTargets(([target]) => {
      const at = Date.parse(target?.lastScrape ?? '');
      if (target?.health !== 'up' || !(at > eventsDone)) return false;
      seen.add(target.lastScrape);
      return seen.size >= 3;
    }, 20_000);
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await app?.stop('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gives every integration its row, and alerts for each', () => {
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(expect.arrayContaining(['Databases', 'redis', 'BullMQ']));
    for (const alert of ['RedisConnectionErrors', 'BullmqJobsStalling']) {
      expect(rules).toContain(`alert: "${alert}"`);
    }
  });

  it('returns data for every dashboard and rule expression of the four integrations', async () => {
    const expressions = allExpressions(dashboard, rules);
    expect(expressions.length).toBeGreaterThan(30);
    const { problems, withData } = await judgeExpressions(prom, JOB, expressions);
    expect(problems).toEqual([]);
    // Only telemeter's own dropped-events and overflow counters may be empty here: nothing is dropped.
    expect(withData).toBeGreaterThanOrEqual(expressions.length - 4);
  });

  it('stores operations of all three database systems, their failures by class, and job outcomes', async () => {
    const systems = await prom.query('sum by (db_system_name) (db_client_operation_duration_seconds_count)');
    expect(systems.map((r: any) => r.metric.db_system_name).sort()).toEqual([
      'mariadb',
      'postgresql',
      'redis',
    ]);
    const failures = await prom.query(
      'sum by (db_system_name, error_type) (db_client_operation_duration_seconds_count{error_type!=""})',
    );
    const classes = failures.map((r: any) => `${r.metric.db_system_name} ${r.metric.error_type}`);
    expect(classes).toEqual(
      expect.arrayContaining(['postgresql 42', 'postgresql 23', 'mariadb ER_PARSE_ERROR', 'redis WRONGTYPE']),
    );
    // The table's operations, by name: one series each however many distinct ids the rounds used.
    const onTable = await prom.query(
      `count by (db_system_name, db_operation_name) (db_client_operation_duration_seconds_count{db_collection_name="${names.table}"})`,
    );
    for (const system of ['postgresql', 'mariadb']) {
      const operations = onTable
        .filter((r: any) => r.metric.db_system_name === system)
        .map((r: any) => r.metric.db_operation_name)
        .sort();
      expect(operations, system).toEqual(['CREATE', 'DELETE', 'INSERT', 'SELECT', 'UPDATE']);
    }
    for (const r of onTable) expect(Number(r.value[1]), JSON.stringify(r.metric)).toBeLessThanOrEqual(2);
    const outcomes = await prom.query(`sum by (name, outcome) (bullmq_jobs_total{queue="${names.queue}"})`);
    expect(outcomes.map((r: any) => `${r.metric.name} ${r.metric.outcome}`)).toEqual(
      expect.arrayContaining(['welcome completed', 'flaky retried', 'flaky completed', 'broken failed']),
    );
    expect(await prom.queryValue(`bullmq_stalled_jobs_total{queue="${names.queue}"}`)).toBe(1);
  });

  it('stops on SIGINT and leaves no table, key or queue behind', async () => {
    const exit = await app.stop('SIGINT', 20_000);
    expect(app.stdout()).toMatch(/cleaned up\n$/);
    expect(exit).toEqual({ code: 0, signal: null });
    const client = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'test' });
    await client.connect();
    const mariadb = await mysql.createConnection({ host: '127.0.0.1', user: 'root', database: 'test' });
    const redis = new Redis({ host: '127.0.0.1', port: REDIS_PORT });
    try {
      const pgLeft = await client.query('SELECT to_regclass($1) AS found', [names.table]);
      expect(pgLeft.rows[0].found).toBeNull();
      const [mysqlLeft] = await mariadb.query(
        'SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = ?',
        ['test', names.table],
      );
      expect(Number((mysqlLeft as Array<{ n: number }>)[0].n)).toBe(0);
      expect(await redis.keys(`${names.keyPrefix}*`)).toEqual([]);
      expect(await redis.keys(`${names.queuePrefix}:*`)).toEqual([]);
    } finally {
      await client.end();
      await mariadb.end();
      redis.disconnect();
    }
  });
});
