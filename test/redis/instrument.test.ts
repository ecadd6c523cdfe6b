import diagnosticsChannel from 'node:diagnostics_channel';
import { Redis, type RedisOptions } from 'ioredis';
import { createClient } from 'redis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_OPERATION_EVENTS } from '../../src/db/index.js';
import { Telemeter } from '../../src/index.js';
import {
  instrumentRedis,
  REDIS_CONNECTION_EVENT,
  redisErrorType,
  redisMetrics,
} from '../../src/redis/index.js';
import { find, parseSamples, recordEvents, sumOf } from '../http/helpers.js';
import { checkMetrics } from '../support/promtool.js';
import { freePort, REDIS_PORT, requirePromtool, requireRedis } from '../support/tools.js';

const hasRedis = await requireRedis();
const hasPromtool = requirePromtool();
const DURATION = 'db_client_operation_duration_seconds_count';
/** Commands ioredis sends on its own while connecting (the handshake and its ready check). */
const IOREDIS_HANDSHAKE = new Set(['HELLO', 'CLIENT', 'INFO']);

let telemeter: Telemeter;
let stopInstrumentation: () => void = () => {};
const cleanups: Array<() => Promise<unknown> | unknown> = [];
let keySequence = 0;

/** A key no other test (or a concurrent run) uses. */
function uniqueKey(what: string): string {
  return `telemeter-test:${process.pid}:${Date.now()}:${++keySequence}:${what}`;
}

function instrument(options?: Parameters<typeof instrumentRedis>[0]) {
  const instrumentation = instrumentRedis(options);
  stopInstrumentation = () => instrumentation.stop();
  return instrumentation;
}

/** Operations counted in the shared histogram for `operation` with error class `errorType` ('' = success). */
function operations(body: string, operation: string, errorType = ''): number {
  return find(body, DURATION, { db_system_name: 'redis', db_operation_name: operation })
    .filter((s) => (s.labels.error_type ?? '') === errorType)
    .reduce((sum, s) => sum + s.value, 0);
}

function operationNames(body: string): Set<string> {
  return new Set(find(body, DURATION).map((s) => s.labels.db_operation_name ?? ''));
}

async function ioredisClient(options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis({ host: '127.0.0.1', port: REDIS_PORT, lazyConnect: true, ...options });
  client.on('error', () => {});
  cleanups.push(() => client.disconnect());
  await client.connect();
  return client;
}

