import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { invalidOption } from '../errors.js';
import { elapsedNs, execute, hasHandlers, monotonicNs, readClock, systemNs } from '../events/index.js';
import { processLog } from '../logger.js';
import { checkOptionKeys } from '../options.js';
import { normalizeMethod } from './methods.js';
import type { Uninstall } from './node-server.js';
import { eventPrefixOption } from './server-options.js';

/** The default event prefix of client instrumentation: `http.client.request.start` and `.stop`. */
export const CLIENT_EVENT_PREFIX = 'http.client.request';

/** The host label of every host beyond the allowlist or the `maxHosts` budget. */
export const OTHER_HOST = '<other>';

/**
 * How a client request ended: `completed` when response headers arrived (whatever the status); `aborted` when
 * the caller aborted it (an `AbortSignal`, including `AbortSignal.timeout`, which undici reports as an abort);
 * `timeout` for the client's own timeouts (undici's connect/headers timeouts, `ETIMEDOUT`); `error` otherwise.
 */
export type ClientRequestOutcome = 'completed' | 'aborted' | 'timeout' | 'error';

/** Options of {@link instrumentHttpClient}. */
export interface HttpClientInstrumentationOptions {
  /** Prefix of the events, default `http.client.request`. Pass the same prefix to `httpClientMetrics`. */
  readonly eventPrefix?: string;
  /**
   * Hosts (`host` or `host:port`, as in a URL) that get their own label; every other host is `<other>`.
   * Without it, the first `maxHosts` distinct hosts get their own label.
   */
  readonly hosts?: readonly string[];
  /** How many distinct hosts get their own label when `hosts` is not set. Default 50. */
  readonly maxHosts?: number;
  /** Which clients to observe: `fetch`/undici and/or `node:http`. Default both. */
  readonly sources?: readonly ('undici' | 'http')[];
}

interface PendingRequest {
  /** Clock reading in milliseconds (see events/operation-clock.ts). */
  readonly start: number;
  readonly method: string;
  readonly host: string;
}

interface UndiciRequestLike {
  readonly method?: string;
  readonly origin?: unknown;
}

const KNOWN_OPTIONS = new Set(['eventPrefix', 'hosts', 'maxHosts', 'sources']);
const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
]);

/**
 * Measures outgoing HTTP requests through Node's diagnostics channels: `fetch` and undici
 * (`undici:request:create`, `:headers`, `:error`) and `node:http`/`node:https` clients
 * (`http.client.request.start`, `http.client.response.finish`, `http.client.request.error`).
 *
 * Each request emits `http.client.request.start` and then exactly one `http.client.request.stop`, with
 * `duration` (native ns) from the request's creation to its **response headers** (or to its failure), and
 * metadata `{ method, host, status, outcome }` (`status` is the code, or the outcome when no response came;
 * `error` holds the error). The body download is not included: a body that is never read would otherwise
 * never stop. Host labels are bounded by `hosts` or `maxHosts`. Returns a function that unsubscribes.
 *
 * @throws TelemeterTypeError for an option, naming it: `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid
 * key) or `ERR_TELEMETER_INVALID_OPTION`.
 */
