import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidOption } from '../errors.js';
import { type RequestTracker, ServerCore } from './server-core.js';
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
    readonly routeIndex: number;
    readonly matchedRoutes?: readonly HonoRouteLike[];
  };
  readonly env: unknown;
  readonly res: { readonly status: number; readonly headers: { get(name: string): string | null } };
  readonly error?: unknown;
}

/** Options of {@link honoMetrics}. */
export interface HonoMetricsOptions extends ServerInstrumentationOptions {
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
 * import { honoMetrics, httpMetrics } from 'telemeter/http';
 *
 * const telemeter = new Telemeter({ metrics: httpMetrics() });
 * const app = new Hono();
 * app.use(honoMetrics({ ignore: ['/healthz'] }));
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
 * template of the route that produced the response; a request that fell through to the not-found handler is
 * `<unmatched>`. An error a handler threw (`c.error`) emits the exception event.
 *
 * @throws TelemeterTypeError for an option, naming it: `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid
 * key) or `ERR_TELEMETER_INVALID_OPTION`.
 */
export function honoMetrics(
  options?: HonoMetricsOptions,
): (c: HonoContextLike, next: () => Promise<void>) => Promise<void> {
  const core = new ServerCore('honoMetrics', options, ['matchedRoutes']);
  const readRoutes = options?.matchedRoutes;
  if (readRoutes !== undefined && typeof readRoutes !== 'function') {
    invalidOption(
      "telemeter/http: honoMetrics: option matchedRoutes must be hono/route's matchedRoutes function",
    );
  }

  // Two parameters on purpose: Hono (and this adapter) tell middleware from handlers by arity.
  return async function telemeterHonoMetrics(c, next) {
    const bindings = c.env as NodeBindings | undefined;
    const incoming = bindings?.incoming;
    const outgoing = bindings?.outgoing;
    const tracker: RequestTracker | undefined =
      incoming !== undefined && outgoing !== undefined
        ? core.track(incoming, outgoing)
        : core.trackDetached(c.req.method, pathAndQuery(c.req.url));
    if (tracker === undefined) return next();
    let thrown = false;
    try {
      await next();
    } catch (error) {
      thrown = true;
      tracker.setRoute(routeOf(c, readRoutes));
      tracker.fail(error);
      throw error;
    } finally {
      if (!thrown) {
        tracker.setRoute(routeOf(c, readRoutes));
        if (c.error !== undefined) tracker.fail(c.error);
        if (tracker.response === undefined) tracker.complete(c.res.status, bodySize(c));
      }
    }
  };
}

function routeOf(c: HonoContextLike, readRoutes: HonoMetricsOptions['matchedRoutes']): string | undefined {
  let routes: readonly HonoRouteLike[] | undefined;
  try {
    routes = readRoutes !== undefined ? readRoutes(c) : c.req.matchedRoutes;
  } catch {
    return undefined;
  }
  const route = routes?.[c.req.routeIndex];
  if (route === undefined) return undefined;
  // The last entry that ran is a middleware (it takes `next`) and the answer is 404: the chain fell through
  // to the not-found handler, so no route matched.
  if (route.handler.length >= 2 && c.res.status === 404) return undefined;
  return route.path;
}

function pathAndQuery(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  return start < 0 ? '/' : url.slice(start);
}

function bodySize(c: HonoContextLike): number | undefined {
  const header = c.res.headers.get('content-length');
  if (header === null) return undefined;
  const size = Number(header);
  return size >= 0 && Number.isFinite(size) ? size : undefined;
}
