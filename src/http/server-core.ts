import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import {
  addCollector,
  elapsedNs,
  execute,
  hasHandlers,
  type Measurements,
  type Metadata,
  monotonicNs,
  readClock,
  systemNs,
} from '../events/index.js';
import { processLog } from '../logger.js';
import { normalizeMethod } from './methods.js';
import { UNMATCHED_ROUTE } from './route-templates.js';
import { isServerFailure } from './server-failure.js';
import {
  type ResolvedServerOptions,
  resolveServerOptions,
  type ServerInstrumentationOptions,
} from './server-options.js';

/**
 * How a tracked request ended:
 * - `completed`: the whole response was written;
 * - `error`: a handler threw (the exception event fired), whether or not an error response went out;
 * - `aborted`: the client closed the connection before the response was complete;
 * - `timeout`: the server gave up on the connection (socket timeout or `server.requestTimeout`).
 */
export type RequestOutcome = 'completed' | 'error' | 'aborted' | 'timeout';

/**
 * The requests in flight on one connection, kept on its socket: one entry, or several when a client pipelines.
 * It is shared by every core in the process, so a request seen by two adapters (node:http and a framework) is
 * tracked once, and the framework adapter only adds its route and errors to the existing tracker.
 *
 * Why the socket: frameworks swap the prototypes of req/res (Express), and V8 cannot cache a property lookup
 * that misses along such a chain, so a marker on the response cost microseconds per request; a WeakMap from
 * response to tracker cost more, in garbage collection. A socket keeps its prototype and outlives its requests.
 */
const IN_FLIGHT = Symbol('telemeter.http.inFlight');

/** Stands for a request that a core decided to ignore, so that no other adapter starts tracking it. */
class IgnoredRequest {
  constructor(readonly response: ServerResponse) {}
}

type Entry = RequestTracker | IgnoredRequest;
type TrackedSocket = Socket & {
  [IN_FLIGHT]?: Entry[];
  [ENDS_VIA_CHANNEL]?: boolean;
  server?: { closeAllConnections?: unknown; requestTimeout?: number };
};

/**
 * Set on a socket whose responses end through {@link FINISH_CHANNEL} and whose aborts end through the socket's
 * `close`. Other sockets (a framework's fake socket, as in Fastify's `inject`) get a `close` listener on each
 * response.
 */
const ENDS_VIA_CHANNEL = Symbol('telemeter.http.endsViaChannel');

/**
 * Node's HTTP server publishes each response's end here, with its socket. Listening to it instead of adding a
 * `close` listener to every response saves an `addListener` call per request, which Express makes dear: the
 * lookup of `on` misses along the prototype chain it swaps in. Bun and Deno implement `node:http` without it.
 */
const FINISH_CHANNEL = 'http.server.response.finish';
const NODE_PUBLISHES_FINISH = process.versions.bun === undefined && process.versions.deno === undefined;
let finishSubscribed = false;

/** Whether the responses on `socket` will be published on {@link FINISH_CHANNEL}: it belongs to a Node server. */
function endsViaChannel(socket: TrackedSocket): boolean {
  if (!NODE_PUBLISHES_FINISH || typeof socket.server?.closeAllConnections !== 'function') return false;
  if (!finishSubscribed) {
    finishSubscribed = true;
    diagnosticsChannel.subscribe(FINISH_CHANNEL, onResponseFinish);
  }
  return true;
}

function onResponseFinish(message: unknown): void {
  const { response, socket } = message as { response: ServerResponse; socket?: TrackedSocket | null };
  const entries = socket?.[IN_FLIGHT];
  if (entries === undefined) return;
  const entry = entryFor(entries, response);
  if (entry === undefined) return;
  if (entry instanceof IgnoredRequest) removeEntry(entries, entry);
  else endTracked(entry);
}

/** A connection closed: every request still on it ended without its whole response (aborted or timed out). */
function onSocketClose(this: TrackedSocket): void {
  const entries = this[IN_FLIGHT];
  if (entries === undefined) return;
  for (const entry of [...entries]) {
    if (entry instanceof IgnoredRequest) removeEntry(entries, entry);
    else endTracked(entry);
  }
}

function entriesOf(request: IncomingMessage | undefined): Entry[] | undefined {
  return (request?.socket as TrackedSocket | null | undefined)?.[IN_FLIGHT];
}

