import diagnosticsChannel from 'node:diagnostics_channel';
import { DB_OPERATION_EVENTS, type DbOperationMetadata } from '../db/index.js';
import { invalidOption } from '../errors.js';
// performance.now() instead of monotonicTime(): it allocates no BigInt, read twice per command (see events/operation-clock.ts).
import {
  elapsedNs,
  execute,
  hasHandlers,
  type Metadata,
  monotonicNs,
  readClock,
  systemNs,
} from '../events/index.js';
import { processLog } from '../logger.js';
import { checkOptionKeys } from '../options.js';
import {
  REDIS_CONNECTION_EVENT,
  type RedisClientName,
  type RedisConnectionMetadata,
} from './connection-events.js';
import { firstFailedReply, redisErrorType } from './error-type.js';

/** Options of {@link instrumentRedis}. */
export interface RedisInstrumentationOptions {
  /** Which client libraries to observe. Default both: `['ioredis', 'node-redis']`. */
  readonly clients?: readonly RedisClientName[];
}

/** What {@link instrumentRedis} returns. */
export interface RedisInstrumentation {
  /** Unsubscribes from every channel; operations already in flight are not reported. Idempotent. */
  stop(): void;
}

/** Metadata of a Redis operation event: the shared database shape plus which client ran it. */
export interface RedisOperationMetadata extends DbOperationMetadata {
  readonly redis_client: RedisClientName;
}

/** The fields telemeter reads from both libraries' command, batch and connect contexts. */
interface TracingContext {
  readonly command?: unknown;
  readonly batchMode?: unknown;
  readonly batchSize?: unknown;
  readonly database?: unknown;
  readonly serverAddress?: unknown;
  readonly serverPort?: unknown;
  readonly connectionEpoch?: unknown;
  readonly error?: unknown;
  readonly result?: unknown;
}

/** A command's metadata, reused while the context's database and server stay the same. */
interface CachedMetadata {
  readonly database: unknown;
  readonly serverAddress: unknown;
  readonly serverPort: unknown;
  readonly metadata: Metadata;
}

/** A library's context, carrying an in-flight operation's start time and metadata under an instrumentation's keys. */
type PendingContext = TracingContext & Record<symbol, unknown>;

interface PendingConnect {
  readonly start: number;
  readonly reconnect: string;
  readonly server_address: string | undefined;
  readonly server_port: number | undefined;
}

/** Node accepts any subset of the five handlers (its typings ask for all five). */
type TracingHandlers = Partial<
  Record<'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error', (context: TracingContext) => void>
>;

const KNOWN_OPTIONS = new Set(['clients']);
const CLIENTS: readonly RedisClientName[] = ['ioredis', 'node-redis'];
/** Command names are labels: past this many distinct names, new ones are reported as `OTHER`. */
const MAX_OPERATION_NAMES = 500;
const OPERATION_NAME = /^[A-Za-z][\w.|-]{0,63}$/;

/**
 * Measures Redis commands, batches and connections of **ioredis ≥ 5.11** and **node-redis (`@redis/client`)
 * ≥ 5.12** through the `TracingChannel`s those versions publish (`ioredis:command|batch|connect`,
 * `node-redis:command|batch` and the point channels `node-redis:connection:ready|closed`, `node-redis:error`).
 * Nothing is patched; older versions publish nothing, so they are simply not measured. Call it **before** the
 * clients run commands: a channel reports only the calls that start after a subscriber is attached.
 *
 * Operations emit {@link DB_OPERATION_EVENTS}: `start`, then exactly one `stop` with `duration` (native ns,
 * from the call to its reply) and {@link RedisOperationMetadata} — `db_system_name: 'redis'`,
 * `db_operation_name` the command upper-cased (`GET`, `HSET`) or `BATCH MULTI` / `BATCH PIPELINE` with
 * `batch_size` for a batch, `db_collection_name: ''` (keys are never labels), `error_type` `''` or the error's
 * class (`WRONGTYPE`, `ERR`, `ECONNREFUSED`). A failed operation emits `exception` (`kind`, `reason`) before its
 * `stop`. A batch is one operation: the commands inside it emit nothing of their own, so the shared histogram
 * counts each round trip once; a batch in which a command failed carries that command's error class.
 * ioredis publishes no batch for a plain `pipeline()`, so its commands are reported one by one.
 *
 * Connections emit {@link REDIS_CONNECTION_EVENT}. Every subscriber is guarded: a fault in telemeter is logged
 * once and never reaches the application.
 *
 * @throws TelemeterTypeError for an option, naming it: `ERR_TELEMETER_UNKNOWN_OPTION` or
 * `ERR_TELEMETER_INVALID_OPTION`.
 */
