import { type ExportedMetric, findMetric } from './exported-metrics.js';
import { selector, sumBy } from './promql.js';
import type { AlertRule } from './rules.js';

const WHERE = '{{ $labels.instance }} of job {{ $labels.job }}';
const COUNT = '{{ printf "%.0f" $value }}';

/**
 * The Redis rules of `alertRules`, over the connection metrics of `redisMetrics()` (`telemeter/redis`); each is
 * left out when its metric is not among the definitions. Command errors and latency are judged by the shared
 * database rules over `db_client_operation_duration_seconds`.
 *
 * - `RedisConnectionErrors`: connection errors (refused or timed-out connects, dropped sockets) in every 5-minute
 *   window for 10 minutes.
 * - `RedisReconnecting`: reconnects in every 5-minute window for 15 minutes. One server restart (every client
 *   reconnecting once) stays quiet; connections that keep dropping fire. ioredis reports a dropped socket only by
 *   reconnecting, so this is the rule that sees its connections flapping.
 */
export function redisAlertRules(metrics: readonly ExportedMetric[], job: readonly string[]): AlertRule[] {
  const rules: AlertRule[] = [];
  const errors = findMetric(metrics, 'redis_client_connection_errors', 'counter');
  if (errors !== undefined) {
    rules.push({
      alert: 'RedisConnectionErrors',
      expr: `${sumBy(['job', 'instance', 'redis_client', 'error_type'], `increase(${selector(errors.series, job)}[5m])`)} > 0`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `Redis connections of ${WHERE} fail ({{ $labels.error_type }})`,
        description: `The {{ $labels.redis_client }} clients of ${WHERE} had ${COUNT} connection errors ({{ $labels.error_type }}) in the last 5 minutes, and have kept having them for 10 minutes. While a client is disconnected its commands wait in the offline queue or fail, so requests that need Redis slow down or error. Is the server up, reachable and under its maxclients limit?`,
      },
    });
  }
  const connects = findMetric(metrics, 'redis_client_connects', 'counter');
  if (connects?.tags.includes('reconnect')) {
    rules.push({
      alert: 'RedisReconnecting',
      expr: `${sumBy(['job', 'instance', 'redis_client'], `increase(${selector(connects.series, [...job, 'reconnect="true"'])}[5m])`)} > 0`,
      for: '15m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `Redis connections of ${WHERE} keep dropping`,
        description: `The {{ $labels.redis_client }} clients of ${WHERE} reconnected ${COUNT} times in the last 5 minutes, and have kept reconnecting for 15 minutes: connections are being closed under them (server timeouts, restarts, a proxy or load balancer idling them out, CLIENT KILL). Each drop fails or delays the commands in flight.`,
      },
    });
  }
  return rules;
}
