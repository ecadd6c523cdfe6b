import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { invalidArgument, invalidOption, TelemeterError } from '../errors.js';
import { execute, monotonicTime, systemTime } from '../events/index.js';
import type { LogFields } from '../logger.js';
import { checkOptionKeys } from '../options.js';
import { AccessPolicy } from './access-policy.js';
import type { AddressAllowlist } from './address-allowlist.js';
import { type IndexLink, renderIndexPage } from './index-page.js';
import { type ResolvedServeOptions, resolveServeOptions, type ServeMetricsOptions } from './options.js';
import { BASE_HEADERS, sendStatus } from './plain-responses.js';
import { checkRenderSource, logSinkOf, type RenderSource } from './render-coalescer.js';
import { createScrapeEndpoint } from './scrape-endpoint.js';

/** A handler for a path mounted next to `/metrics`; it may answer asynchronously. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Options of {@link MetricsServer.mount}. */
export interface MountOptions {
  /** Link text on the index page. Default: the path. */
  readonly title?: string;
}

/** Why the server closed a connection as soon as it was accepted. */
export type ConnectionRefusal = 'max_connections' | 'not_allowed';

/** Connections a {@link MetricsServer} closed as soon as it accepted them, counted since it started. */
export interface RefusedConnections {
  /** Refused because `maxConnections` connections were open. */
  readonly maxConnections: number;
  /** Refused because the peer address is not in `allow`. */
  readonly notAllowed: number;
}

/** A running metrics server, as returned by `serveMetrics`. */
export interface MetricsServer {
  /** The port bound (the one chosen when `port: 0`). */
  readonly port: number;
  /** The address bound, e.g. `'::'` or `'127.0.0.1'`. */
  readonly host: string;
  /** A URL of the metrics endpoint reachable from this host, e.g. `http://[::1]:9091/metrics`. */
  readonly url: string;
  /** The underlying `node:http` (or `node:https`) server. */
  readonly server: Server;
  /**
   * Connections refused so far, each closed as soon as it was accepted, before a byte was read: over
   * `maxConnections`, or from a peer outside `allow`. The first of each kind is logged; every one emits
   * `<eventPrefix>.connection_refused`.
   */
  readonly refused: RefusedConnections;
  /**
   * Serves `handler` at `path` and below it (`/dashboard` and `/dashboard/...`), behind the same
   * allowlist and credentials as the metrics, and links it from the index page. With bearer auth, a
   * browser signs in once with `GET <path>?token=<token>`: the server answers it (the handler never sees
   * it) with an HttpOnly, SameSite=Strict session cookie scoped to `path`, accepted on `path` only.
   * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` when `path` is malformed, `/`, the metrics path,
   *   or already mounted, or `handler` is not a function; `ERR_TELEMETER_UNKNOWN_OPTION` or
   *   `ERR_TELEMETER_INVALID_OPTION` for `options`.
   */
  mount(path: string, handler: RouteHandler, options?: MountOptions): void;
  /**
   * Stops accepting connections, lets scrapes in flight finish, closes idle keep-alive connections,
   * and after `closeTimeout` cuts what is left. Resolves once the port is released. Idempotent.
   * It does not close the Telemeter.
   */
  close(): Promise<void>;
}

interface Route extends IndexLink {
  readonly handler: RouteHandler;
}

function pathnameOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const end = url.search(/[?#]/);
  return end < 0 ? url : url.slice(0, end);
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|::ffff:127(\.\d{1,3}){3})$/i;

/**
 * The start-up warning for metrics open to anyone who can reach a non-loopback address; undefined
 * when the address is loopback or `auth` or `allow` guards it.
 */
export function exposureWarning(
  address: string,
  port: number,
  credentials: unknown,
  allowlist: unknown,
): string | undefined {
  if (credentials !== undefined || allowlist !== undefined || LOOPBACK.test(address)) return undefined;
  return (
    `telemeter/server: metrics are served on ${address} port ${port} without auth or allow; ` +
    'anyone who can reach this address can read them'
  );
}

/** A host name for the URL: wildcards become the loopback address of their family. */
function urlHost(address: string): string {
  if (address === '::') return '[::1]';
  if (address === '0.0.0.0') return '127.0.0.1';
  return isIP(address) === 6 ? `[${address}]` : address;
}

/**
 * Serves a Telemeter's metrics on their own port (default 9091, path `/metrics`), the way Prometheus
 * exporters do, and resolves once the port is bound.
 *
 * - A connection from a peer outside `allow`, or beyond `maxConnections` open at once, is closed as soon as
 *   it is accepted, before a byte is read, so the port can never hold more descriptors than `maxConnections`.
 * - `GET`/`HEAD` on the path: the exposition, OpenMetrics 1.0 when `Accept` prefers it (as Prometheus
 *   asks), Prometheus text 0.0.4 otherwise (`?format=text|openmetrics` forces one), gzipped when
 *   `Accept-Encoding` allows it. Concurrent scrapes share one render; beyond `maxInFlight` they get 503;
 *   a render that throws gives 503 and one log line.
 * - Other methods on the path: 405 with `Allow`. `/`: an index page. Other paths: 404, or a mounted route.
 * - Every request is checked against `auth` (401 with `WWW-Authenticate`).
 * - Each request on the path emits `<eventPrefix>.start` and `<eventPrefix>.stop` (measurements
 *   `duration` in ns and `bytes`; metadata `method`, `status`, `format`, `bytes`, `compressed`); each refused
 *   connection emits `<eventPrefix>.connection_refused` (metadata `reason`, `address`).
 *
 * Problems are logged through the Telemeter's own logger (its `logger` option), else the process-wide one.
 *
 * @throws TelemeterTypeError (synchronously, before binding) `ERR_TELEMETER_INVALID_ARGUMENT` when `telemeter`
 *   is not a Telemeter, `ERR_TELEMETER_INVALID_OPTION` or `ERR_TELEMETER_UNKNOWN_OPTION` naming the option;
 *   the promise rejects with a `TelemeterError` `ERR_TELEMETER_LISTEN` when the port cannot be bound.
 */
export function serveMetrics(
  telemeter: RenderSource,
  options: ServeMetricsOptions = {},
): Promise<MetricsServer> {
  checkRenderSource(telemeter, 'serveMetrics');
  return start(telemeter, resolveServeOptions(options));
}

/**
 * Runs `admit` on each accepted socket before the server's own connection listeners (the HTTP parser, or the
 * TLS handshake) see it, so a refused socket is destroyed before a byte of it is read or parsed. Node 20 has no
 * hook for this short of wrapping those listeners.
 */
function guardConnections(server: Server, admit: (socket: Socket) => boolean): void {
  const listeners = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    if (!admit(socket)) {
      // A reset, not a close: Node's fetch waits on a peer that closes without a word (its first request in a
      // process was seen pending after 15 s), while a reset fails it at once, as it does curl and Prometheus.
      socket.resetAndDestroy();
      return;
    }
    for (const listener of listeners) listener.call(server, socket);
  });
}

