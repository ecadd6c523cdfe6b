import type { Client, Pool } from 'pg';
import { collectPoolCounts, DB_CONNECTION_EVENTS } from '../db/connection-pool.js';
import type { DbOperationMetadata } from '../db/operation-events.js';
import { finishOperation, logEmitFailure, startOperation } from '../db/operation-recorder.js';
import { type SqlSummary, summarizeSql } from '../db/sql-summary.js';
import { invalidArgument, invalidOption, TelemeterTypeError } from '../errors.js';
import { elapsedNs, execute, hasHandlers, type Metadata, monotonicNs, readClock } from '../events/index.js';
import { checkOptionKeys } from '../options.js';

/** What {@link PgInstrumentationOptions.tagValues} is given: never logged, never a label. */
export interface PgQueryDescription {
  /** The statement text, placeholders and all (`SELECT … WHERE id = $1`); parameters are not included. */
  readonly text: string;
  /** The query config's `name` (a prepared statement's name), when it has one. */
  readonly name?: string;
}

/** Labels {@link PgInstrumentationOptions.tagValues} may set; each at most 64 characters, else ignored. */
export interface PgQueryTags {
  readonly db_operation_name?: string;
  readonly db_collection_name?: string;
}

/** Options of {@link instrumentPg}. */
export interface PgInstrumentationOptions {
  /**
   * Name of the pool in `db_client_connection_pool_name`. Default `host:port/database`, as OpenTelemetry names
   * a pool that has none.
   */
  readonly poolName?: string;
  /**
   * Sets the operation and/or table of a query instead of what is parsed from its SQL (or taken from its
   * `name`). Its answers become labels: return a few fixed values, never parts of the text.
   */
  readonly tagValues?: (query: PgQueryDescription) => PgQueryTags | undefined;
}

/** What {@link instrumentPg} returns. */
export interface PgInstrumentation {
  /** Puts the Pool's or Client's own methods back and stops reporting. Safe to call more than once. */
  stop(): void;
}

type Callback = (error: unknown, ...results: unknown[]) => unknown;
type AnyFunction = (...args: any[]) => any;
type Loose = Record<string, any>;

/** One operation between its start and its end, shared by the pool's and the client's view of it. */
interface Operation {
  /** A `readClock()` reading, as `startOperation` returns it. */
  readonly start: number;
  readonly metadata: DbOperationMetadata;
  /** When the statement went to the server (after any checkout): a `readClock()` reading. */
  queryStart: number | undefined;
  /** Waiting for the pool's checkout, in native nanoseconds. */
  queueTime: number | undefined;
  finished: boolean;
}

const KNOWN_OPTIONS = new Set(['poolName', 'tagValues']);
const MAX_TAG = 64;
const SQLSTATE = /^[0-9A-Z]{5}$/;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,39}$/;
const instrumented = new WeakSet<object>();

/**
 * Measures the queries of one node-postgres `Pool` or `Client` by wrapping **that object's** `query` (and, for
 * a pool, `connect` and the `query` of the clients it hands out), never pg's prototypes: other pools and
 * clients are untouched. node-postgres publishes no diagnostics channels (8.23), hence the wrapping.
 *
 * Every query emits `db.client.operation.start` and one `db.client.operation.stop` with `duration` (native ns;
 * for `pool.query`, from the call, pool wait included), `queue_time` (waiting for a connection, `pool.query`
 * only) and `query_time` (on the connection), and metadata {@link DbOperationMetadata} with `db_system_name`
 * `postgresql`, the operation and table read from the SQL by {@link summarizeSql} (or the query's `name` when the
 * SQL names no table, or `tagValues`), and on failure `error_type` = the SQLSTATE class (`23` for a unique
 * violation, `42` for a syntax error, `08` for a connection failure) or the error's code or name. Promise and
 * callback forms and submittables (`Cursor`, `QueryStream`) are measured. A pool also reports its connection
 * counts on each of its events and the time of each checkout (`db.client.connection.*`). Use with `pgMetrics()`.
 *
 * @throws TelemeterTypeError at start-up: `ERR_TELEMETER_INVALID_ARGUMENT` when `target` is not a pg Pool or
 * Client, `ERR_TELEMETER_INVALID_STATE` when it is already instrumented, `ERR_TELEMETER_UNKNOWN_OPTION` or
 * `ERR_TELEMETER_INVALID_OPTION` for an option.
 */