async function nodeRedisClient() {
  const client = createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` });
  client.on('error', () => {});
  cleanups.push(() => (client.isOpen ? client.close() : undefined));
  await client.connect();
  return client;
}

beforeEach(() => {
  telemeter = new Telemeter({ metrics: redisMetrics() });
});
afterEach(async () => {
  stopInstrumentation();
  stopInstrumentation = () => {};
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  telemeter.close();
});

describe.skipIf(!hasRedis)('instrumentRedis with ioredis', () => {
  it('counts each command exactly, by upper-cased name, with error classes', async () => {
    instrument();
    const redis = await ioredisClient();
    const [text, hash] = [uniqueKey('text'), uniqueKey('hash')];
    cleanups.push(() => redis.del(text, hash));
    for (let i = 0; i < 3; i++) await redis.set(text, `value-${i}`);
    for (let i = 0; i < 5; i++) await redis.get(text);
    await redis.hset(hash, 'field', '1');
    await expect(redis.hset(text, 'field', '1')).rejects.toThrow(/WRONGTYPE/);
    await expect(redis.call('NOSUCHCOMMAND')).rejects.toThrow(/ERR/);

    const body = telemeter.scrape();
    expect(operations(body, 'SET')).toBe(3);
    expect(operations(body, 'GET')).toBe(5);
    expect(operations(body, 'HSET')).toBe(1);
    expect(operations(body, 'HSET', 'WRONGTYPE')).toBe(1);
    expect(operations(body, 'NOSUCHCOMMAND', 'ERR')).toBe(1);
    const unexpected = [...operationNames(body)].filter(
      (name) => !['SET', 'GET', 'HSET', 'NOSUCHCOMMAND'].includes(name) && !IOREDIS_HANDSHAKE.has(name),
    );
    expect(unexpected).toEqual([]);
    // Keys never become labels.
    expect(body).not.toContain('telemeter-test:');
  });

  it('reports a MULTI transaction as one BATCH MULTI with its size, and a plain pipeline as its commands', async () => {
    instrument();
    const redis = await ioredisClient();
    const key = uniqueKey('counter');
    cleanups.push(() => redis.del(key));
    await redis.multi().set(key, '1').incr(key).incr(key).exec();
    await redis.multi().set(key, '1').hset(key, 'field', '1').exec(); // HSET fails inside EXEC: WRONGTYPE
    await expect(redis.multi().set(key, '1').call('SET', key).exec()).rejects.toThrow(/EXECABORT/);
    await redis.pipeline().get(key).get(key).incr(key).exec();

    const body = telemeter.scrape();
    expect(operations(body, 'BATCH MULTI')).toBe(1);
    expect(operations(body, 'BATCH MULTI', 'WRONGTYPE')).toBe(1);
    expect(operations(body, 'BATCH MULTI', 'EXECABORT')).toBe(1);
    // The transactions' own commands are inside the batches, not counted again.
    expect(operations(body, 'MULTI')).toBe(0);
    expect(operations(body, 'EXEC')).toBe(0);
    expect(operations(body, 'SET')).toBe(0);
    expect(operations(body, 'INCR')).toBe(1);
    // ioredis publishes no batch for pipeline(): its three commands count one by one.
    expect(operations(body, 'GET')).toBe(2);
    expect(sumOf(body, 'redis_client_batch_size_count', { db_operation_name: 'BATCH MULTI' })).toBe(3);
    expect(sumOf(body, 'redis_client_batch_size_sum', { db_operation_name: 'BATCH MULTI' })).toBe(3 + 2 + 2);
  });

  it('counts connects, reconnects and failed connects', async () => {
    instrument({ clients: ['ioredis'] });
    const redis = await ioredisClient();
    const id = await redis.client('ID');
    const admin = await ioredisClient();
    await admin.client('KILL', 'ID', String(id));
    await waitFor(async () => (await redis.ping()) === 'PONG');
    const closedPort = await freePort();
    const refused = new Redis({
      host: '127.0.0.1',
      port: closedPort,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    refused.on('error', () => {});
    await expect(refused.connect()).rejects.toThrow();

    const body = telemeter.scrape();
    expect(sumOf(body, 'redis_client_connects_total', { redis_client: 'ioredis', reconnect: 'false' })).toBe(
      2,
    );
    expect(sumOf(body, 'redis_client_connects_total', { redis_client: 'ioredis', reconnect: 'true' })).toBe(
      1,
    );
    expect(
      sumOf(body, 'redis_client_connection_create_time_seconds_count', { redis_client: 'ioredis' }),
    ).toBe(3);
    expect(sumOf(body, 'redis_client_connection_errors_total', { redis_client: 'ioredis' })).toBe(1);
    // ioredis reports no closes, so it has no open-connections series.
    expect(find(body, 'redis_client_connections', { redis_client: 'ioredis' })).toEqual([]);
  });
});

describe.skipIf(!hasRedis)('instrumentRedis with node-redis', () => {
  it('counts each command exactly, by name, with error classes', async () => {
    instrument();
    const redis = await nodeRedisClient();
    const [text, hash] = [uniqueKey('text'), uniqueKey('hash')];
    cleanups.push(() => redis.del([text, hash]));
    for (let i = 0; i < 3; i++) await redis.set(text, `value-${i}`);
    for (let i = 0; i < 5; i++) await redis.get(text);
    await redis.hSet(hash, 'field', '1');
    await expect(redis.hSet(text, 'field', '1')).rejects.toThrow(/WRONGTYPE/);
    await expect(redis.sendCommand(['NOSUCHCOMMAND'])).rejects.toThrow(/ERR/);

    const body = telemeter.scrape();
    expect(operations(body, 'SET')).toBe(3);
    expect(operations(body, 'GET')).toBe(5);
    expect(operations(body, 'HSET')).toBe(1);
    expect(operations(body, 'HSET', 'WRONGTYPE')).toBe(1);
    expect(operations(body, 'NOSUCHCOMMAND', 'ERR')).toBe(1);
    expect([...operationNames(body)].sort()).toEqual(['GET', 'HSET', 'NOSUCHCOMMAND', 'SET']);
    expect(body).not.toContain('telemeter-test:');
  });

  it('reports MULTI and pipelines as one batch each with its size, never their commands again', async () => {
    instrument();
    const redis = await nodeRedisClient();
    const key = uniqueKey('counter');
    cleanups.push(() => redis.del(key));
    await redis.multi().set(key, '1').incr(key).incr(key).exec();
    await expect(redis.multi().set(key, '1').hSet(key, 'field', '1').exec()).rejects.toThrow();
    await redis.multi().get(key).get(key).incr(key).incr(key).execAsPipeline();

    const body = telemeter.scrape();
    expect(operations(body, 'BATCH MULTI')).toBe(1);
    expect(operations(body, 'BATCH MULTI', 'WRONGTYPE')).toBe(1);
    expect(operations(body, 'BATCH PIPELINE')).toBe(1);
    expect([...operationNames(body)].sort()).toEqual(['BATCH MULTI', 'BATCH PIPELINE']);
    expect(sumOf(body, 'redis_client_batch_size_sum', { db_operation_name: 'BATCH MULTI' })).toBe(3 + 2);
    expect(sumOf(body, 'redis_client_batch_size_sum', { db_operation_name: 'BATCH PIPELINE' })).toBe(4);
  });

  it('counts connects, reconnects, connection errors and open connections', async () => {
    instrument({ clients: ['node-redis'] });
    const redis = await nodeRedisClient();
    expect(sumOf(telemeter.scrape(), 'redis_client_connections', { redis_client: 'node-redis' })).toBe(1);
    const id = await redis.clientId();
    const admin = await nodeRedisClient();
    await admin.sendCommand(['CLIENT', 'KILL', 'ID', String(id)]);
    await waitFor(async () => (await redis.ping()) === 'PONG');
    const closedPort = await freePort();
    const refused = createClient({
      url: `redis://127.0.0.1:${closedPort}`,
      socket: { reconnectStrategy: false },
    });
    refused.on('error', () => {});
    await expect(refused.connect()).rejects.toThrow(/ECONNREFUSED/);

    let body = telemeter.scrape();
    expect(
      sumOf(body, 'redis_client_connects_total', { redis_client: 'node-redis', reconnect: 'false' }),
    ).toBe(2);
    expect(
      sumOf(body, 'redis_client_connects_total', { redis_client: 'node-redis', reconnect: 'true' }),
    ).toBe(1);
    expect(
      sumOf(body, 'redis_client_connection_errors_total', {
        redis_client: 'node-redis',
        error_type: 'SocketClosedUnexpectedlyError',
      }),
    ).toBe(1);
    expect(
      sumOf(body, 'redis_client_connection_errors_total', {
        redis_client: 'node-redis',
        error_type: 'ECONNREFUSED',
      }),
    ).toBe(1);
    expect(sumOf(body, 'redis_client_connections', { redis_client: 'node-redis' })).toBe(2);
    await redis.close();
    await admin.close();
    body = telemeter.scrape();
    expect(sumOf(body, 'redis_client_connections', { redis_client: 'node-redis' })).toBe(0);
  });
});

