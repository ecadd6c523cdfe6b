/**
 * The adapter names of 0.1, deprecated in 0.2 and removed in 0.3: a `...Metrics()` function returns metric
 * definitions everywhere else in telemeter (`httpMetrics()`, `runtimeMetrics()`), while these returned middleware.
 */
import { warnDeprecated } from '../deprecation.js';
import { type ExpressMiddleware, expressMiddleware } from './express.js';
import { type FastifyPluginOptions, fastifyPlugin } from './fastify.js';
import { type HonoMiddlewareOptions, honoMiddleware } from './hono.js';
import { koaMiddleware } from './koa.js';
import type { ServerInstrumentationOptions } from './server-options.js';

const REMOVED_IN = 'telemeter 0.3';

/** @deprecated Renamed {@link expressMiddleware} in 0.2; removed in 0.3. */
export function expressMetrics(options?: ServerInstrumentationOptions): ExpressMiddleware {
  warnDeprecated('TELEMETER_DEP0001', 'expressMetrics()', 'expressMiddleware()', REMOVED_IN);
  return expressMiddleware(options);
}

/** @deprecated Renamed {@link ExpressMiddleware} in 0.2; removed in 0.3. */
export type ExpressMetricsMiddleware = ExpressMiddleware;

/** @deprecated Renamed {@link koaMiddleware} in 0.2; removed in 0.3. */
export function koaMetrics(options?: ServerInstrumentationOptions): ReturnType<typeof koaMiddleware> {
  warnDeprecated('TELEMETER_DEP0002', 'koaMetrics()', 'koaMiddleware()', REMOVED_IN);
  return koaMiddleware(options);
}

/** @deprecated Renamed {@link honoMiddleware} in 0.2; removed in 0.3. */
export function honoMetrics(options?: HonoMiddlewareOptions): ReturnType<typeof honoMiddleware> {
  warnDeprecated('TELEMETER_DEP0003', 'honoMetrics()', 'honoMiddleware()', REMOVED_IN);
  return honoMiddleware(options);
}

/** @deprecated Renamed {@link HonoMiddlewareOptions} in 0.2; removed in 0.3. */
export type HonoMetricsOptions = HonoMiddlewareOptions;

/** @deprecated Renamed {@link fastifyPlugin} in 0.2; removed in 0.3. */
export function fastifyMetrics(...args: Parameters<typeof fastifyPlugin>): void {
  warnDeprecated('TELEMETER_DEP0004', 'fastifyMetrics', 'fastifyPlugin', REMOVED_IN);
  fastifyPlugin(...args);
}
// Registered like fastifyPlugin: on the whole instance, under the same name.
Object.assign(fastifyMetrics, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'telemeter',
});

/** @deprecated Renamed {@link FastifyPluginOptions} in 0.2; removed in 0.3. */
export type FastifyMetricsOptions = FastifyPluginOptions;