export function instrumentPg(
  target: Pool | Client,
  options: PgInstrumentationOptions = {},
): PgInstrumentation {
  const where = 'telemeter/pg: instrumentPg';
  checkOptionKeys(where, options, KNOWN_OPTIONS);
  if (typeof target !== 'object' || target === null || typeof (target as Loose).query !== 'function') {
    invalidArgument(`${where}: target must be a pg Pool or Client (an object with a query method)`);
  }
  if (options.poolName !== undefined && (typeof options.poolName !== 'string' || options.poolName === '')) {
    invalidOption(`${where}: option poolName must be a non-empty string`);
  }
  if (options.tagValues !== undefined && typeof options.tagValues !== 'function') {
    invalidOption(
      `${where}: option tagValues must be a function (query) => ({ db_operation_name?, db_collection_name? })`,
    );
  }
  if (instrumented.has(target)) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_STATE',
      `${where}: this ${isPool(target) ? 'Pool' : 'Client'} is already instrumented; stop() the first instrumentation before instrumenting it again`,
    );
  }
  instrumented.add(target);
  const restorers: Array<() => void> = [];
  const server = serverOf(target as Loose);
  const base = {
    db_system_name: 'postgresql' as const,
    db_namespace: server.database,
    server_address: server.host,
    server_port: server.port,
  };
  if (isPool(target)) {
    const poolName = options.poolName ?? `${server.host}:${server.port}/${server.database}`;
    const metadataOf = queryMetadata(
      { ...base, db_client_connection_pool_name: poolName },
      options.tagValues,
    );
    instrumentPool(target as Loose, poolName, metadataOf, restorers);
  } else {
    restorers.push(wrapClientQuery(target as Loose, queryMetadata(base, options.tagValues)));
  }

  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      for (const restore of restorers.splice(0).reverse()) restore();
      instrumented.delete(target);
    },
  };
}

type MetadataOf = (config: unknown) => DbOperationMetadata;

function isPool(target: object): boolean {
  const loose = target as Loose;
  return typeof loose.connect === 'function' && 'totalCount' in loose && 'idleCount' in loose;
}

/** Host, port and database of a pool's options or a client's connection parameters. */
function serverOf(target: Loose): { host: string; port: number; database: string } {
  const source: Loose = target.options ?? target.connectionParameters ?? target;
  let host: unknown = source.host ?? target.host;
  let port: unknown = source.port ?? target.port;
  let database: unknown = source.database ?? target.database;
  if (typeof source.connectionString === 'string') {
    try {
      const url = new URL(source.connectionString);
      host ??= decodeURIComponent(url.hostname);
      port ??= url.port === '' ? undefined : Number(url.port);
      database ??= decodeURIComponent(url.pathname.slice(1));
    } catch {
      // Not a URL (a socket path or key=value string): fall back to the defaults below.
    }
  }
  return {
    host: typeof host === 'string' && host !== '' ? host : 'localhost',
    port: Number(port) > 0 ? Number(port) : 5432,
    database: typeof database === 'string' ? database : '',
  };
}

