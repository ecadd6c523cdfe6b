import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DB_CONNECTION_EVENTS, DB_OPERATION_EVENTS } from '../../src/db/index.js';
import { Telemeter } from '../../src/index.js';
import { instrumentPg, type PgInstrumentation, pgErrorType, pgMetrics } from '../../src/pg/index.js';
import { find, parseSamples, recordEvents, sampleValue, sumOf } from '../http/helpers.js';
import { thrown } from '../support/thrown.js';
import { requirePostgres } from '../support/tools.js';

const hasPostgres = requirePostgres();
const CONNECTION = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
const POOL_NAME = '127.0.0.1:5432/test';
const DURATION = 'db_client_operation_duration_seconds_count';
const suffix = `${process.pid}_${Date.now().toString(36)}`;
const ORDERS = `tm_orders_${suffix}`;
const ITEMS = `tm_items_${suffix}`;

let telemeter: Telemeter;
const handles: PgInstrumentation[] = [];
const pools: pg.Pool[] = [];
const clients: pg.Client[] = [];

function newPool(options: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({ ...CONNECTION, ...options });
  pools.push(pool);
  return pool;
}

function instrument(...args: Parameters<typeof instrumentPg>): PgInstrumentation {
  const handle = instrumentPg(...args);
  handles.push(handle);
  return handle;
}

