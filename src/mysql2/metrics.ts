import { dbConnectionPoolMetrics } from '../db/connection-pool.js';
import { dbOperationMetrics } from '../db/operation-metrics.js';
import { invalidOption } from '../errors.js';
import type { MetricDefinition } from '../metrics/index.js';
import { checkOptionKeys } from '../options.js';

/** Options of {@link mysql2Metrics}. */
export interface Mysql2MetricsOptions {
  /** Include the connection-pool metrics (counts, pending requests, wait and queue time). Default true. */
  readonly pool?: boolean;
}

const KNOWN_OPTIONS = new Set(['pool']);

/**
 * The metrics of `instrumentMysql2`: the same definition objects as `pgMetrics()` (the shared
 * `db_client_operation_duration_seconds` and the `db_client_connection_*` pool families), so both can be given
 * to one Telemeter.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_UNKNOWN_OPTION` or `ERR_TELEMETER_INVALID_OPTION` for an option.
 */
export function mysql2Metrics(options: Mysql2MetricsOptions = {}): MetricDefinition[] {
  const where = 'telemeter/mysql2: mysql2Metrics';
  checkOptionKeys(where, options, KNOWN_OPTIONS);
  if (options.pool !== undefined && typeof options.pool !== 'boolean') {
    invalidOption(`${where}: option pool must be a boolean`);
  }
  return [...dbOperationMetrics(), ...(options.pool === false ? [] : dbConnectionPoolMetrics())];
}