/** The metadata of a query config (text, `{ text, name }` or a submittable), per the rules of {@link instrumentPg}. */
function queryMetadata(
  base: Pick<DbOperationMetadata, 'db_system_name' | 'db_namespace' | 'server_address' | 'server_port'> & {
    db_client_connection_pool_name?: string;
  },
  tagValues: PgInstrumentationOptions['tagValues'],
): MetadataOf {
  // Statements repeat, and summarizeSql answers a repeated one with the same object: its metadata is built once.
  const byStatement = new WeakMap<SqlSummary, DbOperationMetadata>();
  return (config) => {
    const text = typeof config === 'string' ? config : textOf(config);
    const name = typeof config === 'object' && config !== null ? (config as Loose).name : undefined;
    const summary = summarizeSql(text);
    const plain = name === undefined && tagValues === undefined;
    if (plain) {
      const known = byStatement.get(summary);
      if (known !== undefined) return known;
    }
    let operation = summary.operation;
    let collection = summary.table;
    if (collection === '' && typeof name === 'string' && name.length <= MAX_TAG) collection = name;
    if (tagValues !== undefined) {
      try {
        const tags = tagValues(name === undefined ? { text } : { text, name: String(name) });
        if (isTag(tags?.db_operation_name)) operation = tags.db_operation_name;
        if (isTag(tags?.db_collection_name)) collection = tags.db_collection_name;
      } catch {
        // A failing tagValues loses its answer, never the query.
      }
    }
    const metadata = {
      ...base,
      db_operation_name: operation,
      db_collection_name: collection,
      error_type: '',
    };
    if (plain) byStatement.set(summary, metadata);
    return metadata;
  };
}

function textOf(config: unknown): string {
  if (typeof config !== 'object' || config === null) return '';
  const text = (config as Loose).text;
  return typeof text === 'string' ? text : '';
}

function isTag(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_TAG;
}

/** `error_type` of a failed query: the SQLSTATE class, else a short error code, else the error's name. */
export function pgErrorType(error: unknown): string {
  const { code, name } = (typeof error === 'object' && error !== null ? error : {}) as Loose;
  if (typeof code === 'string') {
    if (SQLSTATE.test(code)) return code.slice(0, 2);
    if (ERROR_CODE.test(code)) return code;
  }
  if (typeof name === 'string' && name !== '' && name.length <= MAX_TAG) return name;
  return 'Error';
}

function finish(operation: Operation, error: unknown): void {
  if (operation.finished) return;
  operation.finished = true;
  const now = readClock();
  const failed = error !== undefined && error !== null;
  finishOperation(
    operation.start,
    operation.metadata,
    failed ? error : undefined,
    failed ? pgErrorType(error) : '',
    operation.queueTime === undefined
      ? { query_time: elapsedNs(operation.queryStart ?? operation.start, now) }
      : {
          queue_time: operation.queueTime,
          // The query started when the checkout ended: what the checkout did not take is the query's, so that
          // the two phases add up to the duration exactly, which rounding each separately would not.
          query_time:
            operation.queryStart === undefined ? 0 : elapsedNs(operation.start, now) - operation.queueTime,
        },
    now,
  );
}

/**
 * A callback that ends `operation` before calling `callback`. pg calls a query's callback with `(error, result)`;
 * fixed parameters rather than a rest array keep the call free of an allocation and a spread.
 */
function ending(operation: Operation, callback: Callback): Callback {
  return function endingCallback(this: unknown, error: unknown, result: unknown) {
    try {
      finish(operation, error);
    } catch {
      // finish already guards its emissions; nothing may reach the caller's callback path.
    }
    return callback.call(this, error, result);
  };
}

/**
 * The operation that `pool.query` checked a client out for, on that client until its `query` takes it. A
 * property of the client (which keeps its shape after the first time) costs less than a WeakMap's three
 * lookups per query and the garbage collector's work on its entries.
 */
const CHECKED_OUT_FOR = Symbol('telemeter.pg.checkedOutFor');
type PooledClient = Loose & { [CHECKED_OUT_FOR]?: Operation | undefined };

