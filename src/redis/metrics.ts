import { DB_OPERATION_EVENTS, dbOperationMetrics } from '../db/index.js';
import { counter, distribution, type MetricDefinition, sum } from '../metrics/index.js';
import { checkOptionKeys } from '../options.js';
import { REDIS_CONNECTION_EVENT } from './connection-events.js';

/** Buckets of `redis_client_batch_size`: commands per MULTI or pipeline. */
export const REDIS_BATCH_SIZE_BUCKETS: readonly number[] = Object.freeze([
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1000,
]);
/** OpenTelemetry's advisory buckets for `db.client.connection.create_time`, in seconds (as node-redis uses). */
const CREATE_TIME_BUCKETS: readonly number[] = Object.freeze([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]);

const isChange =
  (change: string) =>
  (metadata: Record<string, unknown>): boolean =>
    metadata.change === change;

// Built once, so that calling redisMetrics() twice hands a Telemeter the same objects (deduplicated).
const redisOwnMetrics: readonly MetricDefinition[] = Object.freeze([
  distribution('redis_client_batch_size', {
    eventName: DB_OPERATION_EVENTS.stop,
    measurement: (_measurements, metadata) => metadata.batch_size,
    keep: (metadata) => metadata.db_system_name === 'redis' && typeof metadata.batch_size === 'number',
    tags: ['db_operation_name'],
    description: 'Commands per Redis batch (MULTI transaction or pipeline), by batch kind.',
    reporterOptions: { buckets: REDIS_BATCH_SIZE_BUCKETS },
  }),
  counter('redis_client_connects_total', {
    eventName: REDIS_CONNECTION_EVENT,
    measurement: 'monotonic_time',
    keep: isChange('ready'),
    tags: ['redis_client', 'reconnect'],
    description: 'Redis connections established, by client library and whether it was a reconnect.',
  }),
  distribution('redis_client_connection_create_time_seconds', {
    eventName: REDIS_CONNECTION_EVENT,
    measurement: 'duration',
    unit: ['native', 'second'],
    keep: isChange('ready'),
    tags: ['redis_client'],
    description: 'Time to establish a Redis connection, from the connect attempt to ready.',
    reporterOptions: { buckets: CREATE_TIME_BUCKETS },
  }),
  counter('redis_client_connection_errors_total', {
    eventName: REDIS_CONNECTION_EVENT,
    measurement: 'monotonic_time',
    keep: isChange('error'),
    tags: ['redis_client', 'error_type'],
    description:
      'Redis connection errors (failed connects, dropped sockets), by client library and error class.',
  }),
  sum('redis_client_connections', {
    eventName: REDIS_CONNECTION_EVENT,
    measurement: 'open_delta',
    keep: (metadata) => metadata.redis_client === 'node-redis' && metadata.change !== 'error',
    tags: ['redis_client'],
    description: 'Open Redis connections (node-redis only: ioredis does not report closes).',
    reporterOptions: { prometheusType: 'gauge' },
  }),
]);

/**
 * Ready definitions for {@link instrumentRedis}: the shared `db_client_operation_duration_seconds` (see
 * `dbOperationMetrics`), `redis_client_batch_size{db_operation_name}`,
 * `redis_client_connects_total{redis_client, reconnect}`, `redis_client_connection_create_time_seconds{redis_client}`,
 * `redis_client_connection_errors_total{redis_client, error_type}` and `redis_client_connections{redis_client}`
 * (node-redis only).
 */
export function redisMetrics(options: Readonly<Record<string, never>> = {}): MetricDefinition[] {
  // It takes no options yet; a key given anyway (a misplaced instrumentRedis option) is a mistake to report.
  checkOptionKeys('telemeter/redis: redisMetrics', options, []);
  return [...dbOperationMetrics(), ...redisOwnMetrics];
}
