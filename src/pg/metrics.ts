import { type SqlClientMetricsOptions, sqlClientMetrics } from '../db/sql-client-metrics.js';
import type { MetricDefinition } from '../metrics/index.js';

/** Options of {@link pgMetrics}. */
export type PgMetricsOptions = SqlClientMetricsOptions;

/**
 * The metrics of `instrumentPg`, the same definition objects that mysql2's and Redis's integrations list, so a
 * Telemeter given several of them records each family once:
 *
 * - `db_client_operation_duration_seconds{db_system_name, db_operation_name, db_collection_name, error_type}`;
 * - `db_client_connection_count{db_system_name, db_client_connection_pool_name, db_client_connection_state}`
 *   (`idle` or `used`), `db_client_connection_pending_requests{db_system_name, db_client_connection_pool_name}`;
 * - `db_client_connection_wait_time_seconds{…pool}` (each checkout) and
 *   `db_client_operation_queue_time_seconds{…pool}` (the pool wait of each `pool.query`, Ecto's `queue_time`).
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_UNKNOWN_OPTION` or `ERR_TELEMETER_INVALID_OPTION` for an option.
 */
export function pgMetrics(options: PgMetricsOptions = {}): MetricDefinition[] {
  return sqlClientMetrics('telemeter/pg: pgMetrics', options);
}
