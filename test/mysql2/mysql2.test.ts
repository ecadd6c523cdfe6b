import mysql from 'mysql2';
import mysqlPromise from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DB_CONNECTION_EVENTS, DB_OPERATION_EVENTS } from '../../src/db/index.js';
import { Telemeter } from '../../src/index.js';
import {
  instrumentMysql2,
  type Mysql2Instrumentation,
  mysql2Metrics,
  mysqlErrorType,
} from '../../src/mysql2/index.js';
import { pgMetrics } from '../../src/pg/index.js';
import { find, parseSamples, recordEvents, sampleValue, sumOf } from '../http/helpers.js';
import { thrown } from '../support/thrown.js';
import { requireMariadb } from '../support/tools.js';

const hasMariadb = requireMariadb();
const SERVER = { host: '127.0.0.1', port: 3306, user: 'root', password: '' };
const DATABASE = `tm_${process.pid}_${Date.now().toString(36)}`;
const DURATION = 'db_client_operation_duration_seconds_count';

let telemeter: Telemeter;
const handles: Mysql2Instrumentation[] = [];
const closers: Array<() => Promise<void>> = [];

function callbackPool(options: mysql.PoolOptions = {}): mysql.Pool {
  const pool = mysql.createPool({ ...SERVER, database: DATABASE, ...options });
  closers.push(() => new Promise<void>((resolve) => pool.end(() => resolve())));
  return pool;
}

function instrument(options?: Parameters<typeof instrumentMysql2>[0]): Mysql2Instrumentation {
  const handle = instrumentMysql2(options);
  handles.push(handle);
  return handle;
}