/** Wraps one client's own `query`; returns the function that puts it back. */
function wrapClientQuery(client: Loose, metadataOf: MetadataOf): () => void {
  const hadOwn = Object.hasOwn(client, 'query');
  const original = client.query as AnyFunction;
  const wrapper = function instrumentedQuery(
    this: Loose,
    config: unknown,
    values?: unknown,
    callback?: unknown,
  ) {
    const pooled = (this as PooledClient)[CHECKED_OUT_FOR];
    if (pooled !== undefined) (this as PooledClient)[CHECKED_OUT_FOR] = undefined;
    if (config === null || config === undefined || typeof config === 'function') {
      return original.call(this, config, values, callback);
    }
    const submittable = typeof (config as Loose).submit === 'function';
    let operation: Operation;
    if (pooled !== undefined) {
      operation = pooled;
      operation.queryStart ??= readClock();
    } else {
      // A query with no completion we can observe (an unusual submittable) is left unmeasured, not left open.
      const observable =
        typeof values === 'function' ||
        typeof callback === 'function' ||
        !submittable ||
        typeof (config as Loose).callback === 'function' ||
        typeof (config as Loose).once === 'function';
      if (!observable) return original.call(this, config, values, callback);
      const metadata = metadataOf(config);
      const start = startOperation(metadata);
      operation = {
        start,
        metadata,
        queryStart: start,
        queueTime: undefined,
        finished: false,
      };
    }
    if (typeof values === 'function') {
      values = ending(operation, values as Callback);
    } else if (typeof callback === 'function') {
      callback = ending(operation, callback as Callback);
    } else if (submittable) {
      const query = config as Loose;
      if (typeof query.callback === 'function') {
        query.callback = ending(operation, query.callback);
      } else if (typeof query.once === 'function') {
        query.once('end', () => finish(operation, undefined));
        query.once('error', (error: unknown) => finish(operation, error));
      }
    }
    let result: unknown;
    try {
      result = original.call(this, config, values, callback);
    } catch (error) {
      finish(operation, error);
      throw error;
    }
    if (!submittable && isThenable(result)) {
      result.then(
        () => finish(operation, undefined),
        (error: unknown) => finish(operation, error),
      );
    }
    return result;
  };
  client.query = wrapper;
  return () => {
    if (client.query !== wrapper) return;
    if (hadOwn) client.query = original;
    else delete client.query;
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as Loose).then === 'function';
}