function entryFor(entries: Entry[] | undefined, response: ServerResponse): Entry | undefined {
  if (entries === undefined) return undefined;
  for (let i = 0; i < entries.length; i++) if (entries[i].response === response) return entries[i];
  return undefined;
}

function removeEntry(entries: Entry[] | undefined, entry: Entry): void {
  if (entries === undefined) return;
  const index = entries.indexOf(entry);
  if (index === 0) entries.shift();
  else if (index > 0) entries.splice(index, 1);
}

const STATUS_LABELS: string[] = [];
for (let code = 100; code < 600; code++) STATUS_LABELS[code] = String(code);

/** The status label of a numeric status code, without allocating for the common ones. */
function statusLabel(code: number): string {
  return STATUS_LABELS[code] ?? String(code);
}

/** In-flight requests of one method, with the metadata its `<prefix>.active` events carry. */
interface InFlight {
  count: number;
  readonly eventName: string;
  readonly metadata: Metadata;
}

/**
 * In-flight requests per event prefix and method. Module-wide, so the `<prefix>.active` gauge counts every
 * instrumented server of the process, and a Telemeter created while requests are in flight still reads
 * the true count (a +1/-1 sum would go negative there).
 */
const inFlightByPrefix = new Map<string, Map<string, InFlight>>();

/**
 * The in-flight records of one event prefix, created with the collector that reports them. The count is
 * reported just before each read of the metrics (see events/collectors.ts), not at every change: a gauge is only
 * seen when it is read, and two events per request cost each request more than anything else telemeter did
 * for it.
 */
function inFlightOfPrefix(prefix: string): Map<string, InFlight> {
  let inFlight = inFlightByPrefix.get(prefix);
  if (inFlight === undefined) {
    const records = new Map<string, InFlight>();
    inFlight = records;
    inFlightByPrefix.set(prefix, records);
    addCollector(() => {
      for (const record of records.values()) {
        execute(record.eventName, { count: record.count }, record.metadata);
      }
    });
  }
  return inFlight;
}

/**
 * The instrumentation shared by every server adapter. Adapters call {@link ServerCore.track} when a request
 * arrives and report what only the framework knows (the route template, a handler's error); the core owns the
 * lifecycle: start event, the end of the response (Node's `http.server.response.finish`, or the connection's
 * `close`), outcome, status, sizes and the stop event. Nothing here throws into the application.
 */
export class ServerCore {
  readonly options: ResolvedServerOptions;
  private readonly inFlight: Map<string, InFlight>;

  constructor(
    readonly adapter: string,
    options: ServerInstrumentationOptions | undefined,
    extraKeys: readonly string[] = [],
    unreadKeys: readonly string[] = [],
  ) {
    this.options = resolveServerOptions(adapter, options, extraKeys, unreadKeys);
    this.inFlight = inFlightOfPrefix(this.options.eventPrefix);
  }

  /**
   * Starts tracking a `node:http` request, and returns its tracker; or returns the tracker that another adapter
   * already started for the same response; or `undefined` when the request is ignored.
   */
  track(request: IncomingMessage, response: ServerResponse): RequestTracker | undefined {
    const socket = request.socket as TrackedSocket | null;
    let entries = socket?.[IN_FLIGHT];
    if (entries === undefined && socket != null) {
      // The first request of an HTTP/1 connection, or any HTTP/2 request: its `socket` is a proxy to the session's
      // socket, shared by every stream, so HTTP/2 requests are tracked on their stream instead.
      const stream = (request as { stream?: Http2StreamLike }).stream;
      if (stream !== undefined && request.httpVersionMajor === 2) {
        return this.trackStream(stream, undefined, request, response);
      }
      entries = [];
      socket[IN_FLIGHT] = entries;
      // A passive listener: Node decides to destroy a timed-out socket from the request, response and server
      // listeners, not from the socket's own, so this does not change what happens on timeout.
      socket.on('timeout', onSocketTimeout);
      if (endsViaChannel(socket)) {
        socket[ENDS_VIA_CHANNEL] = true;
        socket.once('close', onSocketClose);
      }
    }
    const existing = entryFor(entries, response);
    if (existing !== undefined) return existing instanceof RequestTracker ? existing : undefined;
    const viaChannel = socket?.[ENDS_VIA_CHANNEL] === true;
    if (this.isIgnored(request)) {
      if (entries !== undefined) {
        const ignored = new IgnoredRequest(response);
        entries.push(ignored);
        if (!viaChannel) response.once('close', () => removeEntry(entries, ignored));
      }
      return undefined;
    }
    const tracker = new RequestTracker(
      this,
      normalizeMethod(request.method),
      request,
      response,
      undefined,
      '1.1',
    );
    entries?.push(tracker);
    if (!viaChannel) response.on('close', onResponseClose);
    tracker.begin();
    return tracker;
  }

