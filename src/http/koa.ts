import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServerCore } from './server-core.js';
import type { ServerInstrumentationOptions } from './server-options.js';

// Structural type of the Koa 2 and 3 context parts this middleware reads (with @koa/router's additions).
interface KoaContextLike {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly _matchedRoute?: unknown;
  readonly routerPath?: unknown;
  /** @koa/router's layers whose path matched, of every router the request went through. */
  readonly matched?: readonly KoaRouterLayerLike[];
}

interface KoaRouterLayerLike {
  readonly path?: unknown;
  /** Empty for middleware (`router.use()`, nested routers); the route's methods otherwise. */
  readonly methods?: readonly string[];
}

/**
 * Koa middleware that measures every request. Use it before the router:
 *
 * ```ts
 * import { once } from 'node:events';
 * import Router from '@koa/router';
 * import Koa from 'koa';
 * import { Telemeter } from 'telemeter';
 * import { httpMetrics, koaMiddleware } from 'telemeter/http';
 *
 * const telemeter = new Telemeter({ metrics: httpMetrics() });
 * const router = new Router().get('/users/:id', (ctx) => {
 *   ctx.body = { id: ctx.params.id };
 * });
 * const app = new Koa();
 * app.use(koaMiddleware({ ignore: ['/healthz'] }));
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
 * `<unmatched>`. An error thrown downstream emits the exception event and is rethrown for Koa to answer (500
 * unless the error carries a status).
 *
 * @throws TelemeterTypeError for an option, naming it: `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid
 * key) or `ERR_TELEMETER_INVALID_OPTION`.
 */
export function koaMiddleware(
  options?: ServerInstrumentationOptions,
): (ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<void> {
  const core = new ServerCore('koaMiddleware', options);
  return async function telemeterKoaMiddleware(ctx, next) {
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
 * The template @koa/router matched. @koa/router 15 sets `ctx._matchedRoute` (the full template, router prefixes
 * and `router.use('/tenants/:tenant', nested.routes())` mounts included) as soon as a route matched, before its
 * handlers run; `ctx.routerPath` is the fallback for routers that set only that. But while router-level
 * middleware (`router.use(fn)`) runs, @koa/router 15 sets `_matchedRoute` to that middleware's path
 * (`(?:\/|$)`), so a request it answers itself, or that the client aborts meanwhile, would carry it: then the
 * route is the last route layer in `ctx.matched` for the request's method, the one the router chose before it
 * ran the middleware.
 */
function koaRouteTemplate(request: IncomingMessage, state: unknown): string | undefined {
  const { _matchedRoute, routerPath, matched } = state as KoaContextLike;
  const route = _matchedRoute ?? routerPath;
  if (route === undefined || !Array.isArray(matched)) return templateOf(route);
  const method = request.method ?? 'GET';
  let chosen: unknown;
  for (let i = matched.length - 1; i >= 0; i--) {
    const layer: KoaRouterLayerLike | undefined = matched[i];
    const methods = layer?.methods;
    if (layer === undefined || methods === undefined || methods.length === 0) continue;
    if (layer.path === route) return templateOf(route);
    if (chosen === undefined && methods.includes(method)) chosen = layer.path;
  }
  return templateOf(chosen);
}

function templateOf(route: unknown): string | undefined {
  if (typeof route === 'string') return route;
  // A route defined by a RegExp: its source is as bounded as a template.
  return route instanceof RegExp ? String(route) : undefined;
}
