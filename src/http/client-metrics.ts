import { type BucketSpec, counter, distribution, type MetricDefinition } from '../metrics/index.js';
import { checkOptionKeys } from '../options.js';
import { CLIENT_EVENT_PREFIX } from './client.js';
import { HTTP_DURATION_BUCKETS } from './server-metrics.js';
import { eventPrefixOption } from './server-options.js';

/** Options of {@link httpClientMetrics}. */
export interface HttpClientMetricsOptions {
  /** The `eventPrefix` given to `instrumentHttpClient`, default `http.client.request`. */
  readonly eventPrefix?: string;
  /** Duration buckets, in seconds. Default OpenTelemetry's HTTP buckets. */
  readonly durationBuckets?: BucketSpec;
  /** Series limit of each metric. Default: the Telemeter's. */
  readonly maxSeries?: number;
}

const KNOWN_OPTIONS = new Set(['eventPrefix', 'durationBuckets', 'maxSeries']);
const CLIENT_TAGS = ['method', 'host', 'status'] as const;

/**
 * The default client metrics, over the events of `instrumentHttpClient`:
 *
 * - `http_client_requests_total{method,host,status}`: counter of requests that got a response or failed;
 * - `http_client_request_duration_seconds{method,host,status}`: histogram of the time to response headers.
 *
 * `status` is the response code, or `error`, `aborted` or `timeout` when no response came.
 *
 * @throws TelemeterTypeError for an option, naming it: `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid
 * key) or `ERR_TELEMETER_INVALID_OPTION`.
 */
export function httpClientMetrics(options: HttpClientMetricsOptions = {}): MetricDefinition[] {
  const where = 'telemeter/http: httpClientMetrics';
  checkOptionKeys(where, options, KNOWN_OPTIONS);
  const stop = `${eventPrefixOption(where, options.eventPrefix, CLIENT_EVENT_PREFIX)}.stop`;
  const limit = options.maxSeries === undefined ? {} : { maxSeries: options.maxSeries };
  return [
    counter('http_client_requests_total', {
      eventName: stop,
      measurement: 'duration',
      tags: CLIENT_TAGS,
      description: 'Outgoing HTTP requests, by method, host and status (or error outcome).',
      reporterOptions: limit,
    }),
    distribution('http_client_request_duration_seconds', {
      eventName: stop,
      measurement: 'duration',
      unit: ['native', 'second'],
      tags: CLIENT_TAGS,
      description: 'Time from the start of an outgoing HTTP request to its response headers.',
      reporterOptions: { buckets: options.durationBuckets ?? HTTP_DURATION_BUCKETS, ...limit },
    }),
  ];
}
