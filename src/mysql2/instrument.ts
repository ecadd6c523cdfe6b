import diagnosticsChannel from 'node:diagnostics_channel';
import { collectPoolCounts, DB_CONNECTION_EVENTS } from '../db/connection-pool.js';
import type { DbOperationMetadata } from '../db/operation-events.js';
import { finishOperation, guarded, startOperation } from '../db/operation-recorder.js';
import { type SqlSummary, summarizeSql } from '../db/sql-summary.js';
import { invalidOption, TelemeterTypeError } from '../errors.js';
import { elapsedNs, execute, hasHandlers, monotonicNs, readClock } from '../events/index.js';
import { processLog } from '../logger.js';
import { checkOptionKeys } from '../options.js';

/** Options of {@link instrumentMysql2}. */
export interface Mysql2InstrumentationOptions {
  /**
   * A mysql2 pool (callback or promise API) whose connection counts to report on its events, and whose server
   * tells whether it is MariaDB. Queries of every connection are measured either way.
   */
  readonly pool?: object;
  /** Name of that pool in `db_client_connection_pool_name`. Default `host:port/database`. */
  readonly poolName?: string;
  /**
   * `db_system_name` of servers not recognised as MariaDB through `pool`. Default `mysql`; a pool's
   * connections to a MariaDB server make that server `mariadb` on their own.
   */
  readonly dbSystemName?: 'mysql' | 'mariadb';
}

/** What {@link instrumentMysql2} returns. */
export interface Mysql2Instrumentation {
  /** Unsubscribes from mysql2's channels and the pool's events. Safe to call more than once. */
  stop(): void;
}

/** mysql2's trace context of a query or execute (3.20+): `query` is formatted SQL, never to be a label. */
interface StatementContext {
  readonly query?: unknown;
  readonly database?: unknown;
  readonly serverAddress?: unknown;
  readonly serverPort?: unknown;
  readonly error?: unknown;
}

/** A statement between its start and its end; times are `readClock()` readings, `queueTime` nanoseconds. */
interface Pending {
  readonly start: number;
  readonly metadata: DbOperationMetadata;
  readonly queueTime: number | undefined;
  readonly queryStart: number;
}

type Loose = Record<string, any>;

/** One statement's metadata on one server, database and pool, and what it was built from. */
interface StatementMetadata {
  readonly system: string;
  readonly database: string;
  readonly address: unknown;
  readonly port: unknown;
  readonly poolName: string | undefined;
  readonly metadata: DbOperationMetadata;
}

const MAX_METADATA_PER_STATEMENT = 8;

const KNOWN_OPTIONS = new Set(['pool', 'poolName', 'dbSystemName']);
const STATEMENT_CHANNELS = ['mysql2:query', 'mysql2:execute'] as const;
const POOL_CONNECT_CHANNEL = 'mysql2:pool:connect';
const MAX_CODE = 40;
let active = false;

/**
 * Measures mysql2 (3.20 and later) through its TracingChannels `mysql2:query`, `mysql2:execute` and
 * `mysql2:pool:connect`, for every connection and pool of the process, callback and promise APIs alike;
 * nothing of mysql2 is wrapped. Each statement emits `db.client.operation.start` and one `.stop` with `duration`
 * (native ns; for `pool.query`/`pool.execute`, from the checkout request, pool wait included), `queue_time`
 * (the checkout, pooled statements only) and `query_time`, and {@link DbOperationMetadata}: `db_system_name`
 * `mysql` or `mariadb`, operation and table from {@link summarizeSql} (the text mysql2 publishes has the
 * parameter values formatted in, so only its summary is read, never the text), `error_type` = the error's
 * code (`ER_DUP_ENTRY`, `ER_PARSE_ERROR`) on failure. Every checkout emits `db.client.connection.wait`; with
 * `pool`, the pool's connection counts are reported on its events. Use with `mysql2Metrics()`.
 *
 * Subscribe before the statements start: a statement that began earlier is not published.
 *
 * @throws TelemeterTypeError at start-up: `ERR_TELEMETER_UNKNOWN_OPTION` or `ERR_TELEMETER_INVALID_OPTION`
 * for an option, `ERR_TELEMETER_INVALID_STATE` when mysql2 is already instrumented (the channels are
 * process-wide; stop() the first one).
 */
