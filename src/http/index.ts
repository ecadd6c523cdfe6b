/**
 * telemeter/http: HTTP server and client instrumentation that emits telemeter events, and the default
 * metric definitions over them. One shared core tracks each request; every framework adapter is a thin shim
 * over it, and none of them imports its framework at runtime.
 *
 * @packageDocumentation
 */
export {
  CLIENT_EVENT_PREFIX,
  type ClientRequestOutcome,
  type HttpClientInstrumentationOptions,
  instrumentHttpClient,
  OTHER_HOST,
} from './client.js';
export { type HttpClientMetricsOptions, httpClientMetrics } from './client-metrics.js';
export {
  type ExpressMetricsMiddleware,
  expressMetrics,
  type FastifyMetricsOptions,
  fastifyMetrics,
  type HonoMetricsOptions,
  honoMetrics,
  koaMetrics,
} from './deprecated-names.js';
export { type ExpressMiddleware, expressMiddleware } from './express.js';
export { type FastifyPluginOptions, fastifyPlugin } from './fastify.js';
export {
  type FetchHandler,
  type FetchHandlerOptions,
  type InstrumentedFetchHandler,
  instrumentBunRoutes,
  instrumentFetchHandler,
} from './fetch.js';
export { type HonoMiddlewareOptions, type HonoRouteLike, honoMiddleware } from './hono.js';
export { koaMiddleware } from './koa.js';
export { normalizeMethod, OTHER_METHOD } from './methods.js';
export { instrumentNest, type NestApplicationLike } from './nest.js';
export {
  type InstrumentableServer,
  instrumentHttpServer,
  instrumentNodeHttp,
  type Uninstall,
} from './node-server.js';
export { RouteTemplates, UNMATCHED_ROUTE } from './route-templates.js';
export { type HttpProtocol, type RequestOutcome, type RequestTracker, trackerOf } from './server-core.js';
export { HTTP_DURATION_BUCKETS, type HttpMetricsOptions, httpMetrics } from './server-metrics.js';
export { SERVER_EVENT_PREFIX, type ServerInstrumentationOptions } from './server-options.js';
