import { invalidOption } from '../errors.js';
import type { MetricDefinition } from '../metrics/index.js';
import { checkOptionKeys } from '../options.js';
import { dbConnectionPoolMetrics } from './connection-pool.js';
import { dbOperationMetrics } from './operation-metrics.js';

/** Options of `pgMetrics` and `mysql2Metrics`. */
export interface SqlClientMetricsOptions {
  /** Include the connection-pool metrics (counts, pending requests, wait and queue time). Default true. */
  readonly pool?: boolean;
}

const KNOWN_OPTIONS = new Set(['pool']);

/**
 * The definitions every SQL integration lists, the same objects for each, so a Telemeter given several records
 * each family once. `where` names the calling function in errors.
 */
export function sqlClientMetrics(where: string, options: SqlClientMetricsOptions): MetricDefinition[] {
  checkOptionKeys(where, options, KNOWN_OPTIONS);
  if (options.pool !== undefined && typeof options.pool !== 'boolean') {
    invalidOption(`${where}: option pool must be a boolean`);
  }
  return [...dbOperationMetrics(), ...(options.pool === false ? [] : dbConnectionPoolMetrics())];
}
