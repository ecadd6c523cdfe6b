/**
 * A real Prometheus scrapes an application using telemeter/pg and telemeter/mysql2 against the local
 * PostgreSQL and MariaDB: every query of the Databases row and every database rule must parse and return data.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alertRules,
  allExpressions,
  grafanaDashboard,
  interpolateGrafana,
} from '../../src/dashboard/index.js';
import { Telemeter } from '../../src/index.js';
import { instrumentMysql2, mysql2Metrics } from '../../src/mysql2/index.js';
import { instrumentPg, pgMetrics } from '../../src/pg/index.js';
import { type MetricsServer, serveMetrics } from '../../src/server/index.js';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { conditionOperand } from '../support/promql-operands.js';
import { requireMariadb, requirePostgres, requirePrometheus } from '../support/tools.js';

const ready = requirePrometheus() && requirePostgres() && requireMariadb();
const definitions = [...pgMetrics(), ...mysql2Metrics()];

describe.skipIf(!ready)('database panels and rules against a real Prometheus', () => {
  let telemeter: Telemeter;
  let server: MetricsServer;
  let prom: PrometheusHandle;
  let dir: string;
  let pgPool: pg.Pool;
  let mysqlPool: mysql.Pool;
  const stops: Array<() => void> = [];

  /** One round of statements: successes, failures, and contention for the pools of 2. */
  async function workload(): Promise<void> {
    await Promise.all([
      ...Array.from({ length: 6 }, () => pgPool.query('SELECT pg_sleep(0.01) FROM pg_type LIMIT 1')),
      ...Array.from({ length: 6 }, () =>
        mysqlPool.query('SELECT SLEEP(0.01) FROM information_schema.tables LIMIT 1'),
      ),
      pgPool.query('SELEC 1').catch(() => {}),
      mysqlPool.query('SELEC 1').catch(() => {}),
    ]);
  }

  beforeAll(async () => {
    telemeter = new Telemeter({ metrics: definitions });
    pgPool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'test', max: 2 });
    mysqlPool = mysql.createPool({ host: '127.0.0.1', user: 'root', database: 'test', connectionLimit: 2 });
    stops.push(instrumentPg(pgPool).stop, instrumentMysql2({ pool: mysqlPool }).stop);
    server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1' });
    dir = await mkdtemp(join(tmpdir(), 'telemeter-db-rules-'));
    const rulesFile = join(dir, 'rules.yml');
    await writeFile(rulesFile, alertRules(definitions));
    prom = await startPrometheus([{ jobName: 'app', targets: [`127.0.0.1:${server.port}`] }], {
      ruleFiles: [rulesFile],
    });
    // Statements keep coming until three scrapes have seen them (rate() needs two), bounded in time.
    const deadline = Date.now() + 60_000;
    let scrapes = 0;
    let last = '';
    while (scrapes < 3 && Date.now() < deadline) {
      await workload();
      const [target] = await prom.targets();
      if (target?.health === 'up' && target.lastScrape !== last) {
        last = target.lastScrape;
        scrapes++;
      }
    }
    expect(scrapes).toBe(3);
  }, 90_000);

  afterAll(async () => {
    for (const stop of stops) stop();
    await prom?.stop();
    await server?.close();
    await pgPool?.end();
    await mysqlPool?.end();
    telemeter?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('returns data for every database panel and rule', async () => {
    const expressions = allExpressions(grafanaDashboard(definitions), alertRules(definitions)).filter(
      ({ expr }) => expr.includes('db_client_'),
    );
    expect(expressions.length).toBeGreaterThanOrEqual(12);
    const problems: string[] = [];
    for (const { source, expr } of expressions) {
      const query = interpolateGrafana(expr, { job: 'app' });
      const operand = conditionOperand(query) ?? query;
      const result = await prom.query(operand).catch((error: Error) => {
        problems.push(`${source}: rejected: ${error.message}`);
        return undefined;
      });
      if (result !== undefined && result.length === 0) problems.push(`${source}: no data: ${operand}`);
    }
    expect(problems).toEqual([]);
    const systems = await prom.query('sum by (db_system_name) (db_client_operation_duration_seconds_count)');
    expect(systems.map((r: any) => r.metric.db_system_name).sort()).toEqual(['mariadb', 'postgresql']);
    const failures = await prom.query(
      'sum by (db_system_name, error_type) (db_client_operation_duration_seconds_count{error_type!=""})',
    );
    expect(failures.map((r: any) => `${r.metric.db_system_name} ${r.metric.error_type}`).sort()).toEqual([
      'mariadb ER_PARSE_ERROR',
      'postgresql 42',
    ]);
  });
});
