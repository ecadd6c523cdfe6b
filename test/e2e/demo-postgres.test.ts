/**
 * `telemeter demo --database-url postgres://…`: the shop keeps its data in the local PostgreSQL, in a schema of
 * this test's own (dropped after), and a known request mix gives exact counts per statement, from instrumentPg
 * on the demo's real pg Pool. Under CI=true a PostgreSQL that does not answer fails the suite.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePostgres } from '../support/tools.js';
import { type DemoProcess, startDemoProcess } from './demo-process.js';
import { dbOperationCounts, orderAmount, sendTraffic, shopTraffic } from './shop-traffic.js';

const hasPostgres = requirePostgres();
const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** `name{labels} value` lines of one family of a text exposition, as `label values joined by a space` → value. */
function samples(body: string, name: string, labels: readonly string[]): Record<string, number> {
  const found: Record<string, number> = {};
  for (const line of body.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.lastIndexOf('}'));
    const values = Object.fromEntries([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    found[labels.map((l) => values[l] ?? '').join(' ')] = Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return found;
}

describe.skipIf(!hasPostgres)('telemeter demo --database-url, against the local PostgreSQL', () => {
  const schema = `telemeter_demo_e2e_${process.pid}_${Date.now().toString(36)}`;
  const plan = shopTraffic();
  let admin: pg.Client;
  let demo: DemoProcess;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    demo = await startDemoProcess(['--database-url', DATABASE_URL, '--database-schema', schema]);
    await sendTraffic(demo.shopUrl, plan);
  }, 60_000);

  afterAll(async () => {
    await demo?.process.stop('SIGKILL');
    await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin?.end();
  });

  it('says where the data is, without the credentials', () => {
    expect(demo.process.stdout()).toContain(
      `database         postgresql://127.0.0.1:5432/test (schema ${schema})`,
    );
  });

  it('created its tables in its own schema and stored each order once', async () => {
    const tables = await admin.query(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(['orders', 'products']);
    const orders = await admin.query(
      `SELECT count(*)::int AS n, sum(amount)::float8 AS total FROM ${schema}.orders`,
    );
    const placed = plan.filter((r) => r.route === '/checkout' && r.status === 201).length;
    expect(orders.rows[0]).toEqual({ n: placed, total: orderAmount(plan) });
  });

  it('counts every statement exactly, by operation, table and error class, pooled', async () => {
    const body = await (
      await fetch(`${demo.metricsUrl}?format=text`, { signal: AbortSignal.timeout(5_000) })
    ).text();
    const expected = dbOperationCounts(plan);
    expect(expected['INSERT orders 23']).toBe(1);
    expect(
      samples(body, 'db_client_operation_duration_seconds_count', [
        'db_operation_name',
        'db_collection_name',
        'error_type',
      ]),
    ).toEqual(expected);
    const statements = Object.values(expected).reduce((a, b) => a + b, 0);
    // Every statement was a pool.query: each has a queue time; set-up statements ran before instrumentation.
    expect(
      samples(body, 'db_client_operation_queue_time_seconds_count', ['db_client_connection_pool_name']),
    ).toEqual({ shop: statements });
    expect(body).toMatch(new RegExp(`^shop_repo_query_total_time_count(\\{[^}]*\\})? ${statements}$`, 'm'));
    // pg reports no decode or idle time: those summaries have no samples, and nothing was dropped for it.
    expect(body).not.toMatch(/^shop_repo_query_decode_time_count(\{[^}]*\})? [1-9]/m);
    expect(body).not.toMatch(/^telemeter_dropped_events_total\{[^}]*\} [1-9]/m);
  });
});