describe.skipIf(!hasRedis)('instrumentRedis', () => {
  it('adds no series for 10,000 distinct keys', async () => {
    instrument();
    const io = await ioredisClient();
    const nodeRedis = await nodeRedisClient();
    await io.get(uniqueKey('warm-up'));
    await nodeRedis.get(uniqueKey('warm-up'));
    const before = telemeter.scrape();
    const prefix = uniqueKey('distinct');
    const started = Date.now();
    for (let chunk = 0; chunk < 20 && Date.now() - started < 30_000; chunk++) {
      const keys = Array.from({ length: 500 }, (_, i) => `${prefix}:${chunk * 500 + i}`);
      await Promise.all(keys.map((key) => io.get(key)));
      await Promise.all(keys.map((key) => nodeRedis.get(key)));
    }
    const after = telemeter.scrape();
    const series = (body: string) => parseSamples(body).map((s) => `${s.name}${JSON.stringify(s.labels)}`);
    expect(series(after)).toEqual(series(before));
    expect(operations(after, 'GET') - operations(before, 'GET')).toBe(20_000);
    expect(after).not.toContain(prefix);
  });

  it('emits exception before stop for a failure, with the error as reason', async () => {
    instrument({ clients: ['node-redis'] });
    const recorder = recordEvents([DB_OPERATION_EVENTS.exception, DB_OPERATION_EVENTS.stop]);
    cleanups.push(() => recorder.stop());
    const redis = await nodeRedisClient();
    const key = uniqueKey('text');
    cleanups.push(() => redis.del(key));
    await redis.set(key, 'x');
    recorder.events.length = 0;
    const failure = await redis.lPush(key, 'y').catch((error: unknown) => error);
    expect(recorder.events.map((e) => [e.name, e.metadata.db_operation_name, e.metadata.error_type])).toEqual(
      [
        [DB_OPERATION_EVENTS.exception, 'LPUSH', 'WRONGTYPE'],
        [DB_OPERATION_EVENTS.stop, 'LPUSH', 'WRONGTYPE'],
      ],
    );
    expect(recorder.events[0]?.metadata.reason).toBe(failure);
    expect(recorder.events[1]?.metadata).toMatchObject({
      db_system_name: 'redis',
      db_collection_name: '',
      db_namespace: '0',
    });
  });

  it('reports the database index each command ran in, after a SELECT too', async () => {
    instrument({ clients: ['ioredis'] });
    const recorder = recordEvents([DB_OPERATION_EVENTS.stop]);
    cleanups.push(() => recorder.stop());
    const redis = await ioredisClient();
    const key = uniqueKey('nowhere');
    await redis.get(key);
    await redis.select(1);
    await redis.get(key);
    await redis.select(0);
    await redis.get(key);
    const gets = recorder.events.filter((e) => e.metadata.db_operation_name === 'GET');
    expect(gets.map((e) => e.metadata.db_namespace)).toEqual(['0', '1', '0']);
    expect(Object.isFrozen(gets[0]?.metadata)).toBe(true);
  });

  it('stop() unsubscribes from every channel: no more events', async () => {
    const instrumentation = instrument();
    const recorder = recordEvents([DB_OPERATION_EVENTS.stop, REDIS_CONNECTION_EVENT]);
    cleanups.push(() => recorder.stop());
    const io = await ioredisClient();
    const nodeRedis = await nodeRedisClient();
    await io.ping();
    await nodeRedis.ping();
    expect(recorder.events.length).toBeGreaterThan(2);
    instrumentation.stop();
    instrumentation.stop();
    recorder.events.length = 0;
    await io.ping();
    await nodeRedis.ping();
    await io.multi().ping().exec();
    await nodeRedis.multi().ping().exec();
    expect(recorder.events).toEqual([]);
    for (const channel of ['ioredis:command', 'ioredis:batch', 'node-redis:command', 'node-redis:batch']) {
      expect(diagnosticsChannel.channel(`tracing:${channel}:start`).hasSubscribers).toBe(false);
    }
    expect(diagnosticsChannel.hasSubscribers('node-redis:error')).toBe(false);
  });

  it('never lets its own faults reach the application', async () => {
    instrument();
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    cleanups.push(() => process.off('uncaughtException', onUncaught));
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('hostile getter');
        },
        has() {
          throw new Error('hostile has');
        },
      },
    );
    for (const channel of ['ioredis:command', 'ioredis:batch', 'ioredis:connect', 'node-redis:command']) {
      const traced = diagnosticsChannel.tracingChannel(channel);
      await expect(traced.tracePromise(async () => 'reply', hostile)).resolves.toBe('reply');
      await expect(
        traced.tracePromise(async () => Promise.reject(new Error('app')), hostile),
      ).rejects.toThrow('app');
    }
    for (const channel of [
      'node-redis:connection:ready',
      'node-redis:connection:closed',
      'node-redis:error',
    ]) {
      diagnosticsChannel.channel(channel).publish(null);
      diagnosticsChannel.channel(channel).publish(hostile);
    }
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(uncaught).toEqual([]);
    // And real commands still work and are still counted afterwards.
    const redis = await nodeRedisClient();
    await redis.ping();
    expect(operations(telemeter.scrape(), 'PING')).toBe(1);
  });

  it.skipIf(!hasPromtool)('renders an exposition promtool accepts', async () => {
    instrument();
    const io = await ioredisClient();
    const nodeRedis = await nodeRedisClient();
    await io.multi().ping().exec();
    await nodeRedis.multi().ping().execAsPipeline();
    await expect(io.call('NOSUCHCOMMAND')).rejects.toThrow();
    const result = await checkMetrics(telemeter.scrape());
    expect({ ok: result.ok, lint: result.lint, error: result.error }).toEqual({
      ok: true,
      lint: [],
      error: undefined,
    });
  });
});