  /**
   * Starts tracking a `node:http2` server stream, or returns the tracker another core or the compatibility
   * request of the same stream already started (Node emits `stream` first, then `request` for the same stream).
   * `headers` are the stream's request headers, `request` and `response` its compatibility-API objects if any;
   * one of the two must be given. Returns `undefined` when the request is ignored.
   */
  trackStream(
    stream: Http2StreamLike,
    headers: Http2Headers | undefined,
    request?: IncomingMessage,
    response?: ServerResponse,
  ): RequestTracker | undefined {
    const tracked = stream as TrackedStream;
    const existing = tracked[STREAM_TRACKER];
    if (existing !== undefined) {
      if (existing !== null && request !== undefined && existing.request instanceof Http2StreamRequest) {
        existing.request = request;
        existing.response = response;
      }
      return existing ?? undefined;
    }
    const target = request ?? (new Http2StreamRequest(stream, headers ?? {}) as unknown as IncomingMessage);
    if (this.isIgnored(target)) {
      tracked[STREAM_TRACKER] = null;
      return undefined;
    }
    const tracker = new RequestTracker(
      this,
      normalizeMethod(target.method),
      target,
      response,
      undefined,
      '2',
    );
    tracked[STREAM_TRACKER] = tracker;
    const session = stream.session as TrackedSession | undefined;
    if (session != null) {
      tracked[STREAM_SESSION] = session;
      if (session[SESSION_WATCHED] !== true) {
        session[SESSION_WATCHED] = true;
        // Passive, like the socket listener of HTTP/1: the server decides what a session timeout does.
        session.on('timeout', onSessionTimeout);
      }
    }
    stream.once('close', onStreamClose);
    stream.on('timeout', onStreamTimeout);
    tracker.begin();
    return tracker;
  }

  /**
   * Starts tracking a request that has no `node:http` objects (e.g. Hono on another runtime, or a fetch handler).
   * The adapter must call {@link RequestTracker.complete} exactly once. `url` is the request target (path and
   * query), matched against `ignore` paths and `route` templates. `request`, when given (a fetch `Request`), is
   * what the `ignore` and `route` functions receive and what the events report as `request`.
   */
  trackDetached(method: string, url: string, request?: object): RequestTracker | undefined {
    const subject = (request ?? { method, url, headers: {} }) as IncomingMessage;
    if (this.isIgnored(subject, url)) return undefined;
    const tracker = new RequestTracker(this, normalizeMethod(method), undefined, undefined, url);
    tracker.detachedRequest = request;
    tracker.begin();
    return tracker;
  }

  /** @internal The in-flight record of a method, resolved once per request. */
  inFlightOf(method: string): InFlight {
    let record = this.inFlight.get(method);
    if (record === undefined) {
      record = {
        count: 0,
        eventName: this.options.activeEvent,
        metadata: Object.freeze({ method }),
      };
      this.inFlight.set(method, record);
    }
    return record;
  }

  /**
   * @internal The route of a request the framework did not route, from the `route` option. `request` is what the
   * option's function receives: the `node:http` request, or a detached request's own object.
   */
  fallbackRoute(request: unknown, url: string | undefined): string {
    const { routeTemplates, routeFunction } = this.options;
    if (routeTemplates !== undefined && url !== undefined) {
      return routeTemplates.match(url) ?? UNMATCHED_ROUTE;
    }
    if (routeFunction !== undefined && request !== undefined) {
      try {
        const route = routeFunction(request as IncomingMessage);
        if (typeof route === 'string' && route !== '') return route;
      } catch (error) {
        processLog.warnOnce(
          `http-route-fn:${this.adapter}`,
          { err: error },
          `${this.adapter}: option route threw; such requests are labelled ${UNMATCHED_ROUTE}`,
        );
      }
    }
    return UNMATCHED_ROUTE;
  }

