import { distribution, type MetricDefinition } from '../metrics/index.js';
import { DB_OPERATION_EVENTS, DB_OPERATION_TAGS } from './operation-events.js';

/** OpenTelemetry's advisory buckets for `db.client.operation.duration`, in seconds. */
export const DB_OPERATION_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10,
]);

/**
 * The histogram every integration shares, built once: `pgMetrics()`, `mysql2Metrics()` and `redisMetrics()`
 * each list this same object, and a Telemeter given one definition object twice records it once, so the
 * integrations combine without a duplicate-name error.
 */
const operationDuration: MetricDefinition = distribution('db_client_operation_duration_seconds', {
  eventName: DB_OPERATION_EVENTS.stop,
  measurement: 'duration',
  unit: ['native', 'second'],
  tags: DB_OPERATION_TAGS,
  description:
    'Duration of database and cache operations (pool wait included), by system, operation, table and error type.',
  reporterOptions: { buckets: DB_OPERATION_DURATION_BUCKETS },
});

/**
 * The shared operation metrics: `db_client_operation_duration_seconds{db_system_name, db_operation_name,
 * db_collection_name, error_type}`. Each integration's `…Metrics()` includes it; call this one directly only
 * for an integration of your own that emits {@link DB_OPERATION_EVENTS}.
 */
export function dbOperationMetrics(): MetricDefinition[] {
  return [operationDuration];
}
