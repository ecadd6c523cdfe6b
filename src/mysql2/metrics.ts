import { type SqlClientMetricsOptions, sqlClientMetrics } from '../db/sql-client-metrics.js';
import type { MetricDefinition } from '../metrics/index.js';

/** Options of {@link mysql2Metrics}. */
export type Mysql2MetricsOptions = SqlClientMetricsOptions;

/**
 * The metrics of `instrumentMysql2`: the same definition objects as `pgMetrics()` (the shared
 * `db_client_operation_duration_seconds` and the `db_client_connection_*` pool families), so both can be given
 * to one Telemeter.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_UNKNOWN_OPTION` or `ERR_TELEMETER_INVALID_OPTION` for an option.
 */
export function mysql2Metrics(options: Mysql2MetricsOptions = {}): MetricDefinition[] {
  return sqlClientMetrics('telemeter/mysql2: mysql2Metrics', options);
}
