import { invalidOption, TelemeterTypeError } from '../errors.js';
import { formatCanonical } from '../exposition/number-format.js';
import { resolveBuckets } from '../metrics/buckets.js';
import type { MetricDefinition } from '../metrics/definitions.js';
import { prometheusName } from '../metrics/names.js';
import { checkOptionKeys } from '../options.js';
import { exportedMetrics, findMetric } from './exported-metrics.js';
import { bucketRates, observationRates, promString, selector, sumBy } from './promql.js';
import { bullmqAlertRules } from './rules-bullmq.js';
import { DATABASE_RULE_OPTIONS, type DatabaseAlertRulesOptions, databaseRules } from './rules-database.js';
import { redisAlertRules } from './rules-redis.js';
import { toYaml, type YamlValue } from './yaml.js';

/** Options of {@link alertRules}. */
export interface AlertRulesOptions extends DatabaseAlertRulesOptions {
  /** Name of the rule group. Default `'telemeter'`. */
  readonly groupName?: string;
  /** Restrict every rule to this scrape job (`job="<job>"`). Default: every job. */
  readonly job?: string;
  /** Include the rules over telemeter's own metrics, as a Telemeter exports them unless `selfMetrics: false`. Default true. */
  readonly selfMetrics?: boolean;
  /** Share of 5xx responses that fires `HttpServerErrorRatioHigh`. Default 0.05. */
  readonly errorRatio?: number;
  /** p99 request duration, in seconds, that fires `HttpServerLatencyHigh`. Default 1. */
  readonly latencyP99Seconds?: number;
  /**
   * Event-loop delay, in seconds, that counts as a stall for `NodeEventLoopStalled`. It must be a bucket bound
   * of `nodejs_eventloop_delay_seconds`: 0.1, 0.2, 0.5, 1, 2, 5 or 10 with the default buckets (the smaller ones
   * sit near the 10 ms sampling resolution, which every sample of an idle loop includes). Default 0.2.
   */
  readonly eventLoopStallSeconds?: number;
  /**
   * Memory limit of one process, in bytes (a container's or Fly machine's). With it, `ProcessMemoryGrowing` fires
   * when RSS is predicted to reach it within 4 hours; without it, when RSS is predicted to grow by half.
   */
  readonly memoryLimitBytes?: number;
}

/** One alerting rule, in the shape of a Prometheus rule file. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: 'critical' | 'warning' | 'info' };
  /** `summary` says what is wrong, in one line; `description` gives the measured value and why it matters. */
  readonly annotations: { readonly summary: string; readonly description: string };
}

const KNOWN_OPTIONS = new Set([
  'groupName',
  'job',
  'selfMetrics',
  'errorRatio',
  'latencyP99Seconds',
  'eventLoopStallSeconds',
  'memoryLimitBytes',
  ...DATABASE_RULE_OPTIONS,
]);
const WINDOW = '[5m]';
const WHERE = '{{ $labels.instance }} of job {{ $labels.job }}';
// Counts read naturally at any size ("1", "240", "31204"); `humanize` would print 0.0667 as "66.67m".
const COUNT = '{{ printf "%.0f" $value }}';
// A stall must recur in every window of this length for the whole `for`. The `for` is longer than the window,
// so one slow request (one stall) never fires; the window holds two scrapes at a 1-minute scrape interval.
const STALL_WINDOW = '2m';
const STALL_FOR = '5m';
// predict_linear reads the last hour. It starts to count once that hour begins 15 minutes after the process
// started, so the growth of start-up (module loading, JIT, caches and pools filling) never looks like a leak.
const MEMORY_REGRESSION = '1h';
const MEMORY_WARM_UP_MINUTES = 15;

/**
 * Generates Prometheus alerting rules (a rule file, as YAML text) for the metrics in `definitions`:
 *
 * - `TargetDown`: `up == 0` for 5 minutes (always included);
 * - `HttpServerErrorRatioHigh`, `HttpServerLatencyHigh`: over `http_server_requests_total` and
 *   `http_server_request_duration_seconds` from `httpMetrics()`;
 * - `NodeEventLoopStalled`: delay samples over `eventLoopStallSeconds` in `nodejs_eventloop_delay_seconds`,
 *   in every 2-minute window for 5 minutes; `ProcessMemoryGrowing`: `process_resident_memory_bytes` growing
 *   steadily once start-up is over (by `process_start_time_seconds`); both from `runtimeMetrics()`;
 * - `DbPoolSaturated`, `DbOperationErrorRatioHigh`, `DbOperationLatencyHigh`: over the database metrics of
 *   `pgMetrics()`, `mysql2Metrics()` (and `redisMetrics()` for the latter two);
 * - `RedisConnectionErrors`, `RedisReconnecting`: over `redisMetrics()` (see rules-redis.ts);
 * - `TelemeterScrapeErrors`, `TelemeterDroppedEvents`, `TelemeterSeriesOverflow`: over telemeter's own metrics;
 * - `BullmqJobFailureRatioHigh`, `BullmqJobsStalling`, `BullmqBacklogGrowing`: from `bullmqMetrics()` (rules-bullmq.ts).
 *
 * A rule is left out when its metrics are not among the definitions, so every rule can fire. Each rule's
 * `description` gives the measured value and the reason to act on it. Load the file with `rule_files` in
 * prometheus.yml; `promtool check rules` accepts it.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid key) or
 *   `ERR_TELEMETER_INVALID_OPTION` naming the option; `ERR_TELEMETER_INVALID_ARGUMENT` when an entry is not a
 *   metric definition; `ERR_TELEMETER_DUPLICATE_NAME` when two definitions export the same name.
 */