export function instrumentMysql2(options: Mysql2InstrumentationOptions = {}): Mysql2Instrumentation {
  const where = 'telemeter/mysql2: instrumentMysql2';
  checkOptionKeys(where, options, KNOWN_OPTIONS);
  const pool = options.pool === undefined ? undefined : poolInternals(options.pool);
  if (options.pool !== undefined && pool === undefined) {
    invalidOption(`${where}: option pool must be a mysql2 pool (createPool(), or its .promise())`);
  }
  if (options.poolName !== undefined && (typeof options.poolName !== 'string' || options.poolName === '')) {
    invalidOption(`${where}: option poolName must be a non-empty string`);
  }
  if (
    options.dbSystemName !== undefined &&
    options.dbSystemName !== 'mysql' &&
    options.dbSystemName !== 'mariadb'
  ) {
    invalidOption(`${where}: option dbSystemName must be 'mysql' or 'mariadb'`);
  }
  if (typeof diagnosticsChannel.tracingChannel !== 'function') {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_STATE',
      `${where}: this runtime has no diagnostics_channel.tracingChannel, which mysql2 publishes through`,
    );
  }
  if (active) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_STATE',
      `${where}: mysql2 is already instrumented (its channels are process-wide); stop() the first instrumentation`,
    );
  }
  active = true;
  const defaultSystem = options.dbSystemName ?? 'mysql';
  /** Servers (`address:port`) known to be MariaDB, learnt from the pool's connections. */
  const mariadbServers = new Set<string>();
  // The pool reports nothing until one of its connections has told the server's kind, so that its gauges never
  // start under `mysql` and move to `mariadb` (two series for one pool).
  let serverKnown = false;
  const poolServer = pool === undefined ? undefined : poolServerOf(pool);
  const poolName =
    options.poolName ?? (poolServer === undefined ? undefined : `${poolServer.key}/${poolServer.database}`);

  const nameOfPool = (context: StatementContext): string => {
    const server = serverKey(context);
    const database = typeof context.database === 'string' ? context.database : '';
    if (
      poolName !== undefined &&
      poolServer !== undefined &&
      poolServer.key === server &&
      poolServer.database === database
    ) {
      return poolName;
    }
    return `${server}/${database}`;
  };
  const systemOf = (context: StatementContext) =>
    mariadbServers.has(serverKey(context)) ? 'mariadb' : defaultSystem;

  // Statements repeat, and summarizeSql answers a repeated one with the same object: the metadata of each
  // statement, server and pool is built once, where building it per statement cost an object with two spreads.
  const metadataByStatement = new WeakMap<SqlSummary, StatementMetadata[]>();
  const metadataOf = (
    summary: SqlSummary,
    statement: StatementContext,
    poolName: string | undefined,
  ): DbOperationMetadata => {
    const system = systemOf(statement);
    const database = typeof statement.database === 'string' ? statement.database : '';
    const address = statement.serverAddress;
    const port = statement.serverPort;
    let known = metadataByStatement.get(summary);
    if (known === undefined) {
      known = [];
      metadataByStatement.set(summary, known);
    }
    for (let i = 0; i < known.length; i++) {
      const entry = known[i];
      if (
        entry.system === system &&
        entry.database === database &&
        entry.address === address &&
        entry.port === port &&
        entry.poolName === poolName
      ) {
        return entry.metadata;
      }
    }
    const metadata: DbOperationMetadata & { db_client_connection_pool_name?: string } = {
      db_system_name: system,
      db_operation_name: summary.operation,
      db_collection_name: summary.table,
      error_type: '',
      db_namespace: database,
      server_address: typeof address === 'string' ? address : serverKey(statement),
      ...(typeof port === 'number' ? { server_port: port } : {}),
      ...(poolName === undefined ? {} : { db_client_connection_pool_name: poolName }),
    };
    // Bounded: a process talks to a few servers and pools; past that, statements are described afresh.
    if (known.length < MAX_METADATA_PER_STATEMENT) {
      known.push({ system, database, address, port, poolName, metadata });
    }
    return metadata;
  };

  // A checkout whose callback is running: pool.query and pool.execute issue their statement synchronously in
  // it, so a statement that starts inside that window is the pooled one, and its checkout is its queue time.
  let checkoutInProgress: { start: number; end: number; poolName: string } | undefined;
  const checkoutStarts = new WeakMap<object, number>();
  const pending = new WeakMap<object, Pending>();

  const statementHandlers = {
    start(context: object) {
      const statement = context as StatementContext;
      // Only the first statement of the checkout's callback is the pooled one; later ones queue behind it.
      const checkout = checkoutInProgress;
      checkoutInProgress = undefined;
      const summary = summarizeSql(typeof statement.query === 'string' ? statement.query : '');
      const metadata = metadataOf(summary, statement, checkout?.poolName);
      const now = readClock();
      if (checkout === undefined) {
        pending.set(context, {
          start: startOperation(metadata),
          metadata,
          queueTime: undefined,
          queryStart: now,
        });
      } else {
        // The start event goes out now; its time is the checkout request's, as the stop's duration counts.
        startOperation(metadata);
        pending.set(context, {
          start: checkout.start,
          metadata,
          queueTime: elapsedNs(checkout.start, checkout.end),
          queryStart: now,
        });
      }
    },
    end(context: object) {
      // An error already set at `end` was thrown synchronously: no asyncStart follows.
      if ((context as StatementContext).error !== undefined) finishStatement(context);
    },
    asyncStart(context: object) {
      finishStatement(context);
    },
    asyncEnd() {},
    error() {},
  };
  const finishStatement = (context: object) => {
    const record = pending.get(context);
    if (record === undefined) return;
    pending.delete(context);
    const error = (context as StatementContext).error;
    const failed = error !== undefined && error !== null;
    const now = readClock();
    finishOperation(
      record.start,
      record.metadata,
      failed ? error : undefined,
      failed ? mysqlErrorType(error) : '',
      record.queueTime === undefined
        ? { query_time: elapsedNs(record.queryStart, now) }
        : { queue_time: record.queueTime, query_time: elapsedNs(record.queryStart, now) },
      now,
    );
  };

  const stopCollecting =
    pool === undefined || poolName === undefined || poolServer === undefined
      ? () => {}
      : collectCountsOf(pool, poolName, () =>
          serverKnown ? (mariadbServers.has(poolServer.key) ? 'mariadb' : defaultSystem) : undefined,
        );
  const poolConnectHandlers = {
    start(context: object) {
      checkoutStarts.set(context, readClock());
    },
    end(context: object) {
      if ((context as StatementContext).error !== undefined) checkedOut(context, false);
    },
    asyncStart(context: object) {
      checkedOut(context, true);
    },
    asyncEnd() {
      checkoutInProgress = undefined;
    },
    error() {},
  };
  const checkedOut = (context: object, callbackFollows: boolean) => {
    const start = checkoutStarts.get(context);
    if (start === undefined) return;
    checkoutStarts.delete(context);
    const now = readClock();
    const statement = context as StatementContext;
    const error = statement.error;
    const name = nameOfPool(statement);
    guarded(() => {
      if (hasHandlers(DB_CONNECTION_EVENTS.wait)) {
        execute(
          DB_CONNECTION_EVENTS.wait,
          { duration: elapsedNs(start, now), monotonic_time: monotonicNs(now) },
          {
            db_system_name: systemOf(statement),
            db_client_connection_pool_name: name,
            error_type: error === undefined || error === null ? '' : mysqlErrorType(error),
          },
        );
      }
    });
    if (callbackFollows && (error === undefined || error === null))
      checkoutInProgress = { start, end: now, poolName: name };
  };

  const subscriptions: Array<
    [ReturnType<typeof diagnosticsChannel.tracingChannel>, Record<string, (m: any) => void>]
  > = [];
  const subscribe = (name: string, handlers: Record<string, (message: any) => void>) => {
    const channel = diagnosticsChannel.tracingChannel(name);
    const safe = Object.fromEntries(
      Object.entries(handlers).map(([event, handler]) => [
        event,
        (message: unknown) => {
          try {
            handler(message);
          } catch (error) {
            processLog.errorOnce(
              `mysql2:${name}:${event}`,
              { err: error },
              `telemeter/mysql2: failed to record ${name} ${event}`,
            );
          }
        },
      ]),
    );
    channel.subscribe(safe as never);
    subscriptions.push([channel, safe]);
  };
  for (const name of STATEMENT_CHANNELS) subscribe(name, statementHandlers);
  subscribe(POOL_CONNECT_CHANNEL, poolConnectHandlers);

  const poolListeners: Array<[string, (...args: any[]) => void]> = [];
  if (pool !== undefined) {
    const learn = (connection: Loose) => {
      if (connection?._handshakePacket) serverKnown = true;
      const version = connection?._handshakePacket?.serverVersion;
      if (connection?._isMariaDB === true || (typeof version === 'string' && /mariadb/i.test(version))) {
        const config = connection.config ?? {};
        mariadbServers.add(
          serverKey({
            serverAddress: config.socketPath ?? config.host,
            serverPort: config.socketPath ? undefined : config.port,
          }),
        );
      }
    };
    poolListeners.push(['connection', (connection: Loose) => learn(connection)]);
    for (const [event, listener] of poolListeners) pool.on(event, listener);
    // Connections made before instrumenting.
    for (const connection of queueItems(pool._allConnections)) learn(connection);
  }

  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      for (const [channel, handlers] of subscriptions) channel.unsubscribe(handlers as never);
      for (const [event, listener] of poolListeners) pool?.removeListener(event, listener);
      stopCollecting();
      active = false;
    },
  };
}