  private isIgnored(request: IncomingMessage, target?: string): boolean {
    const { ignorePaths, ignorePredicate } = this.options;
    if (ignorePaths !== undefined) {
      const url = target ?? requestTarget(request);
      const query = url.indexOf('?');
      return ignorePaths.has(query < 0 ? url : url.slice(0, query));
    }
    if (ignorePredicate !== undefined) {
      try {
        return ignorePredicate(request) === true;
      } catch (error) {
        processLog.warnOnce(
          `http-ignore-fn:${this.adapter}`,
          { err: error },
          `${this.adapter}: option ignore threw; measuring`,
        );
      }
    }
    return false;
  }
}

/** The request target before any framework rewrote `req.url` (Express trims it while routing). */
function requestTarget(request: IncomingMessage): string {
  return (request as { originalUrl?: string }).originalUrl ?? request.url ?? '/';
}

/** One request between its start and stop events. Adapters report the route and errors through it. */
export class RequestTracker {
  /** The route template, once the framework resolved it. */
  route: string | undefined = undefined;
  /**
   * Reads the route template from the framework when the route is needed, if `route` was not set. It gets the
   * request and {@link RequestTracker.adapterState}.
   */
  routeResolver: ((request: IncomingMessage, adapterState: unknown) => string | undefined) | undefined =
    undefined;
  /** A slot for the adapter's own per-request state (Express keeps what it assigned to `req.route`). */
  adapterState: unknown = undefined;
  /** A detached request's own object (a fetch `Request`), reported as the events' `request`. */
  detachedRequest: unknown = undefined;
  /** A detached request's answer (a fetch `Response`), reported as the stop event's `response`. */
  detachedResponse: unknown = undefined;
  /** Set when the server timed the connection out. */
  timedOut = false;
  /** Clock reading at the start, in milliseconds (see events/operation-clock.ts). */
  private readonly startTime: number;
  private readonly inFlight: InFlight;
  private failed = false;
  private done = false;

  constructor(
    private readonly core: ServerCore,
    /** The normalized method label. */
    readonly method: string,
    /**
     * The request: a `node:http` `IncomingMessage`, a `node:http2` `Http2ServerRequest`, or for an HTTP/2 stream
     * without one, a plain `{ method, url, headers, httpVersion: '2.0', stream }`.
     */
    public request: IncomingMessage | undefined,
    /** The `ServerResponse` or `Http2ServerResponse`; `undefined` for an HTTP/2 stream answered with `respond()`. */
    public response: ServerResponse | undefined,
    private readonly url?: string,
    /** `'1.1'` for HTTP/1.x, `'2'` for HTTP/2, `undefined` when the adapter does not know (detached requests). */
    readonly protocol?: HttpProtocol,
  ) {
    this.startTime = readClock();
    this.inFlight = core.inFlightOf(method);
  }

  /** @internal */
  begin(): void {
    // Metrics listen to the stop event; the start event is often unheard, and then not worth building.
    const startEvent = this.core.options.startEvent;
    if (hasHandlers(startEvent)) {
      execute(
        startEvent,
        { system_time: systemNs(this.startTime), monotonic_time: monotonicNs(this.startTime) },
        {
          method: this.method,
          protocol: this.protocol,
          request: this.request ?? this.detachedRequest,
          response: this.response,
        },
      );
    }
    this.inFlight.count++;
  }

  /** Records the framework's route template. Empty or non-string values are ignored. */
  setRoute(route: unknown): void {
    if (typeof route === 'string' && route !== '') this.route = route;
  }

  /**
   * Reports a handler's error: emits `<prefix>.exception` (once per request) with the duration so far and
   * `kind`, `reason`, `stacktrace`. The stop event still follows when the response ends, with outcome `error`.
   * An error that carries a status under 500 (`status`, `statusCode` or `getStatus()`, as `ctx.throw(404)`,
   * Nest's `NotFoundException` or Hono's `HTTPException(401)` do) is the framework's answer, not a failure of the
   * server: it emits nothing, and the request ends with outcome `completed` (see server-failure.ts).
   */
  fail(error: unknown): void {
    if (this.failed || this.done || !isServerFailure(error)) return;
    this.failed = true;
    const now = readClock();
    execute(
      this.core.options.exceptionEvent,
      { duration: elapsedNs(this.startTime, now), monotonic_time: monotonicNs(now) },
      {
        method: this.method,
        route: this.resolvedRoute(),
        kind: error instanceof Error ? 'error' : 'throw',
        reason: error,
        stacktrace: error instanceof Error ? error.stack : undefined,
        protocol: this.protocol,
        request: this.request ?? this.detachedRequest,
        response: this.response,
      },
    );
  }

