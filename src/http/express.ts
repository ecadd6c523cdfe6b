import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServerCore, trackerOf, trackerOfRequest } from './server-core.js';
import type { ServerInstrumentationOptions } from './server-options.js';

// Structural types for the parts of Express 5 this adapter reads, so there is no import of express at all.
interface ExpressRoute {
  readonly path?: unknown;
}
interface ExpressRequest extends IncomingMessage {
  baseUrl?: string;
  route?: ExpressRoute;
}
type Next = (error?: unknown) => void;

/** Express middleware that measures every request, plus an error handler that reports handlers' errors. */
export interface ExpressMetricsMiddleware {
  (request: IncomingMessage, response: ServerResponse, next: Next): void;
  /**
   * Error-handling middleware (four arguments) to mount after the routes: it emits the exception event for an
   * error a route threw, then passes the error on. Without it, such requests are still counted with the status
   * that Express sent (500), only without the exception event.
   */
  readonly errorHandler: (
    error: unknown,
    request: IncomingMessage,
    response: ServerResponse,
    next: Next,
  ) => void;
}

/** What the accessor saw Express assign first, and the full template at that moment. */
interface AssignedRoute {
  readonly value: ExpressRoute;
  readonly template: string | undefined;
}
const patchedPrototypes = new WeakSet<object>();
let lastPrototype: object | null = null;

/**
 * Measures an Express 5 application. Mount it first, and its `errorHandler` after the routes:
 *
 * ```ts
 * import { once } from 'node:events';
 * import express from 'express';
 * import { Telemeter } from 'telemeter';
 * import { expressMetrics, httpMetrics } from 'telemeter/http';
 *
 * const telemeter = new Telemeter({ metrics: httpMetrics() });
 * const metrics = expressMetrics({ ignore: ['/healthz'] });
 * const app = express();
 * app.use(metrics);
 * app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
 * app.use(metrics.errorHandler);
 *
 * const server = app.listen(0);
 * await once(server, 'listening');
 * await fetch(`http://localhost:${(server.address() as { port: number }).port}/users/42`);
 * console.log(telemeter.scrape().match(/^http_server_requests_total\{.*$/m)?.[0]);
 * //=> http_server_requests_total{method="GET",route="/users/:id",status="200"} 1
 * server.close();
 * ```
 *
 * The route label is the matched route's template with its router's mount path (`/api/users/:id`). Requests
 * that no route handled (404s, `express.static`) are `<unmatched>` unless `options.route` names them.
 *
 * @throws TelemeterTypeError for an option, naming it: `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid
 * key) or `ERR_TELEMETER_INVALID_OPTION`.
 */
export function expressMetrics(options?: ServerInstrumentationOptions): ExpressMetricsMiddleware {
  const core = new ServerCore('expressMetrics', options);

  const middleware = ((request: IncomingMessage, response: ServerResponse, next: Next) => {
    const tracker = core.track(request, response);
    if (tracker !== undefined) {
      captureRoutes(request);
      tracker.routeResolver = expressRouteTemplate;
    }
    next();
  }) as ExpressMetricsMiddleware;

  const errorHandler = (error: unknown, _request: IncomingMessage, response: ServerResponse, next: Next) => {
    trackerOf(response)?.fail(error);
    next(error);
  };
  Object.defineProperty(middleware, 'errorHandler', { value: errorHandler, enumerable: true });
  return middleware;
}

/**
 * Express assigns `req.route` when a route matches, at which moment `req.baseUrl` is the mount path of the
 * router that matched. Both are restored when an error leaves a nested router, so reading them when the
 * response ends would lose the mount path; an accessor on the app's request prototype (set once per app)
 * records the full template at assignment instead.
 */
function captureRoutes(request: IncomingMessage): void {
  const prototype = Object.getPrototypeOf(request) as object | null;
  if (prototype === lastPrototype || prototype === null) return;
  lastPrototype = prototype;
  if (patchedPrototypes.has(prototype)) return;
  patchedPrototypes.add(prototype);
  if (Object.getOwnPropertyDescriptor(prototype, 'route') !== undefined) return;
  Object.defineProperty(prototype, 'route', {
    configurable: true,
    enumerable: false,
    set(this: ExpressRequest, value: ExpressRoute) {
      // From now on `route` is an ordinary property of this request, so reads and later assignments (a route
      // that falls through to another) cost nothing extra; only the first assignment comes through here.
      Object.defineProperty(this, 'route', { value, writable: true, enumerable: true, configurable: true });
      const tracker = trackerOfRequest(this);
      if (tracker === undefined) return;
      const path = value?.path;
      const assigned: AssignedRoute = {
        value,
        template: path === undefined ? undefined : joinMount(this.baseUrl, path),
      };
      tracker.adapterState = assigned;
    },
  });
}

/**
 * The route template of a request. The template recorded when Express first assigned `req.route` is right even
 * after an error left a nested router (which restores `req.baseUrl`); when the route changed since (a route
 * that fell through to another) or the accessor never saw it (a sub-application swaps the request's prototype
 * for its own), it is read from `req.baseUrl` and `req.route` as they are now.
 */
function expressRouteTemplate(request: IncomingMessage, assigned: unknown): string | undefined {
  const { route, baseUrl } = request as ExpressRequest;
  const first = assigned as AssignedRoute | undefined;
  if (first !== undefined && first.value === route) return first.template;
  return route?.path === undefined ? undefined : joinMount(baseUrl, route.path);
}

function joinMount(baseUrl: string | undefined, path: unknown): string {
  const template = typeof path === 'string' ? path : Array.isArray(path) ? path.join(',') : String(path);
  return baseUrl ? (template === '/' ? baseUrl : baseUrl + template) : template;
}