/** `address:port` of a trace context, as OpenTelemetry names a pool (`address` alone for a socket path). */
function serverKey(context: { serverAddress?: unknown; serverPort?: unknown }): string {
  const { serverAddress, serverPort } = context;
  // Every statement asks, and a process mostly talks to one server: the last answer is kept.
  if (serverAddress === lastServer.address && serverPort === lastServer.port) return lastServer.key;
  const address = typeof serverAddress === 'string' && serverAddress !== '' ? serverAddress : 'localhost';
  const key = serverPort === undefined || serverPort === null ? address : `${address}:${serverPort}`;
  lastServer = { address: serverAddress, port: serverPort, key };
  return key;
}

let lastServer: { address: unknown; port: unknown; key: string } = { address: {}, port: {}, key: '' };

/** The callback pool behind a pool or a promise pool, when it looks like mysql2's. */
function poolInternals(value: object): Loose | undefined {
  const candidate = value as Loose;
  for (const pool of [candidate, candidate?.pool]) {
    if (
      typeof pool === 'object' &&
      pool !== null &&
      typeof pool.getConnection === 'function' &&
      pool._allConnections !== undefined &&
      typeof pool.on === 'function'
    ) {
      return pool;
    }
  }
  return undefined;
}

function poolServerOf(pool: Loose): { key: string; database: string } {
  const config: Loose = pool.config?.connectionConfig ?? {};
  const key = config.socketPath
    ? serverKey({ serverAddress: config.socketPath })
    : serverKey({ serverAddress: config.host || 'localhost', serverPort: config.port || 3306 });
  return { key, database: typeof config.database === 'string' ? config.database : '' };
}