  /**
   * Ends a detached request (see {@link ServerCore.trackDetached}) with its final status and body sizes.
   * Tracked `node:http` requests end on their own when the response closes.
   */
  complete(status: number, responseSize?: number, outcome?: RequestOutcome, requestSize?: number): void {
    const resolved = outcome ?? (this.failed ? 'error' : 'completed');
    const label =
      resolved === 'aborted'
        ? this.core.options.abortedStatus
        : resolved === 'timeout'
          ? this.core.options.timeoutStatus
          : statusLabel(status);
    this.stop(label, resolved, responseSize, requestSize ?? requestBodySize(this.request));
  }

  /**
   * @internal Called when the response ends: when Node's server publishes its end, when its connection closes
   * first, or, on a socket that is not a Node server's, when the `ServerResponse` closes. There, `end()` having
   * been called counts as the whole response: a fake socket (Fastify's `inject`) never drains, so the response
   * never reads as finished.
   */
  responseClosed(endedIsFinished = false): void {
    const response = this.response!;
    if (response.writableFinished || (endedIsFinished && response.writableEnded)) {
      // A response did go out (e.g. a 503 from a timeout handler): its status is the label, the outcome says why.
      this.stop(
        statusLabel(response.statusCode),
        this.timedOut ? 'timeout' : this.failed ? 'error' : 'completed',
        responseBodySize(this.request, response),
        requestBodySize(this.request),
      );
    } else if (this.failed) {
      // The handler failed after the headers went out, and the framework cut the connection.
      this.stop('500', 'error', undefined, requestBodySize(this.request));
    } else if (this.timedOut || this.requestTimedOut()) {
      this.stop(this.core.options.timeoutStatus, 'timeout', undefined, requestBodySize(this.request));
    } else {
      this.stop(this.core.options.abortedStatus, 'aborted', undefined, requestBodySize(this.request));
    }
  }

  /** @internal Called when an HTTP/2 stream closes: after its response ended, or on RST_STREAM or session loss. */
  streamClosed(stream: Http2StreamLike, sessionTimedOut: boolean): void {
    const timedOut = this.timedOut || sessionTimedOut;
    const sent = stream.sentHeaders;
    const requestSize = http2RequestSize(
      this.method,
      (this.request as { headers?: Http2Headers } | undefined)?.headers,
    );
    // `aborted` is Node's "the stream closed before its writable side ended": a response cut off, by the client
    // (RST_STREAM) or by a lost session; the server's own RST_STREAM after a complete response does not set it.
    if (stream.headersSent && !stream.aborted && sent != null) {
      const code = Number(sent[':status']);
      this.stop(
        statusLabel(code),
        timedOut ? 'timeout' : this.failed ? 'error' : 'completed',
        http2ResponseSize(this.method, code, sent),
        requestSize,
      );
    } else if (this.failed) {
      this.stop('500', 'error', undefined, requestSize);
    } else if (timedOut) {
      this.stop(this.core.options.timeoutStatus, 'timeout', undefined, requestSize);
    } else {
      this.stop(this.core.options.abortedStatus, 'aborted', undefined, requestSize);
    }
  }

  private requestTimedOut(): boolean {
    // Node's requestTimeout cuts a request whose body is still arriving, writing 408 on the raw socket;
    // nothing tells the response why it closed, so compare the elapsed time with the server's limit.
    const request = this.request;
    if (request === undefined || request.complete) return false;
    const server = (request.socket as { server?: { requestTimeout?: number } } | null)?.server;
    const limit = server?.requestTimeout ?? 0;
    return limit > 0 && readClock() - this.startTime >= limit * 0.9;
  }

  private resolvedRoute(): string {
    if (this.route !== undefined) return this.route;
    if (this.routeResolver !== undefined && this.request !== undefined) {
      try {
        const route = this.routeResolver(this.request, this.adapterState);
        if (typeof route === 'string' && route !== '') return route;
      } catch (error) {
        processLog.errorOnce(
          `http-route:${this.core.adapter}`,
          { err: error },
          `${this.core.adapter}: failed to read the route`,
        );
      }
    }
    return this.core.fallbackRoute(this.request ?? this.detachedRequest, this.url ?? targetOf(this.request));
  }

