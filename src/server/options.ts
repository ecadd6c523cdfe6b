import type { ServerOptions as TlsServerOptions } from 'node:https';
import { invalidOption } from '../errors.js';
import { describe, validateEventName } from '../events/event-name.js';
import { checkOptionKeys } from '../options.js';
import { AddressAllowlist } from './address-allowlist.js';
import { type AuthOptions, CredentialCheck } from './credentials.js';
import { checkIncludedSources, type IncludedSource } from './included-sources.js';

/** Which exposition format to send: negotiated from `Accept`, or always one. */
export type FormatChoice = 'negotiate' | 'text' | 'openmetrics' | 'protobuf';

/** Options of `metricsHandler`, and the scrape part of `serveMetrics`. */
export interface MetricsHandlerOptions {
  /** Credentials a scraper must present; without it, no authentication. */
  readonly auth?: AuthOptions;
  /**
   * CIDR blocks of the clients to answer (`'10.0.0.0/8'`, `'fdaa::/16'`, a bare address means one host).
   * IPv4 blocks also match IPv4-mapped IPv6 peers. Checked against the socket's peer address: behind a proxy
   * that is the proxy. `serveMetrics` closes a connection from any other peer as soon as it is accepted,
   * before reading a byte; `metricsHandler`, which shares the application's connections, answers it 403.
   */
  readonly allow?: readonly string[];
  /**
   * `'negotiate'` (default) follows `Accept`; `'text'`, `'openmetrics'` or `'protobuf'` always sends that
   * format. A request can still force one with `?format=text`, `?format=openmetrics` or `?format=protobuf`.
   * Protobuf goes only to scrapers that ask for it by name (a Prometheus with native histograms on), and never
   * from an endpoint with `include` (whose body is text), which sends 0.0.4 instead.
   */
  readonly format?: FormatChoice;
  /**
   * Add OpenMetrics `_created` samples: each counter, histogram and summary series' creation time, as
   * `<family>_created`. Off by default, as in client_golang, because each is one more series a Prometheus
   * stores; the protobuf format carries the same time as a field, always.
   */
  readonly createdSamples?: boolean;
  /** gzip the body when `Accept-Encoding` allows it. Default true. */
  readonly compression?: boolean;
  /** Scrapes served at once; more get 503. Default 10. */
  readonly maxInFlight?: number;
  /** Prefix of the `<prefix>.start` / `<prefix>.stop` events emitted per scrape. Default `'telemeter.scrape'`. */
  readonly eventPrefix?: string;
  /**
   * Other libraries' metrics to serve on the same endpoint, after telemeter's: prom-client registries (or
   * anything with `metrics()` and `contentType`) and OpenTelemetry `PrometheusExporter`s. Each scrape reads
   * them and writes one exposition in the negotiated format, with one `# EOF`. Where names clash, telemeter's
   * family wins (then the earlier source); each family left out is logged once and counted in
   * `telemeter_include_conflicts{source}`. A source that throws, times out or gives an unparsable body is left
   * out of that scrape and counted in `telemeter_include_failures_total{source,reason}`; the scrape still succeeds.
   */
  readonly include?: readonly IncludedSource[];
  /** Milliseconds an included source has to answer before a scrape goes on without it. Default 5 000. */
  readonly includeTimeout?: number;
}