/** Items of mysql2's internal queue (denque), read defensively: it is not a public interface. */
function queueItems(queue: Loose | undefined): Loose[] {
  if (queue === undefined || queue === null) return [];
  if (typeof queue.toArray === 'function') return queue.toArray();
  return [];
}

function queueLength(queue: Loose | undefined): number {
  const length = queue?.length;
  return typeof length === 'number' && length >= 0 ? length : 0;
}

/**
 * Reports the pool's counts before each read of the metrics; returns the function that stops it. mysql2 keeps
 * them only in private queues (`_allConnections`, `_freeConnections`, `_connectionQueue`); a version without
 * them reports zeros.
 */
function collectCountsOf(pool: Loose, poolName: string, systemOf: () => string | undefined): () => void {
  let identity: { db_system_name: string; db_client_connection_pool_name: string } | undefined;
  return collectPoolCounts(
    () => ({
      total: queueLength(pool._allConnections),
      idle: queueLength(pool._freeConnections),
      waiting: queueLength(pool._connectionQueue),
    }),
    () => {
      const system = systemOf();
      if (system === undefined) return undefined;
      if (identity?.db_system_name !== system) {
        identity = { db_system_name: system, db_client_connection_pool_name: poolName };
      }
      return identity;
    },
  );
}

/** `error_type` of a failed statement: mysql2's error code (`ER_DUP_ENTRY`, `ECONNREFUSED`), else the error's name. */
export function mysqlErrorType(error: unknown): string {
  const { code, name } = (typeof error === 'object' && error !== null ? error : {}) as Loose;
  if (typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code) && code.length <= MAX_CODE) return code;
  if (typeof name === 'string' && name !== '' && name.length <= MAX_CODE) return name;
  return 'Error';
}