export function alertRules(
  definitions: readonly MetricDefinition[],
  options: AlertRulesOptions = {},
): string {
  const rules = alertRuleList(definitions, options);
  const groupName = options.groupName ?? 'telemeter';
  const document: YamlValue = {
    groups: [{ name: groupName, rules: rules as unknown as YamlValue[] }],
  };
  return `# Generated by telemeter from its metric definitions; regenerate instead of editing.\n${toYaml(document)}`;
}

/** The rules {@link alertRules} writes, as objects. Same options and errors. */
export function alertRuleList(
  definitions: readonly MetricDefinition[],
  options: AlertRulesOptions = {},
): AlertRule[] {
  const config = resolveOptions(options);
  const metrics = exportedMetrics(definitions, config.selfMetrics, 'telemeter: alertRules');
  const job = config.job === undefined ? [] : [`job=${promString(config.job)}`];
  const rules: AlertRule[] = [
    {
      alert: 'TargetDown',
      expr: `${selector('up', job)} == 0`,
      for: '5m',
      labels: { severity: 'critical' },
      annotations: {
        summary: `Target ${WHERE} is down`,
        description: `Prometheus has failed to scrape ${WHERE} for 5 minutes. The process is down, restarting in a loop, or unreachable, and none of its metrics or other alerts are current.`,
      },
    },
  ];

  const requests = findMetric(metrics, 'http_server_requests', 'counter');
  if (requests?.tags.includes('status')) {
    const failed = sumBy(['job'], `rate(${selector(requests.series, [...job, 'status=~"5.."'])}${WINDOW})`);
    const all = sumBy(['job'], `rate(${selector(requests.series, job)}${WINDOW})`);
    const threshold = `${Number((config.errorRatio * 100).toFixed(6))}%`;
    rules.push({
      alert: 'HttpServerErrorRatioHigh',
      expr: `${failed} / ${all} > ${config.errorRatio}`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary:
          '{{ $value | humanizePercentage }} of the HTTP requests of job {{ $labels.job }} fail with 5xx',
        description: `{{ $value | humanizePercentage }} of the HTTP requests of job {{ $labels.job }} were answered with a 5xx status over the last 5 minutes, and more than ${threshold} for 10 minutes: users get errors. 4xx answers are the clients' mistakes and do not count.`,
      },
    });
  }

  const duration = findMetric(metrics, 'http_server_request_duration_seconds', 'histogram');
  if (duration !== undefined) {
    rules.push({
      alert: 'HttpServerLatencyHigh',
      expr: `histogram_quantile(0.99, ${bucketRates(duration, ['job', 'le'], job, WINDOW)}) > ${config.latencyP99Seconds}`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'HTTP requests of job {{ $labels.job }} are slow: p99 {{ $value | humanizeDuration }}',
        description: `The slowest 1% of the HTTP requests of job {{ $labels.job }} took {{ $value | humanizeDuration }} or more over the last 5 minutes, and over ${formatSeconds(config.latencyP99Seconds)} for 10 minutes: users wait, and clients with a timeout give up.`,
      },
    });
  }

  const delay = findMetric(metrics, 'nodejs_eventloop_delay_seconds', 'histogram');
  if (delay !== undefined) {
    const bound = stallBound(definitions, delay.family, config.eventLoopStallSeconds);
    // Delay samples over the bound: the histogram counts every sample, so no stall escapes between two
    // polls or two scrapes (the per-poll nodejs_eventloop_lag_max_seconds gauge is only sampled by scrapes).
    const samples = sumBy(['job', 'instance'], observationRates(delay, job, `[${STALL_WINDOW}]`, 'increase'));
    const classicQuick = `increase(${selector(`${delay.series}_bucket`, [...job, `le="${bound}"`])}[${STALL_WINDOW}])`;
    // Native buckets have no bound at `bound`: the samples up to it are interpolated inside the bucket holding it,
    // exact whenever no sample falls in that one bucket (within the schema's factor of the bound).
    const native = `increase(${selector(delay.series, job)}[${STALL_WINDOW}])`;
    const nativeQuick = `histogram_fraction(0, ${bound}, ${native}) * histogram_count(${native})`;
    const quick = sumBy(
      ['job', 'instance'],
      delay.histogram === 'native'
        ? nativeQuick
        : delay.histogram === 'both'
          ? `${classicQuick} or ${nativeQuick}`
          : classicQuick,
    );
    const stall = formatSeconds(config.eventLoopStallSeconds);
    rules.push({
      alert: 'NodeEventLoopStalled',
      expr: `${samples} - ${quick} > 0`,
      for: STALL_FOR,
      labels: { severity: 'warning' },
      annotations: {
        summary: `The event loop of ${WHERE} keeps stalling (blocked over ${stall})`,
        description: `The event loop of ${WHERE} was blocked for more than ${stall} at least once every 2 minutes for 5 minutes (stalls in the last 2 minutes: ${COUNT}). While it is blocked the process answers nothing, neither requests nor health checks nor scrapes, and every request in flight waits. Look for synchronous work: large JSON, crypto, sync file system calls, a long loop; a CPU profile shows where.`,
      },
    });
  }

  const rss = findMetric(metrics, 'process_resident_memory_bytes', 'gauge');
  const started = findMetric(metrics, 'process_start_time_seconds', 'gauge');
  if (rss !== undefined && started !== undefined) {
    const series = selector(rss.series, job);
    const predicted = `predict_linear(${series}[${MEMORY_REGRESSION}], 4 * 3600)`;
    const warm = `and on (job, instance) time() - ${selector(started.series, job)} > ${60 + MEMORY_WARM_UP_MINUTES} * 60`;
    const why = `The rule waits until the hour it reads starts ${MEMORY_WARM_UP_MINUTES} minutes after the process did, so the growth of start-up never fires it.`;
    rules.push(
      config.memoryLimitBytes === undefined
        ? {
            alert: 'ProcessMemoryGrowing',
            expr: `${predicted} > 1.5 * ${series} ${warm}`,
            for: '30m',
            labels: { severity: 'warning' },
            annotations: {
              summary: `Memory of ${WHERE} keeps growing`,
              description: `At the rate of the last hour, the resident memory of ${WHERE} will grow by half within 4 hours, to {{ $value | humanize1024 }}B, and has been growing like this for 30 minutes. Memory that grows without end is a leak or a cache without a bound, and ends with the process killed for lack of memory. ${why}`,
            },
          }
        : {
            alert: 'ProcessMemoryGrowing',
            expr: `${predicted} > ${config.memoryLimitBytes} ${warm}`,
            for: '15m',
            labels: { severity: 'warning' },
            annotations: {
              summary: `Memory of ${WHERE} will reach its limit`,
              description: `At the rate of the last hour, the resident memory of ${WHERE} will reach its limit of ${formatBytes(config.memoryLimitBytes)} within 4 hours ({{ $value | humanize1024 }}B predicted), and has been heading there for 15 minutes. At the limit the process is killed, and every request in flight fails. ${why}`,
            },
          },
    );
  }

  rules.push(...databaseRules(metrics, job, options));

  const scrapes = findMetric(metrics, 'telemeter_scrapes', 'counter');
  if (scrapes !== undefined) {
    rules.push({
      alert: 'TelemeterScrapeErrors',
      expr: `${sumBy(['job', 'instance', 'status'], `increase(${selector(scrapes.series, [...job, 'status!="200"'])}${WINDOW})`)} > 0`,
      for: '10m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `The metrics endpoint of ${WHERE} answers {{ $labels.status }}`,
        description: `The metrics endpoint of ${WHERE} answered ${COUNT} requests with status {{ $labels.status }} in the last 5 minutes, and has kept refusing requests for 10 minutes: a scraper with wrong credentials (401), a client outside the allowlist (403), or scrapes over the in-flight limit (503). The refused scraper gets no metrics.`,
      },
    });
  }

  const dropped = findMetric(metrics, 'telemeter_dropped_events', 'counter');
  if (dropped !== undefined) {
    rules.push({
      alert: 'TelemeterDroppedEvents',
      expr: `${sumBy(['job', 'instance', 'metric', 'reason'], `increase(${selector(dropped.series, job)}${WINDOW})`)} > 0`,
      for: '15m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'Metric {{ $labels.metric }} skips events ({{ $labels.reason }})',
        description: `${WHERE} skipped ${COUNT} events for metric {{ $labels.metric }} in the last 5 minutes (reason {{ $labels.reason }}), and has kept skipping them for 15 minutes. The events do not fit the definition (a missing measurement or tag, a non-numeric value, or a throwing keep, tagValues or measurement function), so the metric counts less than happened, and its graphs and alerts are wrong.`,
      },
    });
  }

  const overflow = findMetric(metrics, 'telemeter_series_overflow', 'counter');
  if (overflow !== undefined) {
    rules.push({
      alert: 'TelemeterSeriesOverflow',
      expr: `${sumBy(['job', 'instance', 'metric'], `increase(${selector(overflow.series, job)}${WINDOW})`)} > 0`,
      for: '15m',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'Metric {{ $labels.metric }} reached its series limit',
        description: `On ${WHERE}, metric {{ $labels.metric }} recorded ${COUNT} events into its overflow series in the last 5 minutes, and has for 15 minutes: it holds maxSeries tag combinations, and new ones are no longer told apart. A tag with unbounded values (user ids, raw paths)?`,
      },
    });
  }
  rules.push(...redisAlertRules(metrics, job));
  rules.push(...bullmqAlertRules(metrics, job));
  return rules;
}

