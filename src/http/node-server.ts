import diagnosticsChannel from 'node:diagnostics_channel';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2SecureServer, Http2Server } from 'node:http2';
import type { Server as HttpsServer } from 'node:https';
import { invalidArgument } from '../errors.js';
import { type Http2Headers, type Http2StreamLike, ServerCore } from './server-core.js';
import type { ServerInstrumentationOptions } from './server-options.js';

/** Removes the instrumentation it came from. Calling it twice does nothing. */
export type Uninstall = () => void;

/** A server that {@link instrumentHttpServer} accepts. */
export type InstrumentableServer = HttpServer | HttpsServer | Http2Server | Http2SecureServer;

// Structural, so that importing telemeter/http loads neither node:http nor node:http2.
interface ServerLike {
  prependListener(event: string, listener: (...args: never[]) => void): unknown;
  removeListener(event: string, listener: (...args: never[]) => void): unknown;
  on(event: string, listener: (...args: never[]) => void): unknown;
  listenerCount(event: string): number;
}

/**
 * Which kind of server a value is: `http1` for `node:http` and `node:https` servers (only they have
 * `closeAllConnections`), `http2` for `node:http2` servers (only they have `updateSettings`).
 */
function serverKind(server: unknown): 'http1' | 'http2' | undefined {
  if (server === null || typeof server !== 'object') return undefined;
  const candidate = server as Partial<Record<string, unknown>>;
  if (typeof candidate.prependListener !== 'function' || typeof candidate.listenerCount !== 'function') {
    return undefined;
  }
  if (typeof candidate.closeAllConnections === 'function') return 'http1';
  if (typeof candidate.updateSettings === 'function') return 'http2';
  return undefined;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`;
  if (typeof value !== 'object') return typeof value;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object';
}

/**
 * Instruments one server: every request emits `http.server.request.start`, then `.stop` when its response ends
 * (plus `.exception` when a framework adapter reports an error). It accepts:
 *
 * - `node:http` and `node:https` servers;
 * - `node:http2` servers, from `createServer` (h2c) and `createSecureServer` (TLS, with `allowHTTP1` too): both
 *   the compatibility API (`request` event) and the core API (`stream` event, `stream.respond()`) are measured,
 *   each stream once. The events carry `protocol: '2'` (`'1.1'` for HTTP/1.x requests).
 *
 * A plain server has no router, so requests are labelled `<unmatched>` unless `options.route` gives templates
 * or a function. A framework adapter on the same server (`expressMiddleware`, `koaMiddleware`, ...) reuses this
 * tracking and only adds the route, so nothing is counted twice.
 *
 * @throws TelemeterTypeError at call time: `ERR_TELEMETER_INVALID_ARGUMENT` for anything else (a `net.Server`,
 *   a framework's app object, ...), `ERR_TELEMETER_UNKNOWN_OPTION` or `ERR_TELEMETER_INVALID_OPTION` for an
 *   option, naming it.
 */
export function instrumentHttpServer(
  server: InstrumentableServer,
  options?: ServerInstrumentationOptions,
): Uninstall {
  const kind = serverKind(server);
  if (kind === undefined) {
    invalidArgument(
      `telemeter/http: instrumentHttpServer: the first argument must be a node:http Server, a node:https ` +
        `Server, or a node:http2 server from createServer or createSecureServer; got ${describe(server)}. For a framework, ` +
        'pass the server it listens on (Fastify: app.server) or use its adapter',
    );
  }
  const core = new ServerCore('instrumentHttpServer', options);
  const target = server as unknown as ServerLike;
  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    core.track(request, response);
  };
  if (kind === 'http1') {
    // Prepended so the clock starts before the application's own request listener runs.
    target.prependListener('request', onRequest);
    return () => {
      target.removeListener('request', onRequest);
    };
  }
  return instrumentHttp2Server(target, core, onRequest);
}

/**
 * Every HTTP/2 stream is tracked from the `stream` event, which Node emits before it builds the
 * compatibility-API request; the `request` listener then only hands that request and response to the
 * stream's tracker (and tracks the HTTP/1 requests of an `allowHTTP1` server).
 */
function instrumentHttp2Server(
  server: ServerLike,
  core: ServerCore,
  onRequest: (request: IncomingMessage, response: ServerResponse) => void,
): Uninstall {
  const onStream = (stream: Http2StreamLike, headers: Http2Headers) => {
    core.trackStream(stream, headers);
  };
  server.prependListener('stream', onStream);
  // A `request` listener switches an http2 server to the compatibility API, which then wraps every stream in
  // request and response objects: add one only once the application has its own.
  let requestListening = false;
  const listenToRequests = () => {
    requestListening = true;
    server.removeListener('newListener', onNewListener);
    server.prependListener('request', onRequest);
  };
  const onNewListener = (event: string | symbol) => {
    if (event === 'request' && !requestListening) listenToRequests();
  };
  if (server.listenerCount('request') > 0) listenToRequests();
  else server.on('newListener', onNewListener);
  let installed = true;
  return () => {
    if (!installed) return;
    installed = false;
    server.removeListener('stream', onStream);
    server.removeListener('newListener', onNewListener);
    server.removeListener('request', onRequest);
  };
}

interface ServerRequestStartMessage {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
}

/**
 * Instruments every `node:http` server of the process, current and future, through the
 * `http.server.request.start` diagnostics channel (Node >= 18.7). Same events and options as
 * {@link instrumentHttpServer}; this also covers servers that a framework creates out of sight.
 * It does not see `node:http2` servers: Node 20 publishes no HTTP/2 server channel, so instrument those with
 * {@link instrumentHttpServer} or a framework adapter.
 * Returns a function that unsubscribes.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_UNKNOWN_OPTION` or `ERR_TELEMETER_INVALID_OPTION`, naming the option.
 */
export function instrumentNodeHttp(options?: ServerInstrumentationOptions): Uninstall {
  const core = new ServerCore('instrumentNodeHttp', options);
  const onStart = (message: unknown) => {
    const { request, response } = message as ServerRequestStartMessage;
    if (request !== undefined && response !== undefined) core.track(request, response);
  };
  diagnosticsChannel.subscribe('http.server.request.start', onStart);
  let installed = true;
  return () => {
    if (!installed) return;
    installed = false;
    diagnosticsChannel.unsubscribe('http.server.request.start', onStart);
  };
}
