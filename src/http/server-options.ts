import type { IncomingMessage } from 'node:http';
import { invalidOption } from '../errors.js';
import { checkOptionKeys } from '../options.js';
import { RouteTemplates } from './route-templates.js';

/** The default event prefix of server instrumentation: `http.server.request.start`, `.stop`, `.exception`. */
export const SERVER_EVENT_PREFIX = 'http.server.request';

/** Options shared by every server adapter (`instrumentHttpServer`, `expressMiddleware`, `fastifyPlugin`, ...). */
export interface ServerInstrumentationOptions {
  /**
   * Prefix of the events, default `http.server.request`: the adapter emits `<prefix>.start`, `<prefix>.stop`,
   * `<prefix>.exception` and `<prefix>.active`. Pass the same prefix to `httpMetrics`.
   */
  readonly eventPrefix?: string;
  /**
   * Requests that emit no events at all: exact paths (the query string is ignored), or a predicate on the
   * request. Use it for health checks and the metrics path: `ignore: ['/healthz', '/metrics']`.
   */
  readonly ignore?: readonly string[] | ((request: IncomingMessage) => boolean);
  /**
   * The route of a request that the framework did not route (plain `node:http`, or middleware that answered
   * before any route matched): a list of templates such as `['/users/:id', '/files/*']`, or a function that
   * returns a route template. Whatever it returns becomes a label value, so it must come from a fixed set.
   * Requests still without a route are labelled `<unmatched>`.
   */
  readonly route?: readonly string[] | ((request: IncomingMessage) => string | undefined);
  /** Status label of a request whose client went away before the response completed. Default `'499'`. */
  readonly abortedStatus?: string;
  /** Status label of a request the server gave up on (socket or request timeout). Default `'504'`. */
  readonly timeoutStatus?: string;
}

/** Options after validation, with every default applied. */
export interface ResolvedServerOptions {
  readonly eventPrefix: string;
  readonly startEvent: string;
  readonly stopEvent: string;
  readonly exceptionEvent: string;
  readonly activeEvent: string;
  readonly ignorePaths: ReadonlySet<string> | undefined;
  readonly ignorePredicate: ((request: IncomingMessage) => boolean) | undefined;
  readonly routeTemplates: RouteTemplates | undefined;
  readonly routeFunction: ((request: IncomingMessage) => string | undefined) | undefined;
  readonly abortedStatus: string;
  readonly timeoutStatus: string;
}

const KNOWN_OPTIONS = new Set(['eventPrefix', 'ignore', 'route', 'abortedStatus', 'timeoutStatus']);
const EVENT_PREFIX = /^[^.]+(\.[^.]+)*$/;

/**
 * The `eventPrefix` option of an instrumentation or metrics function, `fallback` when not given.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_OPTION` unless it is a dotted event name.
 */
export function eventPrefixOption(where: string, value: unknown, fallback: string): string {
  const prefix = value ?? fallback;
  if (typeof prefix !== 'string' || !EVENT_PREFIX.test(prefix)) {
    invalidOption(
      `${where}: option eventPrefix must be a dotted event name such as "${fallback}", got ${JSON.stringify(prefix)}`,
    );
  }
  return prefix;
}

/**
 * Validates adapter options once, at start-up.
 *
 * @param extraKeys keys an adapter reads itself (they are not rejected as unknown).
 * @param unreadKeys shared keys this adapter has no use for (they are rejected as unknown).
 * @throws TelemeterTypeError naming the adapter and the option: `ERR_TELEMETER_UNKNOWN_OPTION` for a key no
 *   adapter reads (with the closest valid one), `ERR_TELEMETER_INVALID_OPTION` for an invalid value.
 */
export function resolveServerOptions(
  adapter: string,
  options: unknown,
  extraKeys: readonly string[] = [],
  unreadKeys: readonly string[] = [],
): ResolvedServerOptions {
  const where = `telemeter/http: ${adapter}`;
  const fail = (option: string, why: string): never => invalidOption(`${where}: option ${option} ${why}`);
  if (options === undefined) options = {};
  checkOptionKeys(
    where,
    options,
    [...KNOWN_OPTIONS, ...extraKeys].filter((key) => !unreadKeys.includes(key)),
  );
  const o = options as ServerInstrumentationOptions;

  const eventPrefix = eventPrefixOption(where, o.eventPrefix, SERVER_EVENT_PREFIX);

  let ignorePaths: Set<string> | undefined;
  let ignorePredicate: ResolvedServerOptions['ignorePredicate'];
  if (typeof o.ignore === 'function') {
    ignorePredicate = o.ignore;
  } else if (Array.isArray(o.ignore)) {
    o.ignore.forEach((path: unknown, i: number) => {
      if (typeof path !== 'string' || !path.startsWith('/')) {
        fail(`ignore[${i}]`, `must be a path starting with "/", got ${JSON.stringify(path)}`);
      }
    });
    if (o.ignore.length > 0) ignorePaths = new Set(o.ignore);
  } else if (o.ignore !== undefined) {
    fail('ignore', 'must be an array of exact paths or a function (request) => boolean');
  }

  let routeTemplates: RouteTemplates | undefined;
  let routeFunction: ResolvedServerOptions['routeFunction'];
  if (typeof o.route === 'function') {
    routeFunction = o.route;
  } else if (Array.isArray(o.route)) {
    routeTemplates = new RouteTemplates(o.route, `${adapter}: option route`);
  } else if (o.route !== undefined) {
    fail('route', 'must be an array of route templates or a function (request) => string | undefined');
  }

  const statusOption = (name: 'abortedStatus' | 'timeoutStatus', fallback: string): string => {
    const value = o[name] ?? fallback;
    if (typeof value !== 'string' || value === '') fail(name, 'must be a non-empty string');
    return value;
  };

  return Object.freeze({
    eventPrefix,
    startEvent: `${eventPrefix}.start`,
    stopEvent: `${eventPrefix}.stop`,
    exceptionEvent: `${eventPrefix}.exception`,
    activeEvent: `${eventPrefix}.active`,
    ignorePaths,
    ignorePredicate,
    routeTemplates,
    routeFunction,
    abortedStatus: statusOption('abortedStatus', '499'),
    timeoutStatus: statusOption('timeoutStatus', '504'),
  });
}
