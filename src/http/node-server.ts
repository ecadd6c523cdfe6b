import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { invalidArgument } from '../errors.js';
import { ServerCore } from './server-core.js';
import type { ServerInstrumentationOptions } from './server-options.js';

/** Removes the instrumentation it came from. Calling it twice does nothing. */
export type Uninstall = () => void;

/**
 * Instruments one `node:http` (or `node:https`) server: every request emits `http.server.request.start`,
 * then `.stop` when its response ends (plus `.exception` when a framework adapter reports an error).
 *
 * A plain server has no router, so requests are labelled `<unmatched>` unless `options.route` gives templates
 * or a function. A framework adapter on the same server (`expressMiddleware`, `koaMiddleware`, ...) reuses this
 * tracking and only adds the route, so nothing is counted twice.
 *
 * @throws TelemeterTypeError at call time: `ERR_TELEMETER_INVALID_ARGUMENT` for a value that is not a server,
 *   `ERR_TELEMETER_UNKNOWN_OPTION` or `ERR_TELEMETER_INVALID_OPTION` for an option, naming it.
 */
export function instrumentHttpServer(server: Server, options?: ServerInstrumentationOptions): Uninstall {
  if (typeof (server as { prependListener?: unknown } | null)?.prependListener !== 'function') {
    invalidArgument('telemeter/http: instrumentHttpServer: the first argument must be a node:http Server');
  }
  const core = new ServerCore('instrumentHttpServer', options);
  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    core.track(request, response);
  };
  // Prepended so the clock starts before the application's own request listener runs.
  server.prependListener('request', onRequest);
  return () => {
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
