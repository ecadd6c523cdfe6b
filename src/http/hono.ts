import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidOption } from '../errors.js';
import { declaredSize, pathAndQuery } from './fetch.js';
import { ServerCore } from './server-core.js';
import type { ServerInstrumentationOptions } from './server-options.js';

/** A route entry as Hono reports it (`RouterRoute`). */
export interface HonoRouteLike {
  readonly path: string;
  readonly method: string;
  readonly handler: (...args: any[]) => unknown;
}

// Structural type of the Hono 4 `Context` parts this middleware reads, so the package never imports hono.
interface HonoContextLike {
  readonly req: {
    readonly method: string;
    readonly url: string;
    /** The index in the matched routes of the last handler or middleware the chain ran (all of Hono 4). */
    readonly routeIndex: number;
    /**
     * Every route and middleware the router matched, in running order. Hono 4 keeps this getter (and
     * `c.req.routePath`, the path at `routeIndex`) but deprecates both for `hono/route`'s `matchedRoutes(c)` and
     * `routePath(c)`, which read the same match result (4.8.12 and 4.13 have them).
     */
    readonly matchedRoutes?: readonly HonoRouteLike[];
  };
  readonly env: unknown;
  readonly res: { readonly status: number; readonly headers: { get(name: string): string | null } };
  readonly error?: unknown;
}

/** Options of {@link honoMiddleware}. */
export interface HonoMiddlewareOptions extends ServerInstrumentationOptions {
  /**
   * Hono's `matchedRoutes` helper (`import { matchedRoutes } from 'hono/route'`). By default the middleware
   * reads the deprecated `c.req.matchedRoutes`; pass the helper for Hono versions that drop it.
   */
  readonly matchedRoutes?: (c: any) => readonly HonoRouteLike[];
}

interface NodeBindings {
  readonly incoming?: IncomingMessage;
  readonly outgoing?: ServerResponse;
}

/**
 * Hono middleware that measures every request. Register it first, for all paths:
 *
 * ```ts
 * import { serve } from '@hono/node-server';
 * import { Hono } from 'hono';
 * import { Telemeter } from 'telemeter';
 * import { honoMiddleware, httpMetrics } from 'telemeter/http';
 *
 * const telemeter = new Telemeter({ metrics: httpMetrics() });
 * const app = new Hono();
 * app.use(honoMiddleware({ ignore: ['/healthz'] }));
 * app.get('/users/:id', (c) => c.json({ id: c.req.param('id') }));
 *
 * const server = serve({ fetch: app.fetch, port: 0 }, async ({ port }) => {
 *   await fetch(`http://localhost:${port}/users/42`);
 *   console.log(telemeter.scrape().match(/^http_server_requests_total\{.*$/m)?.[0]);
 *   //=> http_server_requests_total{method="GET",route="/users/:id",status="200"} 1
 *   server.close();
 * });
 * ```
 *
 * Under `@hono/node-server` the request is tracked on its `node:http` objects, so aborted and timed-out
 * requests are seen too; elsewhere it is measured around the middleware chain. The route label is the
 * template of the route Hono's router matched (`app.get`, `app.on`, `app.all` handlers, with `app.route()`
 * and `basePath` prefixes), read when the response ends: a request the client aborts keeps its route, and so
 * does a 404 that a route's own handler answered. A request that only `use()` middleware matched (it fell
 * through to the not-found handler, or middleware such as a static file server answered it) is
 * `<unmatched>`. An error a handler threw (`c.error`) emits the exception event. Tested with Hono 4.
 *
 * @throws TelemeterTypeError for an option, naming it: `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid
 * key) or `ERR_TELEMETER_INVALID_OPTION`.
 */
