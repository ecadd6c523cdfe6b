/**
 * The panels of the Databases row, over the families shared by telemeter/pg, telemeter/mysql2 and
 * telemeter/redis: what an operator of a database client asks first (how many operations, how many fail, how
 * slow, is the pool exhausted), rather than one generic panel per metric.
 */
import type { ExportedMetric } from './exported-metrics.js';
import { bucketRates, observationRates, selector, sumBy, TARGET_MATCHERS } from './promql.js';

/** The panel builders of grafana.ts, handed in so this file adds panels without a second copy of them. */
export interface DatabasePanelKit<Panel, Target> {
  timeseries(spec: {
    title: string;
    description: string;
    unit: string;
    targets: Target[];
    minZero: boolean;
  }): Panel;
  target(expr: string, legendFormat: string, refId: string): Target;
}

const RATE = '[$__rate_interval]';

/** Panels (with widths) for a database family, or undefined for any other metric (which gets the generic ones). */
export function databasePanels<Panel, Target>(
  metric: ExportedMetric,
  kit: DatabasePanelKit<Panel, Target>,
): Array<[Panel, number]> | undefined {
  const { series } = metric;
  if (metric.family === 'db_client_operation_duration_seconds' && metric.kind === 'histogram') {
    const rate = (matchers: string[]) => observationRates(metric, [...TARGET_MATCHERS, ...matchers], RATE);
    const bySystem = ['db_system_name'];
    const byOperation = ['db_system_name', 'db_operation_name'];
    return [
      [
        kit.timeseries({
          title: 'Database operations per second',
          description:
            'Operations per second by system and operation (SELECT, INSERT, GET, …), failures included.',
          unit: 'ops',
          targets: [
            kit.target(sumBy(byOperation, rate([])), '{{db_system_name}} {{db_operation_name}}', 'A'),
          ],
          minZero: true,
        }),
        8,
      ],
      [
        kit.timeseries({
          title: 'Database error ratio',
          description:
            'Share of operations that failed, by system; error_type on db_client_operation_duration_seconds tells the class (a SQLSTATE class, an error code).',
          unit: 'percentunit',
          targets: [
            kit.target(
              `${sumBy(bySystem, rate(['error_type!=""']))} / ${sumBy(bySystem, rate([]))}`,
              '{{db_system_name}}',
              'A',
            ),
          ],
          minZero: true,
        }),
        8,
      ],
      [
        kit.timeseries({
          title: 'Database operation p99',
          description: 'p99 duration of operations by system and operation, pool wait included.',
          unit: 's',
          targets: [
            kit.target(
              `histogram_quantile(0.99, ${bucketRates(metric, ['le', ...byOperation], TARGET_MATCHERS, RATE)})`,
              'p99 {{db_system_name}} {{db_operation_name}}',
              'A',
            ),
          ],
          minZero: true,
        }),
        8,
      ],
    ];
  }
  if (metric.family === 'db_client_connection_count' && metric.kind === 'gauge') {
    return [
      [
        kit.timeseries({
          title: 'Pool connections used / idle',
          description: 'Connections of each pool by state, summed over the selected instances.',
          unit: 'short',
          targets: [
            kit.target(
              sumBy(
                ['db_client_connection_pool_name', 'db_client_connection_state'],
                selector(series, TARGET_MATCHERS),
              ),
              '{{db_client_connection_pool_name}} {{db_client_connection_state}}',
              'A',
            ),
          ],
          minZero: true,
        }),
        12,
      ],
    ];
  }
  if (metric.family === 'db_client_connection_pending_requests' && metric.kind === 'gauge') {
    return [
      [
        kit.timeseries({
          title: 'Pool requests waiting for a connection',
          description:
            'Checkouts queued because every connection of the pool is in use: above 0 for long, the pool is saturated.',
          unit: 'short',
          targets: [
            kit.target(
              sumBy(['db_client_connection_pool_name'], selector(series, TARGET_MATCHERS)),
              '{{db_client_connection_pool_name}}',
              'A',
            ),
          ],
          minZero: true,
        }),
        12,
      ],
    ];
  }
  return undefined;
}
