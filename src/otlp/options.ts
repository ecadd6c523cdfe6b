import { invalidOption } from '../errors.js';
import { describe } from '../events/event-name.js';
import { checkOptionKeys } from '../options.js';
import { MAX_TIMER_MS, processEnvironment, readOtlpEnvironment } from './environment.js';
import { type PendingResource, resourceAttributes } from './resource.js';

/** Options of `startOtlp`. Each one not given is taken from the `OTEL_*` variable named, else its default. */
export interface OtlpOptions {
  /**
   * The full URL of the receiver's metrics endpoint, `http://127.0.0.1:4318/v1/metrics` (an OpenTelemetry
   * Collector) or `http://prometheus:9090/api/v1/otlp/v1/metrics` (Prometheus 3 with `--web.enable-otlp-receiver`).
   * Used as it is. Default: `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` as it is, or `OTEL_EXPORTER_OTLP_ENDPOINT` with
   * `/v1/metrics` appended, or `http://localhost:4318/v1/metrics`.
   */
  readonly url?: string;
  /**
   * Request headers, such as `{ authorization: 'Bearer …' }`, added to those of `OTEL_EXPORTER_OTLP_HEADERS` and
   * `OTEL_EXPORTER_OTLP_METRICS_HEADERS` (these win over the variables). The body's own headers cannot be set.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /** Milliseconds between exports. Default `OTEL_METRIC_EXPORT_INTERVAL`, else 60 000. */
  readonly interval?: number;
  /**
   * `'cumulative'` (the default, as the OTLP exporter specification requires): every point carries the total since
   * the series started. `'delta'`: counters and histograms carry the change since the previous export, each point
   * starting where the previous one ended; gauges, sums exported as gauges and summaries stay as they are.
   * Default `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (`lowmemory` counts as `delta`), else cumulative.
   */
  readonly temporality?: 'cumulative' | 'delta';
  /**
   * Resource attributes, a flat map such as `{ 'service.name': 'shop', 'deployment.environment.name': 'prod' }`.
   * They win over `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`, which win over the defaults
   * (`service.name` `unknown_service:<runtime>`, a `service.instance.id` made fresh per start, `telemetry.sdk.*`).
   */
  readonly resource?: Readonly<Record<string, string | number | boolean>>;
  /**
   * The body's encoding: `'protobuf'` (`application/x-protobuf`, the default, which every receiver reads) or
   * `'json'` (`application/json`, OTLP's JSON mapping). Default from `OTEL_EXPORTER_OTLP_PROTOCOL`
   * (`http/protobuf` or `http/json`).
   */
  readonly format?: 'protobuf' | 'json';
  /** Compress bodies with gzip. Default `OTEL_EXPORTER_OTLP_COMPRESSION` (`gzip` or `none`), else true. */
  readonly gzip?: boolean;
  /** Milliseconds one request may take before it is abandoned and retried. Default `OTEL_EXPORTER_OTLP_TIMEOUT`, else 10 000. */
  readonly timeout?: number;
  /**
   * Milliseconds that `flush()` and `stop()` wait for the data to be delivered before they resolve with `false`
   * (the export stays queued and is retried; after `stop()`, it is dropped). Default `OTEL_METRIC_EXPORT_TIMEOUT`,
   * else 30 000.
   */
  readonly exportTimeout?: number;
  /**
   * Exports held while the receiver cannot take them. When a new export would pass this or
   * {@link maxQueuedBytes}, the oldest are dropped and counted. Default 60.
   */
  readonly maxQueuedExports?: number;
  /** Bytes of encoded (and compressed) exports held at most. Default 16 MiB. */
  readonly maxQueuedBytes?: number;
  /** Milliseconds before the first retry; each retry waits twice as long, with jitter, up to {@link maxRetryDelay}. Default 1000. */
  readonly retryDelay?: number;
  /** The longest wait between retries, in milliseconds, unless the receiver's `Retry-After` asks for longer. Default 30 000. */
  readonly maxRetryDelay?: number;
  /**
   * The variables to read `OTEL_*` settings from. Default the process environment (`process.env`); pass a Worker's
   * bindings (`env`) there, or `{}` to ignore the environment.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Options validated and merged with the environment: everything the exporter needs, nothing left to check. */
export interface ResolvedOtlpOptions {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly interval: number;
  readonly temporality: 'cumulative' | 'delta';
  readonly resource: PendingResource;
  readonly format: 'protobuf' | 'json';
  readonly gzip: boolean;
  readonly timeout: number;
  readonly exportTimeout: number;
  readonly maxQueuedExports: number;
  readonly maxQueuedBytes: number;
  readonly retryDelay: number;
  readonly maxRetryDelay: number;
  /** `OTEL_SDK_DISABLED=true`: nothing is exported. */
  readonly disabled: boolean;
  /** Environment variables that were set to something unusable, to log. */
  readonly warnings: readonly string[];
}

const KNOWN = [
  'url',
  'headers',
  'interval',
  'temporality',
  'resource',
  'format',
  'gzip',
  'timeout',
  'exportTimeout',
  'maxQueuedExports',
  'maxQueuedBytes',
  'retryDelay',
  'maxRetryDelay',
  'env',
];
export const DEFAULT_URL = 'http://localhost:4318/v1/metrics';
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers that describe the body, which the exporter sets itself. */
const BODY_HEADERS = new Set(['content-type', 'content-encoding', 'content-length', 'transfer-encoding']);
const WHERE = 'telemeter/otlp: startOtlp';

/**
 * Validates `startOtlp` options once, at start-up, and fills what they leave out from the environment.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid key) or
 *   `ERR_TELEMETER_INVALID_OPTION`, naming the option. Environment variables never throw (see environment.ts).
 */
export function resolveOtlpOptions(options: OtlpOptions): ResolvedOtlpOptions {
  checkOptionKeys(WHERE, options, KNOWN);
  const variables = options.env ?? processEnvironment();
  if (typeof variables !== 'object' || variables === null) {
    fail('env', `must be an object of variable names to values, got ${describe(variables)}`);
  }
  const env = readOtlpEnvironment(variables);

  const url = resolveUrl(options.url ?? env.url ?? DEFAULT_URL, options.url !== undefined);

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(env.headers)) {
    if (HEADER_NAME.test(name) && !BODY_HEADERS.has(name) && !/[\r\n\0]/.test(value)) headers[name] = value;
  }
  if (options.headers !== undefined) {
    const given = options.headers;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) {
      fail('headers', `must be an object of header names to values, got ${describe(given)}`);
    }
    for (const [name, value] of Object.entries(given)) {
      if (!HEADER_NAME.test(name)) fail('headers', `has an invalid header name ${describe(name)}`);
      if (BODY_HEADERS.has(name.toLowerCase())) {
        fail(`headers.${name}`, 'is set by the exporter itself and cannot be given');
      }
      if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
        fail(`headers.${name}`, `must be a string without CR, LF or NUL, got ${describe(value)}`);
      }
      headers[name.toLowerCase()] = value;
    }
  }

  const temporality = options.temporality ?? env.temporality ?? 'cumulative';
  if (temporality !== 'cumulative' && temporality !== 'delta') {
    fail('temporality', `must be 'cumulative' or 'delta', got ${describe(temporality)}`);
  }
  const format = options.format ?? (env.protocol === 'http/json' ? 'json' : 'protobuf');
  if (format !== 'protobuf' && format !== 'json') {
    fail('format', `must be 'protobuf' or 'json', got ${describe(format)}`);
  }
  const gzip = options.gzip ?? (env.compression === undefined ? true : env.compression === 'gzip');
  if (typeof gzip !== 'boolean') fail('gzip', `must be true or false, got ${describe(gzip)}`);

  if (options.resource !== undefined) {
    const given = options.resource;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) {
      fail('resource', `must be an object of attribute names to values, got ${describe(given)}`);
    }
    for (const [name, value] of Object.entries(given)) {
      if (name === '') fail('resource', 'has an empty attribute name');
      if (
        typeof value !== 'string' &&
        typeof value !== 'boolean' &&
        !(typeof value === 'number' && Number.isFinite(value))
      ) {
        fail(`resource.${name}`, `must be a string, boolean or finite number, got ${describe(value)}`);
      }
    }
  }

  const maxRetryDelay = millis('maxRetryDelay', options.maxRetryDelay, 30_000);
  const retryDelay = millis('retryDelay', options.retryDelay, 1000);
  if (retryDelay > maxRetryDelay) {
    fail('retryDelay', `(${retryDelay}) must not exceed maxRetryDelay (${maxRetryDelay})`);
  }

  return {
    url,
    headers,
    interval: millis('interval', options.interval, env.interval ?? 60_000),
    temporality,
    resource: resourceAttributes(options.resource ?? {}, env),
    format,
    gzip,
    timeout: millis('timeout', options.timeout, env.timeout ?? 10_000),
    exportTimeout: millis('exportTimeout', options.exportTimeout, env.exportTimeout ?? 30_000),
    maxQueuedExports: count('maxQueuedExports', options.maxQueuedExports, 60),
    maxQueuedBytes: count('maxQueuedBytes', options.maxQueuedBytes, 16 * 1024 * 1024),
    retryDelay,
    maxRetryDelay,
    disabled: env.disabled,
    warnings: env.warnings,
  };
}