export function honoMiddleware(
  options?: HonoMiddlewareOptions,
): (c: HonoContextLike, next: () => Promise<void>) => Promise<void> {
  const core = new ServerCore('honoMiddleware', options, ['matchedRoutes']);
  const readRoutes = options?.matchedRoutes;
  if (readRoutes !== undefined && typeof readRoutes !== 'function') {
    invalidOption(
      "telemeter/http: honoMiddleware: option matchedRoutes must be hono/route's matchedRoutes function",
    );
  }

  // Resolves the route of a request on node:http objects when its response closes; one function per
  // middleware, so a request costs no closure.
  const resolveRoute = (_request: IncomingMessage, c: unknown): string | undefined =>
    routeOf(c as HonoContextLike, readRoutes);

  // Two parameters on purpose: Hono (and this adapter) tell middleware from handlers by arity.
  return async function telemeterHonoMetrics(c, next) {
    const bindings = c.env as NodeBindings | undefined;
    const incoming = bindings?.incoming;
    const outgoing = bindings?.outgoing;
    if (incoming !== undefined && outgoing !== undefined) {
      const tracker = core.track(incoming, outgoing);
      if (tracker === undefined) return next();
      // The route is read when the response closes, not after `next()` returns: a client that leaves while a
      // handler is still working closes the response first, and Hono matched every route before the chain ran.
      tracker.adapterState = c;
      tracker.routeResolver = resolveRoute;
      try {
        await next();
      } catch (error) {
        tracker.fail(error);
        throw error;
      }
      if (c.error !== undefined) tracker.fail(c.error);
      return;
    }
    const tracker = core.trackDetached(c.req.method, pathAndQuery(c.req.url));
    if (tracker === undefined) return next();
    try {
      await next();
    } catch (error) {
      tracker.setRoute(routeOf(c, readRoutes));
      tracker.fail(error);
      tracker.complete(500);
      throw error;
    }
    tracker.setRoute(routeOf(c, readRoutes));
    if (c.error !== undefined) tracker.fail(c.error);
    tracker.complete(c.res.status, declaredSize(c.res.headers));
  };
}

/**
 * The template of the route that answered, or that the chain was running when the client left. Hono matches
 * every route and middleware of a request before it runs them (`matchedRoutes`, in running order), and
 * `c.req.routeIndex` is the last one that ran. Registrations for a method (`app.get`, `app.on`) and `app.all`
 * handlers are routes, whatever their arity or status, so a `(c, next)` handler that answers 404 keeps its
 * route; `use()` middleware (method `ALL`, taking `next`) is not. So the route is the closest route at or
 * before `routeIndex` (the one that answered, or passed on to middleware), else the first one after it (the
 * chain stopped in middleware before it: an early answer, an error, an abort). A request whose matches are all
 * middleware fell through to the not-found handler or was answered by middleware (static files): unmatched.
 */
function routeOf(c: HonoContextLike, readRoutes: HonoMiddlewareOptions['matchedRoutes']): string | undefined {
  let routes: readonly HonoRouteLike[] | undefined;
  try {
    routes = readRoutes !== undefined ? readRoutes(c) : c.req.matchedRoutes;
  } catch {
    return undefined;
  }
  if (routes === undefined) return undefined;
  const current = Math.min(c.req.routeIndex, routes.length - 1);
  for (let i = current; i >= 0; i--) if (isRoute(routes[i])) return routes[i].path;
  for (let i = current + 1; i < routes.length; i++) if (isRoute(routes[i])) return routes[i].path;
  return undefined;
}

function isRoute(route: HonoRouteLike): boolean {
  if (route.method !== 'ALL') return true;
  // `app.route()` wraps the handlers of a sub-application that has its own error handler in a `(c, next)`
  // function, and keeps the original under this key (Hono 4); a few levels cover sub-applications of those.
  let handler: HonoRouteLike['handler'] = route.handler;
  for (let depth = 0; depth < 8; depth++) {
    const inner = (handler as { __COMPOSED_HANDLER?: unknown }).__COMPOSED_HANDLER;
    if (typeof inner !== 'function') break;
    handler = inner as HonoRouteLike['handler'];
  }
  return handler.length < 2;
}