describe('instrumentRedis options', () => {
  it('rejects unknown options and clients at start-up, by code', () => {
    expect(() => instrumentRedis({ client: ['ioredis'] } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_UNKNOWN_OPTION' }),
    );
    expect(() => instrumentRedis({ clients: ['redis'] } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_INVALID_OPTION' }),
    );
    expect(() => instrumentRedis({ clients: [] })).toThrow(/option clients/);
  });

  it('redisMetrics refuses an option it does not read (an instrumentRedis option given to it by mistake)', () => {
    expect(() => redisMetrics({ clients: ['ioredis'] } as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_UNKNOWN_OPTION',
        message: expect.stringMatching(/redisMetrics/),
      }),
    );
    expect(() => redisMetrics('ioredis' as never)).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_INVALID_OPTION' }),
    );
    expect(redisMetrics({}).length).toBe(redisMetrics().length);
  });

  it('lists the shared operation histogram once, as the same object on every call', () => {
    const first = redisMetrics();
    expect(first.map((m) => m.name)).toContain('db_client_operation_duration_seconds');
    expect(redisMetrics()).toEqual(first);
    expect(redisMetrics()[0]).toBe(first[0]);
  });
});

/** Polls `check` (bounded: 50 tries, 100 ms apart) until it resolves true. */
async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('condition not met within 5 s');
}

describe('redisErrorType', () => {
  it('takes the class word of a reply, else the code, name or class of the error, never the message', () => {
    class SocketClosedUnexpectedlyError extends Error {}
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const named = Object.assign(new Error('The client is closed'), { name: 'ClientClosedError' });
    expect(
      redisErrorType(new Error('WRONGTYPE Operation against a key holding the wrong kind of value')),
    ).toBe('WRONGTYPE');
    expect(redisErrorType(new Error("ERR unknown command 'x'"))).toBe('ERR');
    expect(redisErrorType(new Error('NOSCRIPT No matching script.'))).toBe('NOSCRIPT');
    expect(redisErrorType(refused)).toBe('ECONNREFUSED');
    expect(redisErrorType(named)).toBe('ClientClosedError');
    expect(redisErrorType(new SocketClosedUnexpectedlyError('Socket closed unexpectedly'))).toBe(
      'SocketClosedUnexpectedlyError',
    );
    expect(redisErrorType(new Error('Connection is closed.'))).toBe('Error');
    expect(redisErrorType('a string')).toBe('Error');
    expect(redisErrorType(undefined)).toBe('');
  });
});