export function instrumentRedis(options: RedisInstrumentationOptions = {}): RedisInstrumentation {
  const where = 'telemeter/redis: instrumentRedis';
  checkOptionKeys(where, options, KNOWN_OPTIONS);
  const clients = options.clients ?? CLIENTS;
  if (
    !Array.isArray(clients) ||
    clients.length === 0 ||
    clients.some((c) => !CLIENTS.includes(c as RedisClientName))
  ) {
    invalidOption(`${where}: option clients must be a non-empty array of 'ioredis' and/or 'node-redis'`);
  }

  const connects = new WeakMap<object, PendingConnect>();
  const operationName = operationNamer();
  const unsubscribes: Array<() => void> = [];

  const guard =
    <T>(what: string, handler: (message: T) => void) =>
    (message: T): void => {
      try {
        handler(message);
      } catch (error) {
        processLog.errorOnce(`redis:${what}`, { err: error }, `telemeter/redis: failed to record ${what}`);
      }
    };
  const onTracing = (channel: string, handlers: TracingHandlers) => {
    const guarded: Record<string, (context: TracingContext) => void> = {};
    for (const [key, handler] of Object.entries(handlers)) guarded[key] = guard(`${channel} ${key}`, handler);
    const tracing = diagnosticsChannel.tracingChannel(channel);
    const subscribers = guarded as unknown as Parameters<typeof tracing.subscribe>[0];
    tracing.subscribe(subscribers);
    unsubscribes.push(() => tracing.unsubscribe(subscribers));
  };
  const onPoint = (channel: string, handler: (message: any) => void) => {
    const guarded = guard(channel, handler);
    diagnosticsChannel.subscribe(channel, guarded);
    unsubscribes.push(() => diagnosticsChannel.unsubscribe(channel, guarded));
  };

  // The metadata of a successful command is the same for every call with the same name on the same server and
  // database: it is built once, frozen, and reused, so a command costs no allocation for it.
  const metadataCache: Record<RedisClientName, Map<string, CachedMetadata>> = {
    ioredis: new Map(),
    'node-redis': new Map(),
  };
  // Keys of this instrumentation's own, so that two instrumentations never read each other's start times.
  const PENDING_START = Symbol('telemeter.redis.start');
  const PENDING_METADATA = Symbol('telemeter.redis.metadata');
  const metadataOf = (client: RedisClientName, context: TracingContext, name: string, batchSize?: number) => {
    const { database, serverAddress, serverPort } = context;
    // Keyed by the name string operationName returns, one instance per command, so the lookup hashes nothing.
    const cache = metadataCache[client];
    const cached = batchSize === undefined ? cache.get(name) : undefined;
    if (
      cached !== undefined &&
      cached.database === database &&
      cached.serverAddress === serverAddress &&
      cached.serverPort === serverPort
    ) {
      return cached.metadata;
    }
    const metadata: Metadata = Object.freeze({
      db_system_name: 'redis',
      db_operation_name: name,
      db_collection_name: '',
      error_type: '',
      db_namespace: database === undefined ? '' : String(database),
      server_address: typeof serverAddress === 'string' ? serverAddress : '',
      ...(typeof serverPort === 'number' ? { server_port: serverPort } : {}),
      ...(batchSize === undefined ? {} : { batch_size: batchSize }),
      redis_client: client,
    } satisfies RedisOperationMetadata);
    if (batchSize === undefined) cache.set(name, { database, serverAddress, serverPort, metadata });
    return metadata;
  };
  const begin = (client: RedisClientName, context: TracingContext, name: string, batchSize?: number) => {
    const metadata = metadataOf(client, context, name, batchSize);
    const start = readClock();
    // On the context itself rather than in a WeakMap: the library makes one per call, and a property is cheaper.
    const pending = context as PendingContext;
    pending[PENDING_START] = start;
    pending[PENDING_METADATA] = metadata;
    if (hasHandlers(DB_OPERATION_EVENTS.start)) {
      execute(
        DB_OPERATION_EVENTS.start,
        { system_time: systemNs(start), monotonic_time: monotonicNs(start) },
        metadata,
      );
    }
  };
  const finish = (context: TracingContext) => {
    const pending = context as PendingContext;
    const start = pending[PENDING_START] as number | undefined;
    const started = pending[PENDING_METADATA] as Metadata | undefined;
    if (start === undefined || started === undefined) return;
    pending[PENDING_START] = undefined;
    pending[PENDING_METADATA] = undefined;
    const now = readClock();
    const measurements = { duration: elapsedNs(start, now), monotonic_time: monotonicNs(now) };
    const error =
      'error' in context
        ? context.error
        : started.batch_size !== undefined
          ? firstFailedReply(context.result)
          : undefined;
    if (error === undefined) {
      execute(DB_OPERATION_EVENTS.stop, measurements, started);
      return;
    }
    const metadata = { ...started, error_type: redisErrorType(error) };
    if (hasHandlers(DB_OPERATION_EVENTS.exception)) {
      execute(DB_OPERATION_EVENTS.exception, measurements, {
        ...metadata,
        kind: error instanceof Error ? 'error' : 'throw',
        reason: error,
        stacktrace: error instanceof Error ? error.stack : undefined,
      });
    }
    execute(DB_OPERATION_EVENTS.stop, measurements, metadata);
  };
  // tracePromise publishes `end` right after the traced function returns; an `error` already on the context
  // then means it threw synchronously, and no asyncEnd will follow.
  const endIfThrown = (context: TracingContext) => {
    if ('error' in context) finish(context);
  };
  const connection = (
    connectionMetadata: RedisConnectionMetadata,
    duration: number | undefined,
    openDelta: number,
  ) => {
    const now = monotonicNs(readClock());
    execute(
      REDIS_CONNECTION_EVENT,
      duration === undefined
        ? { open_delta: openDelta, monotonic_time: now }
        : { duration, open_delta: openDelta, monotonic_time: now },
      { ...connectionMetadata },
    );
  };

  if (clients.includes('ioredis')) {
    // ioredis traces the commands of a MULTI (MULTI, each command, EXEC) individually as well as the batch, with
    // nothing on their contexts linking them to it; Pipeline#exec writes them synchronously inside the traced
    // batch function, i.e. between the batch's `start` and `end`, which is how they are recognised here.
    let insideBatch = 0;
    onTracing('ioredis:command', {
      start: (context: TracingContext) => {
        if (insideBatch === 0) begin('ioredis', context, operationName(context.command));
      },
      end: endIfThrown,
      asyncEnd: finish,
    });
    onTracing('ioredis:batch', {
      start: (context: TracingContext) => {
        insideBatch++;
        begin('ioredis', context, batchName(context.batchMode), batchSizeOf(context.batchSize));
      },
      end: (context: TracingContext) => {
        insideBatch = Math.max(0, insideBatch - 1);
        endIfThrown(context);
      },
      asyncEnd: finish,
    });
    onTracing('ioredis:connect', {
      start: (context: TracingContext) => {
        connects.set(context, {
          start: readClock(),
          // connectionEpoch counts earlier connects of this client; it is read before the new attempt.
          reconnect:
            typeof context.connectionEpoch === 'number' && context.connectionEpoch > 0 ? 'true' : 'false',
          server_address: typeof context.serverAddress === 'string' ? context.serverAddress : undefined,
          server_port: typeof context.serverPort === 'number' ? context.serverPort : undefined,
        });
      },
      asyncEnd: (context: TracingContext) => {
        const pending = connects.get(context);
        if (pending === undefined) return;
        connects.delete(context);
        const failed = 'error' in context;
        connection(
          {
            redis_client: 'ioredis',
            change: failed ? 'error' : 'ready',
            reconnect: failed ? '' : pending.reconnect,
            error_type: failed ? redisErrorType(context.error) : '',
            reason: '',
            server_address: pending.server_address,
            server_port: pending.server_port,
            ...(failed ? { error: context.error } : {}),
          },
          failed ? undefined : elapsedNs(pending.start, readClock()),
          0,
        );
      },
    });
  }

  if (clients.includes('node-redis')) {
    // node-redis traces a MULTI as the batch only, and a PIPELINE's commands individually with `batchMode` set:
    // those are left to the batch.
    onTracing('node-redis:command', {
      start: (context: TracingContext) => {
        if (context.batchMode === undefined) begin('node-redis', context, operationName(context.command));
      },
      end: endIfThrown,
      asyncEnd: finish,
    });
    onTracing('node-redis:batch', {
      start: (context: TracingContext) =>
        begin('node-redis', context, batchName(context.batchMode), batchSizeOf(context.batchSize)),
      end: endIfThrown,
      asyncEnd: finish,
    });
    // Client ids seen ready (for `reconnect`) and currently open (so a close seen without its ready, from a
    // client connected before instrumentRedis, never takes the gauge below zero).
    const connectedBefore = new Set<unknown>();
    const open = new Set<unknown>();
    onPoint('node-redis:connection:ready', (message: Record<string, unknown>) => {
      const reconnect = connectedBefore.has(message.clientId) ? 'true' : 'false';
      connectedBefore.add(message.clientId);
      open.add(message.clientId);
      const createTimeMs = message.createTimeMs;
      connection(
        {
          redis_client: 'node-redis',
          change: 'ready',
          reconnect,
          error_type: '',
          reason: '',
          server_address: typeof message.serverAddress === 'string' ? message.serverAddress : undefined,
          server_port: typeof message.serverPort === 'number' ? message.serverPort : undefined,
        },
        typeof createTimeMs === 'number' ? Math.round(createTimeMs * 1e6) : undefined,
        1,
      );
    });
    onPoint('node-redis:connection:closed', (message: Record<string, unknown>) => {
      if (message.reason === 'application_close') connectedBefore.delete(message.clientId);
      if (!open.delete(message.clientId)) return;
      connection(
        {
          redis_client: 'node-redis',
          change: 'closed',
          reconnect: '',
          error_type: '',
          reason: typeof message.reason === 'string' ? message.reason : '',
        },
        undefined,
        -1,
      );
    });
    onPoint('node-redis:error', (message: Record<string, unknown>) => {
      connection(
        {
          redis_client: 'node-redis',
          change: 'error',
          reconnect: '',
          error_type: redisErrorType(message.error),
          reason: '',
          error: message.error,
        },
        undefined,
        0,
      );
    });
  }

  let installed = true;
  return {
    stop() {
      if (!installed) return;
      installed = false;
      for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
    },
  };
}

/** `BATCH MULTI` or `BATCH PIPELINE`, as OpenTelemetry names a batch operation. */
function batchName(mode: unknown): string {
  return mode === 'PIPELINE' ? 'BATCH PIPELINE' : 'BATCH MULTI';
}

function batchSizeOf(size: unknown): number {
  return typeof size === 'number' && Number.isFinite(size) ? size : 0;
}

/** Upper-cases command names once each, and bounds how many distinct ones become labels. */
function operationNamer(): (command: unknown) => string {
  const names = new Map<string, string>();
  return (command) => {
    if (typeof command !== 'string') return 'OTHER';
    let name = names.get(command);
    if (name === undefined) {
      name =
        names.size >= MAX_OPERATION_NAMES || !OPERATION_NAME.test(command) ? 'OTHER' : command.toUpperCase();
      if (names.size < MAX_OPERATION_NAMES) names.set(command, name);
    }
    return name;
  };
}
