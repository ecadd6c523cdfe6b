/**
 * `telemeter/server`: the private metrics endpoint. `serveMetrics` runs it on its own port;
 * `metricsHandler` mounts the same endpoint in an existing node:http, Express, Fastify or Hono app.
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type MetricsHandlerOptions, resolveHandlerOptions } from './options.js';
import { sendStatus } from './plain-responses.js';
import { checkRenderSource, logSinkOf, type RenderSource } from './render-coalescer.js';
import { createScrapeEndpoint } from './scrape-endpoint.js';

export type { AuthOptions } from './credentials.js';
export {
  type MetricsFetchHandler,
  type MetricsFetchHandlerOptions,
  metricsFetchHandler,
} from './fetch-handler.js';
export type {
  IncludedSource,
  IncludeFailure,
  MetricsRegistry,
  MetricsRequestHandlerSource,
} from './included-sources.js';
export {
  type ConnectionRefusal,
  type MetricsServer,
  type MountOptions,
  type RefusedConnections,
  type RouteHandler,
  serveMetrics,
} from './metrics-server.js';
export {
  acceptsGzip,
  type EscapingScheme,
  type NegotiationOptions,
  negotiateEscaping,
  negotiateFormat,
} from './negotiation.js';
export type { FormatChoice, MetricsHandlerOptions, ServeMetricsOptions } from './options.js';
export type { RenderSource } from './render-coalescer.js';

/** A Node request listener that also fits Express's `(req, res, next)` signature. */
export type MetricsRequestHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (error?: unknown) => void,
) => void;

/**
 * The metrics endpoint as a request handler, to serve metrics on the application's own port. It answers
 * every request it is given (the framework does the routing) with the same allowlist, auth, method check,
 * negotiation, gzip, coalescing, in-flight limit and scrape events as `serveMetrics`; `next` is accepted
 * for Express and never called. It never throws into the application.
 *
 * ```ts
 * import { once } from 'node:events';
 * import { createServer } from 'node:http';
 * import type { AddressInfo } from 'node:net';
 * import { Telemeter } from 'telemeter';
 * import { metricsHandler } from 'telemeter/server';
 *
 * const handler = metricsHandler(new Telemeter({ metrics: [] }));
 * const app = createServer((req, res) => (req.url === '/metrics' ? handler(req, res) : res.end('app')));
 * await once(app.listen(0, '127.0.0.1'), 'listening');
 * const response = await fetch(`http://127.0.0.1:${(app.address() as AddressInfo).port}/metrics`);
 * console.log(response.status, response.headers.get('content-type')); //=> 200 text/plain; version=0.0.4
 * app.close();
 * ```
 *
 * The same handler in Express: `app.get('/metrics', handler)`; in Fastify:
 * `fastify.get('/metrics', (req, reply) => { reply.hijack(); handler(req.raw, reply.raw); })`; in Hono on
 * `@hono/node-server`: `app.get('/metrics', (c) => { handler(c.env.incoming, c.env.outgoing); return
 * RESPONSE_ALREADY_SENT; })`.
 *
 * `allow` is checked per request here (403), because the connection belongs to the application.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` when `telemeter` is not a Telemeter (or render
 *   source); `ERR_TELEMETER_INVALID_OPTION` or `ERR_TELEMETER_UNKNOWN_OPTION` naming the option.
 */
export function metricsHandler(
  telemeter: RenderSource,
  options: MetricsHandlerOptions = {},
): MetricsRequestHandler {
  checkRenderSource(telemeter, 'metricsHandler');
  const endpoint = createScrapeEndpoint(telemeter, resolveHandlerOptions(options, 'metricsHandler'));
  const log = logSinkOf(telemeter);
  return (req, res) => {
    try {
      endpoint(req, res);
    } catch (error) {
      log.error({ err: error }, 'telemeter/server: unexpected error in metricsHandler');
      sendStatus(req, res, 500);
    }
  };
}
