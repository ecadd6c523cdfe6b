import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  express4MountTemplates,
  joinRoute,
  mountText,
  templateFromParams,
  topLevelAlternatives,
} from './express-mounts.js';
import { ServerCore, trackerOf, trackerOfRequest } from './server-core.js';
import type { ServerInstrumentationOptions } from './server-options.js';

// Structural types for the parts of Express 4 and 5 this adapter reads, so there is no import of express at all.
interface ExpressRoute {
  readonly path?: unknown;
}
interface ExpressRequest extends IncomingMessage {
  baseUrl?: string;
  route?: ExpressRoute;
  app?: ExpressApp;
  params?: Readonly<Record<string, unknown>>;
}
interface ExpressApp {
  /** Express 4's router; Express 4 also has a `router` getter, which throws. */
  readonly _router?: LayerStack;
  /** Express 5's router. */
  readonly router?: LayerStack;
}
interface LayerStack {
  readonly stack?: readonly object[];
}
type Next = (error?: unknown) => void;

/**
 * A layer of a router stack (Express 4's own router, or `router` 2.x under Express 5): a middleware, a mounted
 * router or application, a route, or a handler inside a route.
 */
interface RouterLayer {
  /** Set on the layer that dispatches a route. */
  readonly route?: ExpressRoute;
  /** router >= 2.3: the path given to `use()`, arrays flattened. */
  readonly rawPath?: unknown;
  /** router 2.x: a `use()` at the root, which matches every path. */
  readonly slash?: boolean;
  /** router 2.x: one matcher per path of `rawPath`. */
  readonly matchers?: ReadonlyArray<(path: string) => unknown>;
  /** Express 4: the compiled path; the path itself when it was a regular expression. */
  readonly regexp?: RegExp & { readonly fast_slash?: boolean };
  /** Express 4: the path's parameters, in order. */
  readonly keys?: ReadonlyArray<{ readonly name: string | number }>;
}
type HandleRequest = (
  this: RouterLayer,
  request: ExpressRequest,
  response: ServerResponse,
  next: Next,
) => unknown;