export function instrumentHttpClient(options: HttpClientInstrumentationOptions = {}): Uninstall {
  const where = 'telemeter/http: instrumentHttpClient';
  const fail = (option: string, why: string): never => invalidOption(`${where}: option ${option} ${why}`);
  checkOptionKeys(where, options, KNOWN_OPTIONS);
  const prefix = eventPrefixOption(where, options.eventPrefix, CLIENT_EVENT_PREFIX);
  if (options.hosts !== undefined) {
    if (!Array.isArray(options.hosts) || options.hosts.some((h) => typeof h !== 'string' || h === '')) {
      fail('hosts', 'must be an array of host names (host or host:port)');
    }
  }
  const maxHosts = options.maxHosts ?? 50;
  if (!(Number.isInteger(maxHosts) && maxHosts >= 0)) fail('maxHosts', 'must be an integer >= 0');
  const sources = options.sources ?? ['undici', 'http'];
  if (!Array.isArray(sources) || sources.some((s) => s !== 'undici' && s !== 'http')) {
    fail('sources', "must be an array of 'undici' and/or 'http'");
  }

  const hostLabel = hostLabeler(options.hosts, maxHosts);
  const startEvent = `${prefix}.start`;
  const stopEvent = `${prefix}.stop`;
  const pending = new WeakMap<object, PendingRequest>();

  const begin = (request: object, method: string, rawHost: string) => {
    const record: PendingRequest = {
      start: readClock(),
      method: normalizeMethod(method),
      host: hostLabel(rawHost.toLowerCase()),
    };
    pending.set(request, record);
    if (hasHandlers(startEvent)) {
      execute(
        startEvent,
        { system_time: systemNs(record.start), monotonic_time: monotonicNs(record.start) },
        { method: record.method, host: record.host },
      );
    }
  };
  const end = (request: object, status: number | undefined, error: unknown) => {
    const record = pending.get(request);
    if (record === undefined) return;
    pending.delete(request);
    const outcome: ClientRequestOutcome = status !== undefined ? 'completed' : outcomeOf(error);
    const now = readClock();
    execute(
      stopEvent,
      { duration: elapsedNs(record.start, now), monotonic_time: monotonicNs(now) },
      {
        method: record.method,
        host: record.host,
        status: status !== undefined ? String(status) : outcome,
        outcome,
        error,
      },
    );
  };

  const subscriptions: Array<[string, (message: unknown) => void]> = [];
  const on = (channel: string, handler: (message: any) => void) => {
    const guarded = (message: unknown) => {
      try {
        handler(message);
      } catch (error) {
        processLog.errorOnce(
          `http-client:${channel}`,
          { err: error },
          `telemeter/http: failed to record ${channel}`,
        );
      }
    };
    diagnosticsChannel.subscribe(channel, guarded);
    subscriptions.push([channel, guarded]);
  };

  if (sources.includes('undici')) {
    on('undici:request:create', ({ request }: { request: UndiciRequestLike }) => {
      begin(request, request.method ?? 'GET', hostOfOrigin(request.origin));
    });
    on(
      'undici:request:headers',
      ({ request, response }: { request: object; response: { statusCode: number } }) =>
        end(request, response.statusCode, undefined),
    );
    on('undici:request:error', ({ request, error }: { request: object; error: unknown }) =>
      end(request, undefined, error),
    );
  }
  if (sources.includes('http')) {
    on('http.client.request.start', ({ request }: { request: ClientRequest }) => {
      const host = request.getHeader('host');
      begin(request, request.method, typeof host === 'string' ? host : (request.host ?? ''));
    });
    on(
      'http.client.response.finish',
      ({ request, response }: { request: ClientRequest; response: IncomingMessage }) =>
        end(request, response.statusCode, undefined),
    );
    on('http.client.request.error', ({ request, error }: { request: ClientRequest; error: unknown }) =>
      end(request, undefined, error),
    );
  }

  let installed = true;
  return () => {
    if (!installed) return;
    installed = false;
    for (const [channel, handler] of subscriptions) diagnosticsChannel.unsubscribe(channel, handler);
  };
}

/** `host[:port]` of an origin such as `https://api.example.com:8443`. */
function hostOfOrigin(origin: unknown): string {
  const text = typeof origin === 'string' ? origin : String(origin ?? '');
  const scheme = text.indexOf('://');
  const start = scheme < 0 ? 0 : scheme + 3;
  const end = text.indexOf('/', start);
  return end < 0 ? text.slice(start) : text.slice(start, end);
}

function hostLabeler(allowlist: readonly string[] | undefined, maxHosts: number): (host: string) => string {
  if (allowlist !== undefined) {
    const allowed = new Set(allowlist.map((h) => h.toLowerCase()));
    return (host) => (allowed.has(host) ? host : OTHER_HOST);
  }
  const seen = new Set<string>();
  return (host) => {
    if (seen.has(host)) return host;
    if (seen.size >= maxHosts || host === '') return OTHER_HOST;
    seen.add(host);
    return host;
  };
}

function outcomeOf(error: unknown): ClientRequestOutcome {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  if (name === 'AbortError') return 'aborted';
  if (name === 'TimeoutError' || (typeof code === 'string' && TIMEOUT_CODES.has(code))) return 'timeout';
  return 'error';
}
