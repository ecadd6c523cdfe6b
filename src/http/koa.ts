import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServerCore } from './server-core.js';
import type { ServerInstrumentationOptions } from './server-options.js';

// Structural type of the Koa 2 and 3 context parts this middleware reads (with @koa/router's additions).
interface KoaContextLike {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly _matchedRoute?: unknown;
  readonly routerPath?: unknown;
}

/**
 * Koa middleware that measures every request. Use it before the router:
 *
 * ```ts
 * import { once } from 'node:events';
 * import Router from '@koa/router';
 * import Koa from 'koa';
 * import { Telemeter } from 'telemeter';
 * import { httpMetrics, koaMetrics } from 'telemeter/http';
 *
 * const telemeter = new Telemeter({ metrics: httpMetrics() });
 * const router = new Router().get('/users/:id', (ctx) => {
 *   ctx.body = { id: ctx.params.id };
 * });
 * const app = new Koa();
 * app.use(koaMetrics({ ignore: ['/healthz'] }));
 * app.use(router.routes());
 *
 * const server = app.listen(0);
 * await once(server, 'listening');
 * await fetch(`http://localhost:${(server.address() as { port: number }).port}/users/42`);
 * console.log(telemeter.scrape().match(/^http_server_requests_total\{.*$/m)?.[0]);
 * //=> http_server_requests_total{method="GET",route="/users/:id",status="200"} 1
 * server.close();
 * ```
 *
 * Works with Koa 2 and 3. The route label is the template @koa/router matched (`ctx._matchedRoute`, else
 * `ctx.routerPath`), with router prefixes and nested-router mounts; it is read when the response ends, so a
 * request the client aborts before the handler answers keeps its route. Requests no route matched are
 * `<unmatched>`. An error thrown downstream emits the exception
 * event and is rethrown for Koa to answer (500 unless the error carries a status).
 *
 * @throws TelemeterTypeError for an option, naming it: `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid
 * key) or `ERR_TELEMETER_INVALID_OPTION`.
 */
export function koaMetrics(
  options?: ServerInstrumentationOptions,
): (ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<void> {
  const core = new ServerCore('koaMetrics', options);
  return async function telemeterKoaMetrics(ctx, next) {
    const tracker = core.track(ctx.req, ctx.res);
    if (tracker === undefined) return next() as Promise<void>;
    // The route is read when it is needed (the response closed, or an error), not after `next()` returns: a
    // client that leaves while the handler is still working closes the response first, and @koa/router has set
    // `ctx._matchedRoute` before it called the handler.
    tracker.adapterState = ctx;
    tracker.routeResolver = koaRouteTemplate;
    try {
      await next();
    } catch (error) {
      tracker.fail(error);
      throw error;
    }
  };
}

/**
 * The template @koa/router matched. Versions 12 to 15 set `ctx._matchedRoute` (the full template, router
 * prefixes and `router.use('/tenants/:tenant', nested.routes())` mounts included) as soon as a route matched,
 * before its handlers run; older ones only `ctx.routerPath`.
 */
function koaRouteTemplate(_request: IncomingMessage, ctx: unknown): string | undefined {
  const { _matchedRoute, routerPath } = ctx as KoaContextLike;
  const route = _matchedRoute ?? routerPath;
  if (typeof route === 'string') return route;
  // A route defined by a RegExp: its source is as bounded as a template.
  return route instanceof RegExp ? String(route) : undefined;
}