/** Express middleware that measures every request, plus an error handler that reports handlers' errors. */
export interface ExpressMiddleware {
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

/**
 * Where a request is in the application's routers: the template of the mounts it is inside, and the route the
 * router dispatched with its full template, recorded at dispatch, because Express restores `req.baseUrl` when
 * the request leaves a router (on an error too).
 */
class ExpressRouteState {
  /** The templates of the mounts the request is inside, joined (`/tenants/:tenant`); `''` at the root. */
  prefix = '';
  /** `req.baseUrl` when the request entered the innermost mount: what is cut off the next mount's piece. */
  base = '';
  route: ExpressRoute | undefined = undefined;
  template: string | undefined = undefined;
}

const patchedLayers = new WeakSet<object>();
let lastPrototype: object | null = null;
/** Templates of regular-expression and array mounts, rebuilt once per layer. */
const mountTemplates = new WeakMap<object, string | readonly string[]>();

/**
 * Measures an Express 4 or 5 application. Mount it first, and its `errorHandler` after the routes:
 *
 * ```ts
 * import { once } from 'node:events';
 * import express from 'express';
 * import { Telemeter } from 'telemeter';
 * import { expressMiddleware, httpMetrics } from 'telemeter/http';
 *
 * const telemeter = new Telemeter({ metrics: httpMetrics() });
 * const metrics = expressMiddleware({ ignore: ['/healthz'] });
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
 * The route label is the matched route's template behind the templates of the routers and applications it is
 * mounted in (`/tenants/:tenant/users/:id`), in the letter case of the patterns. Requests that no route handled
 * (404s, `express.static`) are `<unmatched>` unless `options.route` names them.
 *
 * @throws TelemeterTypeError for an option, naming it: `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid
 * key) or `ERR_TELEMETER_INVALID_OPTION`.
 */
export function expressMiddleware(options?: ServerInstrumentationOptions): ExpressMiddleware {
  const core = new ServerCore('expressMiddleware', options);

  const middleware = ((request: IncomingMessage, response: ServerResponse, next: Next) => {
    const tracker = core.track(request, response);
    if (tracker !== undefined && tracker.adapterState === undefined) {
      const state = new ExpressRouteState();
      state.base = (request as ExpressRequest).baseUrl ?? '';
      tracker.adapterState = state;
      tracker.routeResolver = expressRouteTemplate;
      patchRouterOf(request);
    }
    next();
  }) as ExpressMiddleware;

  const errorHandler = (error: unknown, _request: IncomingMessage, response: ServerResponse, next: Next) => {
    trackerOf(response)?.fail(error);
    next(error);
  };
  Object.defineProperty(middleware, 'errorHandler', { value: errorHandler, enumerable: true });
  return middleware;
}

/**
 * Makes the layers of the request's application report the mounts a request enters and the routes it is
 * dispatched to. Express keeps only the concrete `req.baseUrl` of a mount, so the template of each mount is read
 * from its layer when the request enters it. All routers of one Express (or `router`) copy share the layer
 * prototype, sub-applications included, so it is patched once; root middleware pays one call and two checks.
 */
function patchRouterOf(request: IncomingMessage): void {
  const prototype = Object.getPrototypeOf(request) as object | null;
  if (prototype === lastPrototype) return;
  lastPrototype = prototype;
  try {
    const app = (request as ExpressRequest).app;
    const stack = (app?._router ?? app?.router)?.stack;
    const layer = stack?.[0];
    if (layer === undefined) return;
    const layerPrototype = Object.getPrototypeOf(layer) as Record<string, unknown> | null;
    if (layerPrototype === null || patchedLayers.has(layerPrototype)) return;
    patchedLayers.add(layerPrototype);
    // Express 5 (router 2.x) names it handleRequest, Express 4 handle_request.
    for (const name of ['handleRequest', 'handle_request']) {
      const original = layerPrototype[name];
      if (typeof original !== 'function') continue;
      layerPrototype[name] = tracingHandleRequest(original as HandleRequest);
      return;
    }
  } catch {
    // An application shaped unlike Express: its routes are still read from req.route when the response ends.
  }
}

function tracingHandleRequest(original: HandleRequest): HandleRequest {
  return function handleRequest(this: RouterLayer, request, response, next) {
    let after = next;
    try {
      after = enterLayer(this, request, next);
    } catch {
      after = next;
    }
    return original.call(this, request, response, after);
  };
}

/** Records a route dispatch; for a mount, adds its template and returns the `next` that takes it off again. */
function enterLayer(layer: RouterLayer, request: ExpressRequest, next: Next): Next {
  const route = layer.route;
  if (route !== undefined) {
    const state = stateOf(request);
    if (state !== undefined && state.route !== route) {
      state.route = route;
      state.template = joinRoute(state.prefix, route.path);
    }
    return next;
  }
  // Root middleware, and the handlers inside a route (which carry their method).
  if (layer.slash === true || layer.regexp?.fast_slash === true || 'method' in layer) return next;
  const state = stateOf(request);
  if (state === undefined) return next;
  const template = mountTemplate(layer, request, state);
  const outerPrefix = state.prefix;
  const outerBase = state.base;
  const entryRoute = request.route;
  state.prefix = outerPrefix + template;
  state.base = request.baseUrl ?? '';
  // One closure per mount a request enters: Express calls `next` when the request leaves the mount, and only
  // then is the outer template right again. Restoring (not popping) makes a second call harmless.
  return (error?: unknown) => {
    const assigned = request.route;
    if (assigned !== undefined && assigned !== entryRoute && assigned !== state.route) {
      // A route matched inside but was never dispatched (its param callback failed): it is still the route.
      state.route = assigned;
      state.template = joinRoute(state.prefix, assigned.path);
    }
    state.prefix = outerPrefix;
    state.base = outerBase;
    next(error);
  };
}

function stateOf(request: IncomingMessage): ExpressRouteState | undefined {
  const state = trackerOfRequest(request)?.adapterState;
  return state instanceof ExpressRouteState ? state : undefined;
}

/** The template of the mount `layer`, which the request just entered. */
function mountTemplate(layer: RouterLayer, request: ExpressRequest, state: ExpressRouteState): string {
  const rawPath = layer.rawPath;
  if (typeof rawPath === 'string') return mountText(rawPath);
  let templates = mountTemplates.get(layer);
  if (templates === undefined) {
    if (rawPath !== undefined) {
      templates = Array.isArray(rawPath) ? rawPath.map(mountText) : mountText(rawPath);
    } else if (layer.regexp !== undefined) {
      const alternatives = express4MountTemplates(layer.regexp, layer.keys ?? []);
      templates = alternatives.length === 1 ? alternatives[0] : alternatives;
    } else {
      // router 2.2 keeps no path at all: derive it from this match, every time. `req.params` is this layer's
      // match (with the parent's under mergeParams); the layer's own copy is shared by concurrent requests.
      return templateFromParams(pieceOf(request, state), request.params ?? {});
    }
    mountTemplates.set(layer, templates);
  }
  if (typeof templates === 'string') return templates;
  const piece = pieceOf(request, state);
  for (let i = 0; i < templates.length; i++) {
    if (alternativeMatches(layer, i, piece)) return templates[i];
  }
  return templates.join(',');
}

/** The part of the path the request's innermost mount matched. */
function pieceOf(request: ExpressRequest, state: ExpressRouteState): string {
  const baseUrl = request.baseUrl ?? '';
  return baseUrl.startsWith(state.base) ? baseUrl.slice(state.base.length) : baseUrl;
}

const alternativeExpressions = new WeakMap<object, RegExp[]>();

/** Whether the `index`th path of an array mount matches `piece`, the one the router took. */
function alternativeMatches(layer: RouterLayer, index: number, piece: string): boolean {
  const matcher = layer.matchers?.[index];
  if (matcher !== undefined) return Boolean(matcher(piece));
  const regexp = layer.regexp;
  if (regexp === undefined) return false;
  // Express 4 joined the compiled paths with `|`; each alternative is one of them.
  let expressions = alternativeExpressions.get(layer);
  if (expressions === undefined) {
    expressions = topLevelAlternatives(regexp.source).map((source) => new RegExp(source, regexp.flags));
    alternativeExpressions.set(layer, expressions);
  }
  return expressions[index]?.test(piece) ?? false;
}

/**
 * The route template of a request: the one recorded when the router dispatched its route, which stays right
 * after an error left the nested routers. A route the application assigned to `req.route` since, or one that
 * no patched layer saw, is read as it is now.
 */
function expressRouteTemplate(request: IncomingMessage, state: unknown): string | undefined {
  const route = (request as ExpressRequest).route;
  const recorded = state as ExpressRouteState | undefined;
  if (route === undefined || route === recorded?.route) return recorded?.template;
  return route.path === undefined ? recorded?.template : joinRoute(recorded?.prefix ?? '', route.path);
}
