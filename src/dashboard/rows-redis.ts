import { type ExportedMetric, findMetric } from './exported-metrics.js';
import type { PanelBody, PanelBuilders } from './grafana.js';
import { bucketRates, observationRates, sumBy, TARGET_MATCHERS } from './promql.js';

const RATE = '[$__rate_interval]';

/**
 * The Redis panels of the dashboard's `redis` row (the row of `redisMetrics()`'s `redis_client_*` metrics), read
 * from the shared `db_client_operation_duration_seconds` where `db_system_name="redis"`: commands per second
 * and p99 latency by command, and failed commands by error class. The generic panels of the row show the
 * connection and batch metrics. Nothing when the shared histogram is not among the definitions.
 */
export function redisPanels(metrics: readonly ExportedMetric[], build: PanelBuilders): PanelBody[] {
  const operations = findMetric(metrics, 'db_client_operation_duration_seconds', 'histogram');
  if (operations === undefined || findMetric(metrics, 'redis_client_connects', 'counter') === undefined)
    return [];
  const redis = [...TARGET_MATCHERS, 'db_system_name="redis"'];
  const count = (matchers: readonly string[]) => observationRates(operations, matchers, RATE);
  return [
    build.timeseries({
      title: 'Redis commands per second, by command',
      description: 'Redis commands and batches (BATCH MULTI, BATCH PIPELINE, each one operation) per second.',
      unit: 'ops',
      targets: [build.target(sumBy(['db_operation_name'], count(redis)), '{{db_operation_name}}', 'A')],
      minZero: true,
    }),
    build.timeseries({
      title: 'Redis p99 latency, by command',
      description:
        'The slowest 1% of each Redis command, from the call to its reply (offline-queue wait included).',
      unit: 's',
      targets: [
        build.target(
          `histogram_quantile(0.99, ${bucketRates(operations, ['le', 'db_operation_name'], redis, RATE)})`,
          'p99 {{db_operation_name}}',
          'A',
        ),
      ],
      minZero: true,
    }),
    build.timeseries({
      title: 'Redis failed commands per second, by error class',
      description:
        'Redis commands that failed, by command and error class (WRONGTYPE, ERR, NOSCRIPT, ECONNREFUSED, ...).',
      unit: 'ops',
      targets: [
        build.target(
          sumBy(['db_operation_name', 'error_type'], count([...redis, 'error_type!=""'])),
          '{{db_operation_name}} {{error_type}}',
          'A',
        ),
      ],
      minZero: true,
    }),
  ];
}