function instrumentPool(
  pool: Loose,
  poolName: string,
  metadataOf: MetadataOf,
  restorers: Array<() => void>,
): void {
  const poolMeta = { db_system_name: 'postgresql', db_client_connection_pool_name: poolName };
  const stopCollecting = collectPoolCounts(
    () => ({
      total: Number(pool.totalCount) || 0,
      idle: Number(pool.idleCount) || 0,
      waiting: Number(pool.waitingCount) || 0,
    }),
    () => poolMeta,
  );

  // Clients the pool hands out get their own `query` wrapped, so queries on a checked-out client (transactions)
  // are measured too; pool.query's own use of the client joins the operation pool.query began.
  const clientRestorers = new Map<object, () => void>();
  const onAcquire = (client: Loose) => {
    if (!clientRestorers.has(client)) clientRestorers.set(client, wrapClientQuery(client, metadataOf));
  };
  const onRemove = (client: Loose) => {
    clientRestorers.get(client)?.();
    clientRestorers.delete(client);
  };
  const listeners: Array<[string, AnyFunction]> = [
    ['acquire', onAcquire],
    ['remove', onRemove],
  ];
  for (const [event, listener] of listeners) pool.on(event, listener);

  // pool.query calls this.connect synchronously; the operation it began is handed over through this slot.
  let queryAwaitingCheckout: Operation | undefined;

  const originalConnect = pool.connect as AnyFunction;
  const hadOwnConnect = Object.hasOwn(pool, 'connect');
  const checkout: Checkout = { poolMeta, waitMeta: { ...poolMeta, error_type: '' } };
  const connect = function instrumentedConnect(this: Loose, callback?: unknown) {
    const operation = queryAwaitingCheckout;
    queryAwaitingCheckout = undefined;
    // pool.query began its operation just before calling this: the checkout was requested at its start.
    const requested = operation?.start ?? readClock();
    let result: unknown;
    if (typeof callback === 'function') {
      // pg-pool calls back with (error, client, release).
      result = originalConnect.call(
        this,
        function checkedOutCallback(this: unknown, error: unknown, client: unknown, release: unknown) {
          checkedOut(checkout, requested, operation, error, client);
          return (callback as Callback).call(this, error, client, release);
        },
      );
    } else {
      result = originalConnect.call(this);
      if (isThenable(result))
        result.then(
          (client) => checkedOut(checkout, requested, operation, undefined, client),
          (error) => checkedOut(checkout, requested, operation, error, undefined),
        );
    }
    return result;
  };
  pool.connect = connect;

  const originalQuery = pool.query as AnyFunction;
  const hadOwnQuery = Object.hasOwn(pool, 'query');
  const query = function instrumentedPoolQuery(
    this: Loose,
    config: unknown,
    values?: unknown,
    callback?: unknown,
  ) {
    if (config === null || config === undefined || typeof config === 'function' || this !== pool) {
      return originalQuery.call(this, config, values, callback);
    }
    const metadata = metadataOf(config);
    const operation: Operation = {
      start: startOperation(metadata),
      metadata,
      queryStart: undefined,
      queueTime: undefined,
      finished: false,
    };
    // The operation ends in the checked-out client's `query` (its callback, however the caller asked), or in the
    // checkout when that fails: pool.query calls both with callbacks. Waiting on the promise pool.query returns
    // as well cost a promise reaction and two closures per query, for no case the two above miss.
    queryAwaitingCheckout = operation;
    try {
      return originalQuery.call(this, config, values, callback);
    } catch (error) {
      finish(operation, error);
      throw error;
    } finally {
      queryAwaitingCheckout = undefined;
    }
  };
  pool.query = query;

  restorers.push(() => {
    stopCollecting();
    for (const [event, listener] of listeners) pool.removeListener(event, listener);
    if (pool.connect === connect) {
      if (hadOwnConnect) pool.connect = originalConnect;
      else delete pool.connect;
    }
    if (pool.query === query) {
      if (hadOwnQuery) pool.query = originalQuery;
      else delete pool.query;
    }
    for (const restore of clientRestorers.values()) restore();
    clientRestorers.clear();
  });
}

/** What a pool's checkouts report to: built once per pool. */
interface Checkout {
  readonly poolMeta: { readonly db_system_name: string; readonly db_client_connection_pool_name: string };
  /** The wait event's metadata for a checkout that succeeded, the common case. */
  readonly waitMeta: Metadata;
}

/**
 * A checkout requested at `requested` (a `readClock()` reading) ended: reports its wait, and hands the client
 * to the operation `pool.query` began, if any, for that client's `query` to continue.
 */
function checkedOut(
  checkout: Checkout,
  requested: number,
  operation: Operation | undefined,
  error: unknown,
  client: unknown,
): void {
  const now = readClock();
  if (hasHandlers(DB_CONNECTION_EVENTS.wait)) {
    try {
      execute(
        DB_CONNECTION_EVENTS.wait,
        { duration: elapsedNs(requested, now), monotonic_time: monotonicNs(now) },
        error ? { ...checkout.poolMeta, error_type: pgErrorType(error) } : checkout.waitMeta,
      );
    } catch (failure) {
      logEmitFailure(failure);
    }
  }
  if (operation !== undefined) {
    operation.queueTime = elapsedNs(operation.start, now);
    if (!error && typeof client === 'object' && client !== null) {
      // The client's query runs right after this callback: its start is now, without reading the clock again.
      operation.queryStart = now;
      (client as PooledClient)[CHECKED_OUT_FOR] = operation;
    } else finish(operation, error ?? new Error('pg-pool handed out no client'));
  }
}