  private stop(
    status: string,
    outcome: RequestOutcome,
    responseSize: number | undefined,
    requestSize: number | undefined,
  ): void {
    if (this.done) return;
    this.done = true;
    removeEntry(entriesOf(this.request), this);
    const now = readClock();
    // One object shape for every stop event; an unknown size is `undefined`, which metrics skip as missing.
    const measurements: Measurements = {
      duration: elapsedNs(this.startTime, now),
      monotonic_time: monotonicNs(now),
      response_size: responseSize,
      request_size: requestSize,
    };
    const route = this.resolvedRoute();
    this.inFlight.count--;
    execute(this.core.options.stopEvent, measurements, {
      method: this.method,
      route,
      status,
      outcome,
      protocol: this.protocol,
      request: this.request ?? this.detachedRequest,
      response: this.response ?? this.detachedResponse,
    });
  }
}

function targetOf(request: IncomingMessage | undefined): string | undefined {
  return request === undefined ? undefined : requestTarget(request);
}

/**
 * The tracker of a response, if a core is tracking it: a `node:http` `ServerResponse`, or a `node:http2`
 * `Http2ServerResponse`.
 */
export function trackerOf(response: ServerResponse | Http2ServerResponse): RequestTracker | undefined {
  const request = (response as { req?: IncomingMessage }).req;
  const entry = entryFor(
    entriesOf(request) ?? (response.socket as TrackedSocket | null)?.[IN_FLIGHT],
    response as ServerResponse,
  );
  if (entry instanceof RequestTracker) return entry;
  return streamTrackerOf(response as { stream?: Http2StreamLike });
}

/** The tracker of a request, if a core is tracking it. */
export function trackerOfRequest(request: IncomingMessage): RequestTracker | undefined {
  const entries = entriesOf(request);
  if (entries !== undefined) {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      if (entry instanceof RequestTracker && entry.request === request) return entry;
    }
  }
  return streamTrackerOf(request as { stream?: Http2StreamLike });
}

/** The tracker of an HTTP/2 compatibility-API request or response, found through its stream. */
function streamTrackerOf(message: { stream?: Http2StreamLike }): RequestTracker | undefined {
  const stream = message.stream as TrackedStream | undefined;
  return stream?.[STREAM_TRACKER] ?? undefined;
}

function onResponseClose(this: ServerResponse): void {
  const tracker = trackerOf(this);
  if (tracker !== undefined) endTracked(tracker, true);
}

function endTracked(tracker: RequestTracker, endedIsFinished = false): void {
  try {
    tracker.responseClosed(endedIsFinished);
  } catch (error) {
    processLog.errorOnce('http-close', { err: error }, 'telemeter/http: failed to record a finished request');
  }
}

function onSocketTimeout(this: TrackedSocket): void {
  const entries = this[IN_FLIGHT];
  if (entries === undefined) return;
  for (const entry of entries) if (entry instanceof RequestTracker) entry.timedOut = true;
}

/**
 * Body bytes of a finished response, from its Content-Length. A streamed (chunked) response declares no length,
 * and its size is left out rather than guessed; HEAD, 1xx, 204 and 304 responses have no body.
 */
function responseBodySize(
  request: IncomingMessage | undefined,
  response: ServerResponse,
): number | undefined {
  const code = response.statusCode;
  if (request?.method === 'HEAD' || code === 204 || code === 304 || code < 200) return 0;
  // Node parses the declared length into `_contentLength` however the header was given (setHeader, or a
  // writeHead(status, headers) that bypasses the stored headers, as Fastify and @hono/node-server do).
  const parsed = (response as { _contentLength?: unknown })._contentLength;
  if (typeof parsed === 'number') return parsed >= 0 && Number.isFinite(parsed) ? parsed : undefined;
  const header = response.getHeader('content-length');
  const size = typeof header === 'number' ? header : typeof header === 'string' ? Number(header) : Number.NaN;
  return size >= 0 && Number.isFinite(size) ? size : undefined;
}

/**
 * Declared request body bytes. Reads `rawHeaders`, because `headers` is built lazily on first access; skips
 * GET and HEAD, whose requests have no body in practice, to keep the common case free.
 */