function resolveUrl(url: unknown, given: boolean): string {
  const option = given ? 'url' : 'url (from the environment)';
  if (typeof url !== 'string' || url === '') {
    fail(option, `must be the receiver's metrics endpoint, such as '${DEFAULT_URL}', got ${describe(url)}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    fail(option, `is not a URL: ${describe(url)} (expected one such as '${DEFAULT_URL}')`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    fail(
      option,
      `must be http: or https:, got ${describe(parsed.protocol)} (OTLP over gRPC is not supported)`,
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    fail(option, 'must not hold credentials: pass them as a header (headers.authorization)');
  }
  return parsed.href;
}

function millis(option: string, value: unknown, fallback: number): number {
  const ms = value ?? fallback;
  if (!(typeof ms === 'number' && Number.isInteger(ms) && ms >= 1 && ms <= MAX_TIMER_MS)) {
    fail(option, `must be an integer number of milliseconds from 1 to ${MAX_TIMER_MS}, got ${describe(ms)}`);
  }
  return ms;
}

function count(option: string, value: unknown, fallback: number): number {
  const n = value ?? fallback;
  if (!(typeof n === 'number' && Number.isInteger(n) && n >= 1)) {
    fail(option, `must be an integer >= 1, got ${describe(n)}`);
  }
  return n;
}

function fail(option: string, why: string): never {
  return invalidOption(`${WHERE}: option ${option} ${why}`);
}