async function start(telemeter: RenderSource, config: ResolvedServeOptions): Promise<MetricsServer> {
  const scrape = createScrapeEndpoint(telemeter, config);
  const access = new AccessPolicy(config.allowlist, config.credentials);
  const log = logSinkOf(telemeter);
  const routes: Route[] = [];
  const refused = { maxConnections: 0, notAllowed: 0 };
  const logged = new Set<string>();
  let closing: Promise<void> | undefined;
  let port = config.port;

  // Once per server and kind: a flood must cost one log line, not one per connection.
  const logOnce = (key: string, level: 'warn' | 'error', fields: LogFields, message: string): void => {
    if (logged.has(key)) return;
    logged.add(key);
    log[level](fields, message);
  };

  const refuse = (reason: ConnectionRefusal, address: string | undefined): void => {
    if (reason === 'max_connections') refused.maxConnections++;
    else refused.notAllowed++;
    execute(
      `${config.eventPrefix}.connection_refused`,
      { system_time: systemTime(), monotonic_time: monotonicTime() },
      { reason, address },
    );
    const why =
      reason === 'max_connections'
        ? `${config.maxConnections} connections were open (option maxConnections)`
        : `${address ?? 'the peer'} is not in option allow`;
    logOnce(
      reason,
      'warn',
      { reason, address },
      `telemeter/server: port ${port} refused a connection: ${why}; later refusals are not logged (see the server's refused counts and the ${config.eventPrefix}.connection_refused event)`,
    );
  };

  const index = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendStatus(req, res, 405, { Allow: 'GET, HEAD' });
      return;
    }
    const links: IndexLink[] = [{ path: config.path, title: 'Metrics' }, ...routes];
    const page = renderIndexPage(links);
    res.writeHead(200, {
      ...BASE_HEADERS,
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(page)),
      'Content-Security-Policy': "default-src 'none'",
    });
    res.end(req.method === 'HEAD' ? undefined : page);
  };

  const failed = (req: IncomingMessage, res: ServerResponse, error: unknown): void => {
    log.error({ err: error }, `telemeter/server: the handler mounted at ${pathnameOf(req.url)} failed`);
    sendStatus(req, res, 500);
  };

  // While closing, a keep-alive connection turns idle when its response ends: close it then.
  const afterResponse = () => {
    if (closing !== undefined) setImmediate(() => server.closeIdleConnections());
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    res.once('close', afterResponse);
    if (closing !== undefined) res.setHeader('Connection', 'close');
    const pathname = pathnameOf(req.url);
    if (pathname === config.path) {
      scrape(req, res);
      return;
    }
    try {
      const route = routes.find((r) => pathname === r.path || pathname.startsWith(`${r.path}/`));
      const mounted =
        route === undefined ? undefined : { path: route.path, secure: config.tls !== undefined };
      if (!access.admit(req, res, mounted)) return;
      if (pathname === '/') {
        index(req, res);
        return;
      }
      if (route === undefined) {
        sendStatus(req, res, 404);
        return;
      }
      const result = route.handler(req, res);
      if (result instanceof Promise) result.catch((error: unknown) => failed(req, res, error));
    } catch (error) {
      failed(req, res, error);
    }
  };

  const serverOptions = {
    headersTimeout: config.headersTimeout,
    requestTimeout: config.requestTimeout,
    keepAliveTimeout: config.keepAliveTimeout,
    // Node checks headersTimeout and requestTimeout only this often (30 s by default).
    connectionsCheckingInterval: Math.min(1_000, config.headersTimeout),
  };
  const server: Server =
    config.tls === undefined
      ? createHttpServer(serverOptions, listener)
      : (createHttpsServer({ ...config.tls, ...serverOptions }, listener) as unknown as Server);
  server.headersTimeout = config.headersTimeout;
  server.requestTimeout = config.requestTimeout;
  server.keepAliveTimeout = config.keepAliveTimeout;
  server.timeout = config.idleTimeout;
  // Node closes a connection over the limit as it accepts it, before it becomes a socket, and emits 'drop'.
  server.maxConnections = config.maxConnections;
  server.on('drop', (peer?: { remoteAddress?: string }) => refuse('max_connections', peer?.remoteAddress));
  const allowlist: AddressAllowlist | undefined = config.allowlist;
  if (allowlist !== undefined) {
    guardConnections(server, (socket) => {
      if (allowlist.allows(socket.remoteAddress)) return true;
      refuse('not_allowed', socket.remoteAddress);
      return false;
    });
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const where = `${config.host ?? '::'} port ${config.port}`;
      reject(
        new TelemeterError(
          'ERR_TELEMETER_LISTEN',
          `telemeter/server: cannot listen on ${where}: ${error.code ?? error.message}`,
          { cause: error },
        ),
      );
    };
    server.once('error', onError);
    server.listen({ port: config.port, host: config.host, ipv6Only: false }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // Such as accept() failing with EMFILE: once per code, since it repeats for every connection.
  server.on('error', (error: NodeJS.ErrnoException) =>
    logOnce(`error ${error.code}`, 'error', { err: error }, `telemeter/server: port ${port}: server error`),
  );

  const address = server.address();
  if (address === null || typeof address === 'string') {
    server.close();
    throw new TelemeterError('ERR_TELEMETER_LISTEN', 'telemeter/server: the server did not bind a TCP port');
  }
  port = address.port;
  const warning = exposureWarning(address.address, address.port, config.credentials, config.allowlist);
  if (warning !== undefined) log.warn({}, warning);
  const scheme = config.tls === undefined ? 'http' : 'https';
  const url = `${scheme}://${urlHost(address.address)}:${address.port}${config.path}`;

  return {
    port: address.port,
    host: address.address,
    url,
    server,
    refused,
    mount(path, handler, mountOptions = {}) {
      if (typeof path !== 'string' || !/^\/[^\s?#]*[^/\s?#]$/.test(path)) {
        invalidArgument(
          `telemeter/server: mount path must start with '/', not end with '/', and contain no spaces, '?' or '#', got ${JSON.stringify(path)}`,
        );
      }
      if (path === config.path || routes.some((r) => r.path === path)) {
        invalidArgument(`telemeter/server: mount path ${path} is already served`);
      }
      if (typeof handler !== 'function') {
        invalidArgument(`telemeter/server: mount ${path}: the handler must be a function`);
      }
      checkOptionKeys(`telemeter/server: mount ${path}`, mountOptions, ['title']);
      const title = mountOptions.title ?? path;
      if (typeof title !== 'string' || title === '') {
        invalidOption(`telemeter/server: mount ${path}: option title must be a non-empty string`);
      }
      routes.push({ path, title, handler });
      // Longest first, so /dashboard/api is found before /dashboard.
      routes.sort((a, b) => b.path.length - a.path.length);
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), config.closeTimeout);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