/** Options of `serveMetrics`. */
export interface ServeMetricsOptions extends MetricsHandlerOptions {
  /** TCP port, 0 to 65535; 0 picks a free one. Default 9091. */
  readonly port?: number;
  /**
   * Address to bind. Default `'::'`, which takes IPv6 and IPv4(-mapped) connections (Node falls back
   * to `0.0.0.0` where IPv6 is unavailable).
   */
  readonly host?: string;
  /** Path of the metrics endpoint. Default `'/metrics'`. */
  readonly path?: string;
  /** Serve HTTPS with these `node:https` options (at least `key` and `cert`, or `pfx`). */
  readonly tls?: TlsServerOptions;
  /**
   * Connections open at once. Further connections are closed as they are accepted (Node's `maxConnections`), so
   * the metrics port can never hold more than this many of the process's file descriptors. Default 64.
   */
  readonly maxConnections?: number;
  /**
   * Milliseconds a client has, from connecting (or from the start of its next request on a kept-alive
   * connection), to send the request headers; then it gets 408 and is closed. It closes connections that send
   * nothing, or trickle their headers (slowloris). Checked every second, so it acts up to 1 s late. Default 10 000.
   */
  readonly headersTimeout?: number;
  /** Milliseconds a client has to send the whole request, body included. Default 30 000. */
  readonly requestTimeout?: number;
  /**
   * Milliseconds an idle keep-alive connection stays open after a response (Node adds 1 s to it); keep it above
   * the scrape interval, so a scraper reuses its connection. Default 65 000.
   */
  readonly keepAliveTimeout?: number;
  /**
   * Milliseconds a socket may stay silent while a request is read or a response written: it closes a client that
   * stops reading a large scrape. Default 30 000.
   */
  readonly idleTimeout?: number;
  /** Milliseconds `close()` waits for scrapes in flight before cutting connections. Default 5 000. */
  readonly closeTimeout?: number;
}

export interface ResolvedHandlerOptions {
  readonly credentials: CredentialCheck | undefined;
  readonly allowlist: AddressAllowlist | undefined;
  readonly format: FormatChoice;
  readonly createdSamples: boolean;
  readonly compression: boolean;
  readonly maxInFlight: number;
  readonly eventPrefix: string;
  readonly startEvent: string;
  readonly stopEvent: string;
  /** undefined without the `include` option (or with an empty one). */
  readonly include: readonly IncludedSource[] | undefined;
  readonly includeTimeout: number;
}

export interface ResolvedServeOptions extends ResolvedHandlerOptions {
  readonly port: number;
  /** undefined: let Node choose `::`, or `0.0.0.0` without IPv6. */
  readonly host: string | undefined;
  readonly path: string;
  readonly tls: TlsServerOptions | undefined;
  readonly maxConnections: number;
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  readonly idleTimeout: number;
  readonly closeTimeout: number;
}

/** The options of `metricsHandler`; `metricsFetchHandler` takes them all but `allow`. */
export const HANDLER_KEYS: readonly string[] = [
  'auth',
  'allow',
  'format',
  'createdSamples',
  'compression',
  'maxInFlight',
  'eventPrefix',
  'include',
  'includeTimeout',
];
const SERVE_KEYS = [
  ...HANDLER_KEYS,
  'port',
  'host',
  'path',
  'tls',
  'maxConnections',
  'headersTimeout',
  'requestTimeout',
  'keepAliveTimeout',
  'idleTimeout',
  'closeTimeout',
];

/**
 * The default of `maxConnections`. Prometheus keeps one keep-alive connection per target, so a pair of
 * replicas, an agent and Fly's scraper need four; a browser on the dashboard opens up to six. 64 leaves room for
 * all of them several times over, and is a sixteenth of the common 1024-descriptor limit.
 */
export const DEFAULT_MAX_CONNECTIONS = 64;

const MAX_TIMEOUT = 24 * 3600 * 1000;

function fail(message: string): never {
  invalidOption(`telemeter/server: ${message}`);
}

