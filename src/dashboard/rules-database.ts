/**
 * Alert rules over the database families shared by telemeter/pg, telemeter/mysql2 and telemeter/redis:
 * `db_client_operation_duration_seconds` and `db_client_connection_pending_requests`.
 */
import { invalidOption } from '../errors.js';
import type { ExportedMetric } from './exported-metrics.js';
import { findMetric } from './exported-metrics.js';
import { bucketRates, observationRates, selector, sumBy } from './promql.js';
import type { AlertRule } from './rules.js';

/** The database options of `alertRules`. */
export interface DatabaseAlertRulesOptions {
  /** Share of failed database operations, per job and system, that fires `DbOperationErrorRatioHigh`. Default 0.05. */
  readonly dbErrorRatio?: number;
  /** p99 database operation duration, in seconds, per job and system, that fires `DbOperationLatencyHigh`. Default 1. */
  readonly dbLatencyP99Seconds?: number;
}

/** The option keys above, for `alertRules`'s check of unknown keys. */
export const DATABASE_RULE_OPTIONS: readonly string[] = ['dbErrorRatio', 'dbLatencyP99Seconds'];

const WINDOW = '[5m]';

/**
 * `DbPoolSaturated` (requests waiting for a connection for 5 minutes), `DbOperationErrorRatioHigh` and
 * `DbOperationLatencyHigh` (p99), each only when its metric is among the definitions.
 */
export function databaseRules(
  metrics: readonly ExportedMetric[],
  job: readonly string[],
  options: DatabaseAlertRulesOptions,
): AlertRule[] {
  const where = 'telemeter: alertRules';
  const errorRatio = options.dbErrorRatio ?? 0.05;
  if (typeof errorRatio !== 'number' || !(errorRatio > 0 && errorRatio <= 1)) {
    invalidOption(`${where}: option dbErrorRatio must be a number in (0, 1]`);
  }
  const latency = options.dbLatencyP99Seconds ?? 1;
  if (typeof latency !== 'number' || !(latency > 0 && Number.isFinite(latency))) {
    invalidOption(`${where}: option dbLatencyP99Seconds must be a finite number > 0`);
  }
  const rules: AlertRule[] = [];

  const pending = findMetric(metrics, 'db_client_connection_pending_requests', 'gauge');
  if (pending !== undefined) {
    const by = ['job', 'instance', 'db_system_name', 'db_client_connection_pool_name'];
    rules.push({
      alert: 'DbPoolSaturated',
      expr: `${sumBy(by, selector(pending.series, job))} > 0`,
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary:
          'Pool {{ $labels.db_client_connection_pool_name }} of {{ $labels.instance }} has requests waiting for a connection',
        description:
          '{{ printf "%.0f" $value }} requests of {{ $labels.instance }} (job {{ $labels.job }}) have been waiting for a connection of pool {{ $labels.db_client_connection_pool_name }} ({{ $labels.db_system_name }}) at every evaluation for 5 minutes: every connection is busy, so queries queue and their queue time adds to every request. Slow queries, a pool too small for the load, or connections held across slow work (transactions left open).',
      },
    });
  }

  const duration = findMetric(metrics, 'db_client_operation_duration_seconds', 'histogram');
  if (duration !== undefined) {
    const by = ['job', 'db_system_name'];
    const failed = sumBy(by, observationRates(duration, [...job, 'error_type!=""'], WINDOW));
    const all = sumBy(by, observationRates(duration, job, WINDOW));
    rules.push({
      alert: 'DbOperationErrorRatioHigh',
      expr: `${failed} / ${all} > ${errorRatio}`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary:
          '{{ $value | humanizePercentage }} of the {{ $labels.db_system_name }} operations of job {{ $labels.job }} fail',
        description: `{{ $value | humanizePercentage }} of the {{ $labels.db_system_name }} operations of job {{ $labels.job }} failed over the last 5 minutes, and more than ${Number((errorRatio * 100).toFixed(6))}% for 10 minutes. The error_type label of db_client_operation_duration_seconds tells which: a SQLSTATE class (23 constraint violations, 42 syntax or missing objects, 08 lost connections, 57 cancelled or shut down) or a client error.`,
      },
    });
    rules.push({
      alert: 'DbOperationLatencyHigh',
      expr: `histogram_quantile(0.99, ${bucketRates(duration, [...by, 'le'], job, WINDOW)}) > ${latency}`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary:
          '{{ $labels.db_system_name }} operations of job {{ $labels.job }} are slow: p99 {{ $value | humanizeDuration }}',
        description: `The slowest 1% of the {{ $labels.db_system_name }} operations of job {{ $labels.job }} took {{ $value | humanizeDuration }} or more over the last 5 minutes, and over ${latency < 1 ? `${Number((latency * 1000).toPrecision(12))}ms` : `${Number(latency.toPrecision(12))}s`} for 10 minutes, pool wait included. Slow statements (a missing index, lock waits) or a saturated pool; db_client_operation_duration_seconds by db_operation_name and db_collection_name shows which.`,
      },
    });
  }
  return rules;
}
