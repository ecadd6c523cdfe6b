import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServerCore } from './server-core.js';
import type { ServerInstrumentationOptions } from './server-options.js';

// Structural type of the Koa 3 context parts this middleware reads (with @koa/router's additions).
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
 * The route label is the template @koa/router matched (`ctx._matchedRoute`, else `ctx.routerPath`), with any
 * router prefix; requests no route matched are `<unmatched>`. An error thrown downstream emits the exception
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
    if (tracker === undefined) {
      await next();
      return;
    }
    try {
      await next();
    } catch (error) {
      tracker.setRoute(routeOf(ctx));
      tracker.fail(error);
      throw error;
    }
    tracker.setRoute(routeOf(ctx));
  };
}

function routeOf(ctx: KoaContextLike): string | undefined {
  const route = ctx._matchedRoute ?? ctx.routerPath;
  if (typeof route === 'string') return route;
  // A route defined by a RegExp: its source is as bounded as a template.
  return route instanceof RegExp ? String(route) : undefined;
}
