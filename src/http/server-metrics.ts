import type { Measurements, Metadata } from '../events/index.js';
import {
  type BucketSpec,
  counter,
  distribution,
  lastValue,
  type MetricDefinition,
} from '../metrics/index.js';
import { checkOptionKeys } from '../options.js';
import { eventPrefixOption, SERVER_EVENT_PREFIX } from './server-options.js';

/**
 * OpenTelemetry's semantic-convention buckets for `http.server.request.duration`, in seconds: fine below
 * 100 ms where most API calls land, and still resolving a 10 s upload.
 */
export const HTTP_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]);

/** Options of {@link httpMetrics}. */
export interface HttpMetricsOptions {
  /** The adapters' `eventPrefix`, default `http.server.request`. */
  readonly eventPrefix?: string;
  /** Duration buckets, in seconds. Default {@link HTTP_DURATION_BUCKETS}. */
  readonly durationBuckets?: BucketSpec;
  /** Response size buckets, in bytes. Default powers of four from 64 B to 64 MiB. */
  readonly responseSizeBuckets?: BucketSpec;
  /** Series limit of each metric (see `reporterOptions.maxSeries`). Default: the Telemeter's. */
  readonly maxSeries?: number;
}

const KNOWN_OPTIONS = new Set(['eventPrefix', 'durationBuckets', 'responseSizeBuckets', 'maxSeries']);
const REQUEST_TAGS = ['method', 'route', 'status'] as const;

const hasResponseSize = (_metadata: Metadata, measurements: Measurements): boolean =>
  typeof measurements.response_size === 'number';

/**
 * The default server metrics, over the events of the server adapters:
 *
 * - `http_server_requests_total{method,route,status}`: counter of finished requests (aborted and timed-out
 *   ones included, under their own status);
 * - `http_server_request_duration_seconds{method,route,status}`: histogram, OpenTelemetry buckets;
 * - `http_server_response_size_bytes{method,route,status}`: histogram of body bytes, for responses that
 *   declared a Content-Length (streamed responses are left out rather than guessed);
 * - `http_server_active_requests{method}`: gauge of requests in flight.
 *
 * ```ts
 * import { once } from 'node:events';
 * import { createServer } from 'node:http';
 * import { Telemeter } from 'telemeter';
 * import { httpMetrics, instrumentHttpServer } from 'telemeter/http';
 *
 * const telemeter = new Telemeter({ metrics: [...httpMetrics()] });
 * const server = createServer((req, res) => res.end('ok'));
 * instrumentHttpServer(server, { route: ['/users/:id'] });
 *
 * await once(server.listen(0), 'listening');
 * await fetch(`http://localhost:${(server.address() as { port: number }).port}/users/42`);
 * console.log(telemeter.scrape().match(/^http_server_requests_total\{.*$/m)?.[0]);
 * //=> http_server_requests_total{method="GET",route="/users/:id",status="200"} 1
 * server.close();
 * ```
 *
 * @throws TelemeterTypeError for an option, naming it: `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid
 * key) or `ERR_TELEMETER_INVALID_OPTION`.
 */
export function httpMetrics(options: HttpMetricsOptions = {}): MetricDefinition[] {
  const where = 'telemeter/http: httpMetrics';
  checkOptionKeys(where, options, KNOWN_OPTIONS);
  const prefix = eventPrefixOption(where, options.eventPrefix, SERVER_EVENT_PREFIX);
  const stop = `${prefix}.stop`;
  const limit = options.maxSeries === undefined ? {} : { maxSeries: options.maxSeries };
  return [
    counter('http_server_requests_total', {
      eventName: stop,
      measurement: 'duration',
      tags: REQUEST_TAGS,
      description: 'HTTP requests the server finished, by method, route template and status.',
      reporterOptions: limit,
    }),
    distribution('http_server_request_duration_seconds', {
      eventName: stop,
      measurement: 'duration',
      unit: ['native', 'second'],
      tags: REQUEST_TAGS,
      description: 'Time from the arrival of an HTTP request to the end of its response.',
      reporterOptions: { buckets: options.durationBuckets ?? HTTP_DURATION_BUCKETS, ...limit },
    }),
    distribution('http_server_response_size_bytes', {
      eventName: stop,
      measurement: 'response_size',
      unit: 'byte',
      tags: REQUEST_TAGS,
      keep: hasResponseSize,
      description: 'Body size of HTTP responses that declared a Content-Length.',
      reporterOptions:
        options.responseSizeBuckets === undefined
          ? limit
          : { buckets: options.responseSizeBuckets, ...limit },
    }),
    lastValue('http_server_active_requests', {
      eventName: `${prefix}.active`,
      measurement: 'count',
      tags: ['method'],
      description: 'HTTP requests in flight, by method.',
      reporterOptions: limit,
    }),
  ];
}
