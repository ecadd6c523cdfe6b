/**
 * Connection-pool events and metrics shared by the SQL integrations (pg, mysql2), after OpenTelemetry's
 * `db.client.connection.*` metrics and Ecto's `queue_time`: one family per metric whichever library a pool
 * belongs to, told apart by `db_client_connection_pool_name`.
 */
import { addCollector, execute, hasHandlers, type Metadata } from '../events/index.js';
import { distribution, lastValue, type MetricDefinition } from '../metrics/index.js';
import { DB_OPERATION_EVENTS } from './operation-events.js';

/** Names of the pool events. */
export const DB_CONNECTION_EVENTS: Readonly<{ count: string; pendingRequests: string; wait: string }> =
  Object.freeze({
    /** `{ count }`, metadata {@link DbConnectionCountMetadata}: connections in one state, just before each read of the metrics. */
    count: 'db.client.connection.count',
    /** `{ count }`, metadata {@link DbPoolMetadata}: checkouts waiting for a connection, just before each read of the metrics. */
    pendingRequests: 'db.client.connection.pending_requests',
    /** `{ duration }` (native ns), metadata {@link DbPoolMetadata} + `error_type`: one checkout, queued or not. */
    wait: 'db.client.connection.wait',
  });

/** Metadata of every pool event. */
export interface DbPoolMetadata {
  readonly db_system_name: string;
  /** The pool's name: the user's, or `host:port/database` as OpenTelemetry names a pool without one. */
  readonly db_client_connection_pool_name: string;
}

/** Metadata of the connection-count event. */
export interface DbConnectionCountMetadata extends DbPoolMetadata {
  readonly db_client_connection_state: 'idle' | 'used';
}

/** Buckets of the wait and queue-time histograms, in seconds: OpenTelemetry's operation buckets, finer at the low end. */
export const DB_CONNECTION_WAIT_BUCKETS: readonly number[] = Object.freeze([
  0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10,
]);

const POOL_TAGS = ['db_system_name', 'db_client_connection_pool_name'] as const;

const connectionCount = lastValue('db_client_connection_count', {
  eventName: DB_CONNECTION_EVENTS.count,
  measurement: 'count',
  tags: [...POOL_TAGS, 'db_client_connection_state'],
  description: 'Connections of a pool, by state (idle or used), as the pool last reported them.',
});

const pendingRequests = lastValue('db_client_connection_pending_requests', {
  eventName: DB_CONNECTION_EVENTS.pendingRequests,
  measurement: 'count',
  tags: POOL_TAGS,
  description: 'Requests waiting for a connection of a pool, as the pool last reported them.',
});

const waitTime = distribution('db_client_connection_wait_time_seconds', {
  eventName: DB_CONNECTION_EVENTS.wait,
  measurement: 'duration',
  unit: ['native', 'second'],
  tags: POOL_TAGS,
  description: 'Time to obtain a connection from a pool (checkout), queued or not.',
  reporterOptions: { buckets: DB_CONNECTION_WAIT_BUCKETS },
});

// Ecto's queue_time: the part of a pooled operation's duration spent waiting for a connection. Operations that
// did not go through a pool (a Client, Redis) have no `queue_time`, and are left out rather than dropped.
const queueTime = distribution('db_client_operation_queue_time_seconds', {
  eventName: DB_OPERATION_EVENTS.stop,
  measurement: 'queue_time',
  unit: ['native', 'second'],
  tags: POOL_TAGS,
  keep: (_metadata, measurements) => typeof measurements.queue_time === 'number',
  description:
    'Part of a pooled operation spent waiting for a connection (Ecto queue_time), by system and pool.',
  reporterOptions: { buckets: DB_CONNECTION_WAIT_BUCKETS },
});

/**
 * The pool metrics, the same objects on every call so that pg and mysql2 share them:
 * `db_client_connection_count{db_system_name, db_client_connection_pool_name, db_client_connection_state}`,
 * `db_client_connection_pending_requests{…pool}`, `db_client_connection_wait_time_seconds{…pool}` and
 * `db_client_operation_queue_time_seconds{…pool}`.
 */
export function dbConnectionPoolMetrics(): MetricDefinition[] {
  return [connectionCount, pendingRequests, waitTime, queueTime];
}

/** A pool's counts as its library exposes them. */
export interface PoolCounts {
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

/**
 * Reports a pool's counts just before each read of the metrics (see events/collectors.ts), as
 * {@link DB_CONNECTION_EVENTS} `count` (idle and used) and `pendingRequests`; returns the function that stops
 * it. A busy pool changes its counts two or three times per query, and each report is up to three events: read
 * a few times a minute instead, the gauges show the same values at no cost per query. `identify` gives the
 * pool's system and name, or `undefined` while the system is not known yet (nothing is reported then).
 */
export function collectPoolCounts(
  readCounts: () => PoolCounts,
  identify: () => DbPoolMetadata | undefined,
): () => void {
  // Built once per pool identity: event metadata is plain records, as `execute` takes them.
  let metadata: { of: DbPoolMetadata; pool: Metadata; idle: Metadata; used: Metadata } | undefined;
  return addCollector(() => {
    const pool = identify();
    if (pool === undefined) return;
    const countHeard = hasHandlers(DB_CONNECTION_EVENTS.count);
    const pendingHeard = hasHandlers(DB_CONNECTION_EVENTS.pendingRequests);
    if (!countHeard && !pendingHeard) return;
    const { total, idle, waiting } = readCounts();
    if (metadata?.of !== pool) {
      metadata = {
        of: pool,
        pool: { ...pool },
        idle: { ...pool, db_client_connection_state: 'idle' },
        used: { ...pool, db_client_connection_state: 'used' },
      };
    }
    if (countHeard) {
      execute(DB_CONNECTION_EVENTS.count, { count: idle }, metadata.idle);
      execute(DB_CONNECTION_EVENTS.count, { count: Math.max(0, total - idle) }, metadata.used);
    }
    if (pendingHeard) execute(DB_CONNECTION_EVENTS.pendingRequests, { count: waiting }, metadata.pool);
  });
}