function requestBodySize(request: IncomingMessage | undefined): number | undefined {
  if (request === undefined || request.method === 'GET' || request.method === 'HEAD') return undefined;
  const raw = request.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      const size = Number(raw[i + 1]);
      return size >= 0 && Number.isFinite(size) ? size : undefined;
    }
  }
  return undefined;
}

/** The HTTP version of a tracked request, in the events' `protocol` metadata. */
export type HttpProtocol = '1.1' | '2';

/** HTTP/2 request or response headers, as `node:http2` gives them (pseudo-headers included). */
export type Http2Headers = Readonly<Record<string, string | string[] | number | undefined>>;

/** The parts of a `node:http2` `ServerHttp2Stream` that the tracking reads, so the package never imports it. */
export interface Http2StreamLike {
  readonly session?: unknown;
  readonly headersSent: boolean;
  readonly sentHeaders?: Http2Headers | null;
  readonly aborted: boolean;
  on(event: string, listener: (...args: never[]) => void): unknown;
  once(event: string, listener: (...args: never[]) => void): unknown;
}

/**
 * The tracker of an HTTP/2 stream, or `null` when a core ignored it. HTTP/2 multiplexes many streams on one
 * session socket, so the per-socket list of HTTP/1 does not apply; a stream carries one request, and outlives
 * nothing, which makes it the natural key.
 */
const STREAM_TRACKER = Symbol('telemeter.http2.tracker');
/** The session of a stream: Node clears `stream.session` before the stream's `close` event. */
const STREAM_SESSION = Symbol('telemeter.http2.session');
const SESSION_WATCHED = Symbol('telemeter.http2.watched');
const SESSION_TIMED_OUT = Symbol('telemeter.http2.timedOut');

type TrackedStream = Http2StreamLike & {
  [STREAM_TRACKER]?: RequestTracker | null;
  [STREAM_SESSION]?: TrackedSession;
};
interface TrackedSession {
  [SESSION_WATCHED]?: boolean;
  [SESSION_TIMED_OUT]?: boolean;
  on(event: string, listener: (this: TrackedSession) => void): unknown;
}

/**
 * The `request` of an HTTP/2 stream's events until (or unless) Node builds its `Http2ServerRequest`: enough
 * for the `ignore` and `route` options and for custom metrics that read the method, path or headers.
 */
class Http2StreamRequest {
  readonly method: string;
  readonly url: string;
  readonly httpVersion = '2.0';
  readonly httpVersionMajor = 2;
  readonly httpVersionMinor = 0;

  constructor(
    readonly stream: Http2StreamLike,
    readonly headers: Http2Headers,
  ) {
    const method = headers[':method'];
    const path = headers[':path'];
    this.method = typeof method === 'string' ? method : 'GET';
    this.url = typeof path === 'string' ? path : '/';
  }
}

function onStreamClose(this: TrackedStream): void {
  const tracker = this[STREAM_TRACKER];
  if (tracker == null) return;
  try {
    tracker.streamClosed(this, this[STREAM_SESSION]?.[SESSION_TIMED_OUT] === true);
  } catch (error) {
    processLog.errorOnce(
      'http2-close',
      { err: error },
      'telemeter/http: failed to record a finished HTTP/2 stream',
    );
  }
}

function onStreamTimeout(this: TrackedStream): void {
  const tracker = this[STREAM_TRACKER];
  if (tracker != null) tracker.timedOut = true;
}

function onSessionTimeout(this: TrackedSession): void {
  this[SESSION_TIMED_OUT] = true;
}

function headerNumber(value: string | string[] | number | undefined): number | undefined {
  const size = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return size >= 0 && Number.isFinite(size) ? size : undefined;
}

/** As {@link responseBodySize}, from the headers an HTTP/2 stream sent. */
function http2ResponseSize(method: string, code: number, sent: Http2Headers): number | undefined {
  if (method === 'HEAD' || code === 204 || code === 304 || code < 200) return 0;
  return headerNumber(sent['content-length']);
}

/** As {@link requestBodySize}, from an HTTP/2 request's headers. */
function http2RequestSize(method: string, headers: Http2Headers | undefined): number | undefined {
  if (headers === undefined || method === 'GET' || method === 'HEAD') return undefined;
  return headerNumber(headers['content-length']);
}