describe.skipIf(!hasMariadb)('instrumentMysql2 against MariaDB', () => {
  beforeAll(async () => {
    const admin = await mysqlPromise.createConnection(SERVER);
    await admin.query(`CREATE DATABASE ${DATABASE}`);
    await admin.query(`CREATE TABLE ${DATABASE}.orders (id int PRIMARY KEY, note varchar(64))`);
    await admin.query(`CREATE TABLE ${DATABASE}.items (id int AUTO_INCREMENT PRIMARY KEY, order_id int)`);
    await admin.end();
  });
  afterAll(async () => {
    const admin = await mysqlPromise.createConnection(SERVER);
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE}`);
    await admin.end();
  });
  beforeEach(() => {
    telemeter = new Telemeter({ metrics: mysql2Metrics() });
  });
  afterEach(async () => {
    for (const handle of handles.splice(0)) handle.stop();
    for (const close of closers.splice(0)) await close();
    telemeter.close();
  });

  it('counts each operation and table of a known query mix, callback and promise APIs, as mariadb', async () => {
    const pool = callbackPool({ connectionLimit: 3 });
    const promisePool = pool.promise();
    instrument({ pool: promisePool });
    await new Promise<void>((resolve, reject) =>
      pool.query('INSERT INTO orders (id, note) VALUES (?, ?)', [1, 'secret-value-1'], (e) =>
        e ? reject(e) : resolve(),
      ),
    );
    await promisePool.query('INSERT INTO orders (id, note) VALUES (?, ?)', [2, 'secret-value-2']);
    await promisePool.execute('INSERT INTO orders (id, note) VALUES (?, ?)', [3, 'secret-value-3']);
    await promisePool.execute('SELECT * FROM orders WHERE id = ?', [1]);
    await promisePool.query('SELECT note FROM `orders` WHERE note = ?', ['secret-value-2']);
    await promisePool.query('UPDATE orders SET note = ? WHERE id = ?', ['secret-value-4', 3]);
    const connection = await promisePool.getConnection();
    try {
      await connection.query('START TRANSACTION');
      await connection.query('INSERT INTO items (order_id) VALUES (?)', [1]);
      await connection.query('DELETE FROM orders WHERE id = ?', [3]);
      await connection.query('COMMIT');
    } finally {
      connection.release();
    }
    // An event-emitter query.
    await new Promise<void>((resolve, reject) => {
      pool
        .query('SELECT 1')
        .on('end', () => resolve())
        .on('error', reject);
    });
    await new Promise<void>((resolve) => setImmediate(resolve));

    const body = telemeter.scrape();
    const counts = find(body, DURATION).map((s) => [
      s.labels.db_system_name,
      s.labels.db_operation_name,
      s.labels.db_collection_name ?? '',
      s.value,
    ]);
    expect(counts.sort()).toEqual(
      [
        ['mariadb', 'COMMIT', '', 1],
        ['mariadb', 'DELETE', 'orders', 1],
        ['mariadb', 'INSERT', 'items', 1],
        ['mariadb', 'INSERT', 'orders', 3],
        ['mariadb', 'SELECT', '', 1],
        ['mariadb', 'SELECT', 'orders', 2],
        ['mariadb', 'START', '', 1],
        ['mariadb', 'UPDATE', 'orders', 1],
      ].sort(),
    );
    expect(body).not.toContain('secret-value');
    const poolName = `127.0.0.1:3306/${DATABASE}`;
    // pool.query/pool.execute statements carry their checkout as queue time: 7 of them.
    expect(
      sampleValue(body, 'db_client_operation_queue_time_seconds_count', {
        db_client_connection_pool_name: poolName,
      }),
    ).toBe(7);
    expect(
      sampleValue(body, 'db_client_connection_wait_time_seconds_count', {
        db_client_connection_pool_name: poolName,
      }),
    ).toBe(8);
    expect(
      sampleValue(body, 'db_client_connection_count', {
        db_client_connection_pool_name: poolName,
        db_client_connection_state: 'used',
      }),
    ).toBe(0);
    expect(
      sampleValue(body, 'db_client_connection_count', {
        db_client_connection_pool_name: poolName,
        db_client_connection_state: 'idle',
      }),
    ).toBeGreaterThan(0);
  });

  it('counts failures under their error code, with an exception event', async () => {
    const pool = callbackPool({ connectionLimit: 2 }).promise();
    instrument({ pool, dbSystemName: 'mysql' });
    const recorder = recordEvents([DB_OPERATION_EVENTS.exception]);
    try {
      await pool.query('INSERT INTO orders (id) VALUES (100)');
      await expect(pool.query('INSERT INTO orders (id) VALUES (100)')).rejects.toMatchObject({
        code: 'ER_DUP_ENTRY',
      });
      await expect(pool.execute('INSERT INTO orders (id) VALUES (?)', [100])).rejects.toMatchObject({
        code: 'ER_DUP_ENTRY',
      });
      await expect(pool.query('SELEC * FROM orders')).rejects.toMatchObject({ code: 'ER_PARSE_ERROR' });
      await expect(pool.query('SELECT * FROM no_such_table')).rejects.toMatchObject({
        code: 'ER_NO_SUCH_TABLE',
      });
    } finally {
      recorder.stop();
    }
    const body = telemeter.scrape();
    const errors = find(body, DURATION)
      .filter((s) => (s.labels.error_type ?? '') !== '')
      .map((s) => [
        s.labels.db_operation_name ?? '',
        s.labels.db_collection_name ?? '',
        s.labels.error_type,
        s.value,
      ]);
    expect(errors.sort()).toEqual(
      [
        ['INSERT', 'orders', 'ER_DUP_ENTRY', 2],
        ['', '', 'ER_PARSE_ERROR', 1],
        ['SELECT', 'no_such_table', 'ER_NO_SUCH_TABLE', 1],
      ].sort(),
    );
    expect(recorder.events).toHaveLength(4);
    // The pool's server says MariaDB, whatever dbSystemName said for others.
    expect(sumOf(body, DURATION, { db_system_name: 'mariadb' })).toBe(5);
  });

  it('reports the wait for a connection when 20 statements contend for a pool of 2', async () => {
    const pool = callbackPool({ connectionLimit: 2 }).promise();
    instrument({ pool, poolName: 'contended' });
    const recorder = recordEvents([DB_OPERATION_EVENTS.stop, DB_CONNECTION_EVENTS.pendingRequests]);
    let pendingWhileContended: number | undefined;
    try {
      const statements = Array.from({ length: 20 }, () => pool.query('SELECT SLEEP(0.05)'));
      // Scrapes while the statements contend: the pool's counts are read as it is then (once a connection
      // has told MariaDB from MySQL, which names the pool's system).
      for (let attempt = 0; attempt < 100 && pendingWhileContended === undefined; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        pendingWhileContended = sampleValue(telemeter.scrape(), 'db_client_connection_pending_requests', {
          db_client_connection_pool_name: 'contended',
        });
      }
      await Promise.all(statements);
    } finally {
      recorder.stop();
    }
    expect(pendingWhileContended).toBeGreaterThanOrEqual(10);
    const stops = recorder.events.filter((e) => e.name === DB_OPERATION_EVENTS.stop);
    expect(stops).toHaveLength(20);
    expect(stops.filter((e) => (e.measurements.queue_time as number) > 0).length).toBeGreaterThanOrEqual(18);
    const body = telemeter.scrape();
    expect(
      sampleValue(body, 'db_client_operation_queue_time_seconds_sum', {
        db_client_connection_pool_name: 'contended',
      }),
    ).toBeGreaterThan(0);
    expect(
      sampleValue(body, 'db_client_connection_pending_requests', {
        db_client_connection_pool_name: 'contended',
      }),
    ).toBe(0);
  });

  it('adds no series for 10,000 distinct values formatted into the statements', async () => {
    const pool = callbackPool({ connectionLimit: 4 }).promise();
    instrument({ pool });
    await pool.query('SELECT note FROM orders WHERE note = ?', ['warm-up']);
    const before = parseSamples(telemeter.scrape()).length;
    const deadline = Date.now() + 60_000;
    for (let batch = 0; batch < 100 && Date.now() < deadline; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => {
          const n = batch * 100 + i;
          return pool.query('SELECT note FROM orders WHERE note = ? OR id = ?', [`secret-${n}`, n]);
        }),
      );
    }
    const body = telemeter.scrape();
    expect(sampleValue(body, DURATION, { db_operation_name: 'SELECT', db_collection_name: 'orders' })).toBe(
      10_001,
    );
    expect(parseSamples(body).length).toBe(before);
    expect(body).not.toMatch(/secret-/);
  }, 90_000);

  it('stop() unsubscribes, and a second instrumentation before it is refused', async () => {
    const pool = callbackPool({ connectionLimit: 1 }).promise();
    const handle = instrument({ pool });
    expect(thrown(() => instrumentMysql2())).toMatchObject({ code: 'ERR_TELEMETER_INVALID_STATE' });
    await pool.query('SELECT 1');
    handle.stop();
    handle.stop();
    await pool.query('SELECT 1');
    expect(sumOf(telemeter.scrape(), DURATION)).toBe(1);
    instrument();
    await pool.query('SELECT 1');
    expect(sumOf(telemeter.scrape(), DURATION)).toBe(2);
  });
});

describe('instrumentMysql2 options', () => {
  it('rejects bad options at start-up, naming them', () => {
    expect(thrown(() => instrumentMysql2({ pol: {} } as never))).toMatchObject({
      code: 'ERR_TELEMETER_UNKNOWN_OPTION',
      message: expect.stringContaining('pool'),
    });
    expect(thrown(() => instrumentMysql2({ pool: {} }))).toMatchObject({
      code: 'ERR_TELEMETER_INVALID_OPTION',
    });
    expect(thrown(() => instrumentMysql2({ dbSystemName: 'postgresql' as never }))).toMatchObject({
      code: 'ERR_TELEMETER_INVALID_OPTION',
      message: expect.stringContaining('dbSystemName'),
    });
    expect(thrown(() => mysql2Metrics({ pool: 1 as never }))).toMatchObject({
      code: 'ERR_TELEMETER_INVALID_OPTION',
    });
  });

  it('shares its definitions with pgMetrics, so one Telemeter takes both', () => {
    const both = new Telemeter({ metrics: [...pgMetrics(), ...mysql2Metrics()] });
    try {
      expect(
        both.metricFamilies.filter((f) => f.name.startsWith('db_client_operation_duration')),
      ).toHaveLength(1);
    } finally {
      both.close();
    }
    expect(mysqlErrorType(Object.assign(new Error('x'), { code: 'ER_DUP_ENTRY' }))).toBe('ER_DUP_ENTRY');
    expect(mysqlErrorType(new RangeError('x'))).toBe('RangeError');
  });
});