describe.skipIf(!hasPostgres)('instrumentPg against PostgreSQL', () => {
  beforeAll(async () => {
    const admin = new pg.Client(CONNECTION);
    await admin.connect();
    await admin.query(`CREATE TABLE ${ORDERS} (id int PRIMARY KEY, note text)`);
    await admin.query(`CREATE TABLE ${ITEMS} (id serial PRIMARY KEY, order_id int)`);
    await admin.end();
  });
  afterAll(async () => {
    const admin = new pg.Client(CONNECTION);
    await admin.connect();
    await admin.query(`DROP TABLE IF EXISTS ${ORDERS}, ${ITEMS}`);
    await admin.end();
  });
  beforeEach(() => {
    telemeter = new Telemeter({ metrics: pgMetrics() });
  });
  afterEach(async () => {
    for (const handle of handles.splice(0)) handle.stop();
    await Promise.all(pools.splice(0).map((pool) => pool.end()));
    await Promise.all(clients.splice(0).map((client) => client.end()));
    telemeter.close();
  });

  it('counts each operation and table of a known query mix, in every API form', async () => {
    const pool = newPool({ max: 3 });
    instrument(pool);
    // pool.query, promise form: 3 INSERTs and 2 SELECTs.
    for (let id = 1; id <= 3; id++)
      await pool.query(`INSERT INTO ${ORDERS} (id, note) VALUES ($1, $2)`, [id, 'x']);
    await pool.query(`SELECT * FROM ${ORDERS} WHERE id = $1`, [1]);
    await pool.query({ text: `SELECT count(*) FROM ${ORDERS}` });
    // pool.query, callback forms: 1 UPDATE, 1 SELECT without values.
    await new Promise<void>((resolve, reject) =>
      pool.query(`UPDATE ${ORDERS} SET note = $1 WHERE id = $2`, ['y', 2], (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    await new Promise<void>((resolve, reject) =>
      pool.query('SELECT 1', (error) => (error ? reject(error) : resolve())),
    );
    // A transaction on a checked-out client: BEGIN, INSERT, DELETE, COMMIT.
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${ITEMS} (order_id) VALUES ($1)`, [1]);
      await client.query(`DELETE FROM ${ORDERS} WHERE id = $1`, [3]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    // A submittable Query object, and a named (prepared) statement with no table in its SQL.
    await new Promise<void>((resolve, reject) => {
      const query = new pg.Query(`SELECT id FROM ${ITEMS}`);
      pool.query(query as unknown as string);
      query.once('end', () => resolve());
      query.once('error', reject);
    });
    await pool.query({ name: 'server_clock', text: 'SELECT now()' });

    const body = telemeter.scrape();
    const counts = find(body, DURATION).map((s) => [
      s.labels.db_operation_name,
      s.labels.db_collection_name ?? '',
      s.labels.error_type ?? '',
      s.value,
    ]);
    expect(counts.sort()).toEqual(
      [
        ['BEGIN', '', '', 1],
        ['COMMIT', '', '', 1],
        ['DELETE', ORDERS, '', 1],
        ['INSERT', ITEMS, '', 1],
        ['INSERT', ORDERS, '', 3],
        ['SELECT', '', '', 1],
        ['SELECT', ITEMS, '', 1],
        ['SELECT', ORDERS, '', 2],
        ['SELECT', 'server_clock', '', 1],
        ['UPDATE', ORDERS, '', 1],
      ].sort(),
    );
    expect(sumOf(body, DURATION, { db_system_name: 'postgresql' })).toBe(13);
    // Every pool.query went through one checkout; the transaction's client was checked out once more.
    expect(
      sampleValue(body, 'db_client_connection_wait_time_seconds_count', {
        db_client_connection_pool_name: POOL_NAME,
      }),
    ).toBe(10);
    expect(
      sampleValue(body, 'db_client_operation_queue_time_seconds_count', { db_system_name: 'postgresql' }),
    ).toBe(9);
    expect(sampleValue(body, 'db_client_connection_count', { db_client_connection_state: 'used' })).toBe(0);
    expect(
      sampleValue(body, 'db_client_connection_count', { db_client_connection_state: 'idle' }),
    ).toBeGreaterThan(0);
    expect(
      sampleValue(body, 'db_client_connection_pending_requests', {
        db_client_connection_pool_name: POOL_NAME,
      }),
    ).toBe(0);
  });

  it('counts failures under their SQLSTATE class, in the stop event and an exception event', async () => {
    const pool = newPool({ max: 2 });
    instrument(pool);
    const recorder = recordEvents([DB_OPERATION_EVENTS.exception]);
    try {
      await pool.query(`INSERT INTO ${ORDERS} (id) VALUES (100)`);
      await expect(pool.query(`INSERT INTO ${ORDERS} (id) VALUES (100)`)).rejects.toMatchObject({
        code: '23505',
      });
      await expect(pool.query(`SELEC * FROM ${ORDERS}`)).rejects.toMatchObject({ code: '42601' });
      await expect(pool.query('SELECT * FROM tm_no_such_table')).rejects.toMatchObject({ code: '42P01' });
      await expect(
        new Promise((resolve, reject) =>
          pool.query('SELECT 1/0', (error, result) => (error ? reject(error) : resolve(result))),
        ),
      ).rejects.toMatchObject({ code: '22012' });
      const client = new pg.Client(CONNECTION);
      clients.push(client);
      await client.connect();
      instrument(client);
      await expect(client.query(`INSERT INTO ${ORDERS} (id) VALUES (NULL)`)).rejects.toMatchObject({
        code: '23502',
      });
    } finally {
      recorder.stop();
    }
    const body = telemeter.scrape();
    const errors = find(body, DURATION)
      .filter((s) => (s.labels.error_type ?? '') !== '')
      .map((s) => [
        s.labels.db_operation_name,
        s.labels.db_collection_name ?? '',
        s.labels.error_type,
        s.value,
      ]);
    expect(errors.sort()).toEqual(
      [
        ['INSERT', ORDERS, '23', 2],
        ['', '', '42', 1],
        ['SELECT', 'tm_no_such_table', '42', 1],
        ['SELECT', '', '22', 1],
      ].sort(),
    );
    expect(recorder.events.map((e) => e.metadata.error_type).sort()).toEqual(['22', '23', '23', '42', '42']);
    expect(
      recorder.events.every((e) => e.metadata.kind === 'error' && e.metadata.reason instanceof Error),
    ).toBe(true);
  });

  it('ends a query whose checkout fails, or whose backend is terminated, with exactly one stop event', async () => {
    // Nothing listens on port 1: every checkout of this pool fails to connect.
    const unreachable = newPool({ port: 1, max: 1, connectionTimeoutMillis: 2000 });
    instrument(unreachable, { poolName: 'unreachable' });
    const pool = newPool({ max: 1 });
    instrument(pool, { poolName: 'terminated' });
    const admin = new pg.Client(CONNECTION);
    clients.push(admin);
    await admin.connect();
    const recorder = recordEvents([DB_OPERATION_EVENTS.stop, DB_OPERATION_EVENTS.exception]);
    try {
      await expect(unreachable.query('SELECT 1')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await expect(
        new Promise((resolve, reject) =>
          unreachable.query('SELECT 2', (error, result) => (error ? reject(error) : resolve(result))),
        ),
      ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const sleeping = pool.query('SELECT pg_sleep(30)');
      const settled = sleeping.then(
        () => undefined,
        (error: unknown) => error,
      );
      // Terminate the backend once the sleep is running on it.
      for (let attempt = 0; attempt < 100; attempt++) {
        const { rows: active } = await admin.query(
          "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE 'SELECT pg_sleep%'",
          [rows[0].pid],
        );
        if (active.length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      expect(await settled).toMatchObject({ code: '57P01' });
      await new Promise((resolve) => setTimeout(resolve, 50)); // any late second stop would land by now
    } finally {
      recorder.stop();
    }
    const stopsOf = (pool: string) =>
      recorder.events
        .filter(
          (e) => e.name === DB_OPERATION_EVENTS.stop && e.metadata.db_client_connection_pool_name === pool,
        )
        .map((e) => e.metadata.error_type);
    expect(stopsOf('unreachable')).toEqual(['ECONNREFUSED', 'ECONNREFUSED']);
    expect(stopsOf('terminated')).toEqual(['', '57']);
    expect(recorder.events.filter((e) => e.name === DB_OPERATION_EVENTS.exception)).toHaveLength(3);
    const refused = telemeter.scrape();
    expect(
      sampleValue(refused, 'db_client_connection_wait_time_seconds_count', {
        db_client_connection_pool_name: 'unreachable',
      }),
    ).toBe(2);
  });

  it('reports the wait for a connection when 20 queries contend for a pool of 2', async () => {
    const pool = newPool({ max: 2 });
    instrument(pool, { poolName: 'contended' });
    const recorder = recordEvents([DB_OPERATION_EVENTS.stop, DB_CONNECTION_EVENTS.pendingRequests]);
    let pendingWhileContended: number | undefined;
    try {
      const queries = Array.from({ length: 20 }, () => pool.query('SELECT pg_sleep(0.05)'));
      // A scrape while the queries contend: the pool's counts are read as it is then.
      pendingWhileContended = sampleValue(telemeter.scrape(), 'db_client_connection_pending_requests', {
        db_client_connection_pool_name: 'contended',
      });
      await Promise.all(queries);
    } finally {
      recorder.stop();
    }
    expect(pendingWhileContended).toBe(18);
    const stops = recorder.events.filter((e) => e.name === DB_OPERATION_EVENTS.stop);
    expect(stops).toHaveLength(20);
    // With 2 connections, at most 2 queries start without waiting; the others waited for a release.
    const waited = stops.filter((e) => (e.measurements.queue_time as number) > 0);
    expect(waited.length).toBeGreaterThanOrEqual(18);
    for (const stop of stops) {
      const { duration, queue_time, query_time } = stop.measurements as Record<string, number>;
      expect(queue_time + query_time).toBeLessThanOrEqual(duration);
      expect(stop.metadata.db_client_connection_pool_name).toBe('contended');
    }
    const body = telemeter.scrape();
    // The pool's counts are events of the reads (two scrapes), not of its changes (dozens).
    const pending = recorder.events.filter((e) => e.name === DB_CONNECTION_EVENTS.pendingRequests);
    expect(pending.map((e) => e.measurements.count)).toEqual([18]);
    expect(
      sampleValue(body, 'db_client_operation_queue_time_seconds_sum', {
        db_client_connection_pool_name: 'contended',
      }),
    ).toBeGreaterThan(0);
    expect(
      sampleValue(body, 'db_client_connection_wait_time_seconds_count', {
        db_client_connection_pool_name: 'contended',
      }),
    ).toBe(20);
    expect(
      sampleValue(body, 'db_client_connection_count', {
        db_client_connection_pool_name: 'contended',
        db_client_connection_state: 'idle',
      }),
    ).toBe(2);
    expect(
      sampleValue(body, 'db_client_connection_pending_requests', {
        db_client_connection_pool_name: 'contended',
      }),
    ).toBe(0);
  });

  it('adds no series for 10,000 distinct literal values', async () => {
    const pool = newPool({ max: 4 });
    instrument(pool);
    await pool.query(`SELECT note FROM ${ORDERS} WHERE note = 'warm-up'`);
    await pool.query(`SELECT note FROM ${ORDERS} WHERE id = 0`);
    const before = parseSamples(telemeter.scrape()).length;
    const deadline = Date.now() + 60_000;
    for (let batch = 0; batch < 100 && Date.now() < deadline; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => {
          const n = batch * 100 + i;
          return n % 2 === 0
            ? pool.query(`SELECT note FROM ${ORDERS} WHERE note = 'secret-${n}' /* ${n} */`)
            : pool.query(`SELECT note FROM ${ORDERS} WHERE id = ${n}`);
        }),
      );
    }
    const body = telemeter.scrape();
    expect(sampleValue(body, DURATION, { db_operation_name: 'SELECT', db_collection_name: ORDERS })).toBe(
      10_002,
    );
    expect(parseSamples(body).length).toBe(before);
    expect(body).not.toMatch(/secret-|WHERE/);
  }, 90_000);

  it('stop() puts back the pool’s and its clients’ own methods and stops counting', async () => {
    const pool = newPool({ max: 1 });
    const handle = instrument(pool);
    expect(Object.hasOwn(pool, 'query')).toBe(true);
    const client = await pool.connect();
    expect(Object.hasOwn(client, 'query')).toBe(true);
    client.release();
    await pool.query('SELECT 1');
    handle.stop();
    handle.stop();
    expect(Object.hasOwn(pool, 'query')).toBe(false);
    expect(Object.hasOwn(pool, 'connect')).toBe(false);
    expect(pool.query).toBe(pg.Pool.prototype.query);
    expect(Object.hasOwn(client, 'query')).toBe(false);
    // Other pools were never touched, and pg's prototypes are pg's.
    expect(Object.hasOwn(newPool(), 'query')).toBe(false);
    await pool.query('SELECT 1');
    expect(sampleValue(telemeter.scrape(), DURATION, { db_operation_name: 'SELECT' })).toBe(1);
    // Instrumenting again after stop() works.
    instrument(pool);
    await pool.query('SELECT 1');
    expect(sampleValue(telemeter.scrape(), DURATION, { db_operation_name: 'SELECT' })).toBe(2);
  });

  it('takes operation and table from tagValues', async () => {
    const pool = newPool({ max: 1 });
    instrument(pool, {
      tagValues: (query) => (query.name === 'report' ? { db_collection_name: 'reports' } : undefined),
    });
    await pool.query({ name: 'report', text: 'SELECT 42' });
    await pool.query('SELECT 42');
    const body = telemeter.scrape();
    expect(sampleValue(body, DURATION, { db_collection_name: 'reports' })).toBe(1);
    expect(sumOf(body, DURATION)).toBe(2);
  });
});

describe('instrumentPg options', () => {
  it('rejects bad targets and options at start-up, naming them', () => {
    const pool = new pg.Pool(CONNECTION);
    expect(thrown(() => instrumentPg({} as pg.Pool))).toMatchObject({
      code: 'ERR_TELEMETER_INVALID_ARGUMENT',
    });
    expect(thrown(() => instrumentPg(pool, { poolNmae: 'x' } as never))).toMatchObject({
      code: 'ERR_TELEMETER_UNKNOWN_OPTION',
      message: expect.stringContaining('poolName'),
    });
    expect(thrown(() => instrumentPg(pool, { poolName: '' }))).toMatchObject({
      code: 'ERR_TELEMETER_INVALID_OPTION',
    });
    expect(thrown(() => instrumentPg(pool, { tagValues: 'x' as never }))).toMatchObject({
      code: 'ERR_TELEMETER_INVALID_OPTION',
      message: expect.stringContaining('tagValues'),
    });
    const handle = instrumentPg(pool);
    expect(thrown(() => instrumentPg(pool))).toMatchObject({ code: 'ERR_TELEMETER_INVALID_STATE' });
    handle.stop();
    expect(thrown(() => pgMetrics({ pool: 'yes' as never }))).toMatchObject({
      code: 'ERR_TELEMETER_INVALID_OPTION',
    });
    expect(pgMetrics({ pool: false }).map((d) => d.name)).toEqual(['db_client_operation_duration_seconds']);
    void pool.end();
  });

  it('classifies errors by SQLSTATE class, then code, then name', () => {
    expect(pgErrorType(Object.assign(new Error('dup'), { code: '23505' }))).toBe('23');
    expect(pgErrorType(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(pgErrorType(new TypeError('x'))).toBe('TypeError');
    expect(pgErrorType('text')).toBe('Error');
  });
});