function integer(value: unknown, option: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(Number.isInteger(value) && (value as number) >= min && (value as number) <= max)) {
    fail(`option ${option} must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value as number;
}

export function resolveHandlerOptions(
  options: unknown,
  where: string,
  allowedKeys: readonly string[] = HANDLER_KEYS,
): ResolvedHandlerOptions {
  const opts = (options === undefined ? {} : options) as MetricsHandlerOptions;
  checkOptionKeys(`telemeter/server: ${where}`, opts, allowedKeys);
  const format = opts.format ?? 'negotiate';
  if (format !== 'negotiate' && format !== 'text' && format !== 'openmetrics' && format !== 'protobuf') {
    fail(`option format must be 'negotiate', 'text', 'openmetrics' or 'protobuf', got ${describe(format)}`);
  }
  if (opts.createdSamples !== undefined && typeof opts.createdSamples !== 'boolean') {
    fail(`option createdSamples must be a boolean, got ${describe(opts.createdSamples)}`);
  }
  if (opts.compression !== undefined && typeof opts.compression !== 'boolean') {
    fail(`option compression must be a boolean, got ${describe(opts.compression)}`);
  }
  const prefix = opts.eventPrefix ?? 'telemeter.scrape';
  try {
    validateEventName(prefix, 'option eventPrefix');
  } catch (error) {
    fail((error as Error).message.replace(/^telemeter: /, ''));
  }
  const included = opts.include === undefined ? undefined : checkIncludedSources(opts.include);
  return {
    credentials: opts.auth === undefined ? undefined : new CredentialCheck(opts.auth, 'auth'),
    allowlist: opts.allow === undefined ? undefined : new AddressAllowlist(opts.allow, 'allow'),
    format,
    createdSamples: opts.createdSamples ?? false,
    compression: opts.compression ?? true,
    maxInFlight: integer(opts.maxInFlight, 'maxInFlight', 1, 1_000_000, 10),
    eventPrefix: prefix,
    startEvent: `${prefix}.start`,
    stopEvent: `${prefix}.stop`,
    include: included === undefined || included.length === 0 ? undefined : included,
    includeTimeout: integer(opts.includeTimeout, 'includeTimeout', 1, MAX_TIMEOUT, 5_000),
  };
}

export function resolveServeOptions(options: unknown): ResolvedServeOptions {
  const handler = resolveHandlerOptions(options, 'serveMetrics', SERVE_KEYS);
  const opts = (options === undefined ? {} : options) as ServeMetricsOptions;
  const host = opts.host;
  if (host !== undefined && (typeof host !== 'string' || host.trim() === '' || /[\s/]/.test(host))) {
    fail(`option host must be an address or host name such as '::' or '127.0.0.1', got ${describe(host)}`);
  }
  const path = opts.path ?? '/metrics';
  if (typeof path !== 'string' || !/^\/[^\s?#]*$/.test(path) || path === '/') {
    fail(
      `option path must start with '/', not be '/', and contain no spaces, '?' or '#', got ${describe(path)}`,
    );
  }
  const tls = opts.tls;
  if (tls !== undefined) {
    if (typeof tls !== 'object' || tls === null) fail('option tls must be an object { key, cert }');
    if (tls.pfx === undefined && (tls.key === undefined || tls.cert === undefined)) {
      fail('option tls must give key and cert (PEM strings or Buffers), or pfx');
    }
  }
  const headersTimeout = integer(opts.headersTimeout, 'headersTimeout', 1, MAX_TIMEOUT, 10_000);
  const requestTimeout = integer(opts.requestTimeout, 'requestTimeout', 1, MAX_TIMEOUT, 30_000);
  // Node refuses a headersTimeout above requestTimeout: say so here, with the option names.
  if (headersTimeout > requestTimeout) {
    fail(`option headersTimeout (${headersTimeout}) must not exceed requestTimeout (${requestTimeout})`);
  }
  return {
    ...handler,
    port: integer(opts.port, 'port', 0, 65_535, 9091),
    // '::' is also what Node picks when no host is given, but with a fallback to 0.0.0.0 without IPv6.
    host: host === '::' ? undefined : host,
    path,
    tls,
    maxConnections: integer(opts.maxConnections, 'maxConnections', 1, 65_535, DEFAULT_MAX_CONNECTIONS),
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: integer(opts.keepAliveTimeout, 'keepAliveTimeout', 1, MAX_TIMEOUT, 65_000),
    idleTimeout: integer(opts.idleTimeout, 'idleTimeout', 1, MAX_TIMEOUT, 30_000),
    closeTimeout: integer(opts.closeTimeout, 'closeTimeout', 0, MAX_TIMEOUT, 5_000),
  };
}