/**
 * The `le` label value of the delay histogram's bucket at `seconds`. The rule counts samples above it from
 * the bucket counts, so it must be one of the bounds.
 */
function stallBound(definitions: readonly MetricDefinition[], family: string, seconds: number): string {
  const definition = definitions.find((d) => d.type === 'distribution' && prometheusName(d.name) === family);
  const bounds =
    definition === undefined
      ? []
      : resolveBuckets(definition.reporterOptions?.buckets, definition.unit, definition.name);
  const wanted = formatCanonical(seconds);
  // Native buckets are read at any bound (histogram_fraction).
  const layout = definition?.reporterOptions?.histogram;
  if (layout === 'native') return wanted;
  if (!bounds.some((b) => formatCanonical(b) === wanted)) {
    invalidOption(
      `telemeter: alertRules: option eventLoopStallSeconds must be a bucket bound of ${family} (${bounds.join(', ')}), got ${seconds}`,
    );
  }
  return wanted;
}

/** `250ms`, `1s`, `1.5s`: how a threshold reads in an annotation. */
function formatSeconds(seconds: number): string {
  return seconds < 1
    ? `${Number((seconds * 1000).toPrecision(12))}ms`
    : `${Number(seconds.toPrecision(12))}s`;
}

/** `512MiB`, `1.5GiB`, `488.3MiB`: a byte count as humanize1024 writes it, with the unit. */
function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toPrecision(4))}${units[unit]}`;
}

interface ResolvedOptions {
  job: string | undefined;
  selfMetrics: boolean;
  errorRatio: number;
  latencyP99Seconds: number;
  eventLoopStallSeconds: number;
  memoryLimitBytes: number | undefined;
}

function resolveOptions(options: AlertRulesOptions): ResolvedOptions {
  const where = 'telemeter: alertRules';
  const fail = (option: string, why: string): never => invalidOption(`${where}: option ${option} ${why}`);
  if (typeof options === 'object' && options !== null && 'eventLoopDelayP99Seconds' in options) {
    // The rule it set read a p99, which a few long stalls never reach; the new option means something else.
    throw new TelemeterTypeError(
      'ERR_TELEMETER_UNKNOWN_OPTION',
      `${where}: option eventLoopDelayP99Seconds is gone: NodeEventLoopStalled counts delays over eventLoopStallSeconds (a bucket bound of nodejs_eventloop_delay_seconds, default 0.2) instead of reading the p99`,
    );
  }
  checkOptionKeys(where, options, KNOWN_OPTIONS);
  if (
    options.groupName !== undefined &&
    (typeof options.groupName !== 'string' || options.groupName === '')
  ) {
    fail('groupName', 'must be a non-empty string');
  }
  if (options.job !== undefined && (typeof options.job !== 'string' || options.job === '')) {
    fail('job', 'must be a non-empty string');
  }
  if (options.selfMetrics !== undefined && typeof options.selfMetrics !== 'boolean') {
    fail('selfMetrics', 'must be a boolean');
  }
  const positive = (option: keyof AlertRulesOptions, fallback: number, max = Number.POSITIVE_INFINITY) => {
    const value = options[option] ?? fallback;
    if (typeof value !== 'number' || !(value > 0 && value <= max)) {
      fail(option, max === 1 ? 'must be a number in (0, 1]' : 'must be a finite number > 0');
    }
    return value as number;
  };
  return {
    job: options.job,
    selfMetrics: options.selfMetrics ?? true,
    errorRatio: positive('errorRatio', 0.05, 1),
    latencyP99Seconds: positive('latencyP99Seconds', 1, Number.MAX_VALUE),
    eventLoopStallSeconds: positive('eventLoopStallSeconds', 0.2, Number.MAX_VALUE),
    memoryLimitBytes:
      options.memoryLimitBytes === undefined ? undefined : positive('memoryLimitBytes', 0, Number.MAX_VALUE),
  };
}
