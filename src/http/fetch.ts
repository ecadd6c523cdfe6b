import { invalidArgument } from '../errors.js';
import { type RequestTracker, ServerCore } from './server-core.js';
import type { ServerInstrumentationOptions } from './server-options.js';

/**
 * A fetch-style request handler: a `Request` in, a `Response` out. The other arguments are the runtime's own:
 * Bun's `server`, Deno's `info`, a Cloudflare Worker's `env` and `ctx`.
 */
export type FetchHandler<Rest extends unknown[] = any[]> = (
  request: Request,
  ...rest: Rest
) => Response | undefined | Promise<Response | undefined>;

/**
 * What {@link instrumentFetchHandler} returns for a handler of type `Handler`: a function of a `Request` and the
 * handler's other parameters, returning what the handler returns, so it fits wherever the handler did.
 */
export type InstrumentedFetchHandler<Handler extends FetchHandler> = (
  request: Request,
  ...rest: Handler extends (request: Request, ...rest: infer Rest) => unknown ? Rest : never
) => ReturnType<Handler>;

/** Options of {@link instrumentFetchHandler} and {@link instrumentBunRoutes}. */
export interface FetchHandlerOptions
  extends Pick<ServerInstrumentationOptions, 'eventPrefix' | 'abortedStatus'> {
  /**
   * Requests that emit no events at all: exact paths (the query string is ignored), or a predicate on the
   * `Request`. Use it for health checks and the metrics path: `ignore: ['/healthz', '/metrics']`.
   */
  readonly ignore?: readonly string[] | ((request: Request) => boolean);
  /**
   * The route label of each request, since a fetch handler has no router: a list of templates such as
   * `['/users/:id', '/files/*']` matched against the path, or a function of the `Request` that returns a
   * template from a fixed set. Requests without one are labelled `<unmatched>`. Not an option of
   * {@link instrumentBunRoutes}, where each route's key is its label.
   */
  readonly route?: readonly string[] | ((request: Request) => string | undefined);
}

/** The keys of {@link ServerInstrumentationOptions} that mean nothing to a fetch handler. */
const NO_TIMEOUTS = ['timeoutStatus'];

/**
 * Wraps a fetch-style handler so that every request it answers emits the same `http.server.request.*` events as
 * the Node adapters, for `httpMetrics()`: `Bun.serve({ fetch })`, `Deno.serve(handler)`, a Cloudflare Worker's
 * `export default { fetch }`, or any other server that calls `(request) => Response`. Runs on Node.js too.
 *
 * ```ts
 * import { Telemeter } from 'telemeter';
 * import { httpMetrics, instrumentFetchHandler } from 'telemeter/http';
 *
 * const telemeter = new Telemeter({ metrics: httpMetrics() });
 * const handler = instrumentFetchHandler(
 *   (request) => new Response(new URL(request.url).pathname === '/users/42' ? 'Ada' : 'none'),
 *   { route: ['/users/:id'] },
 * );
 * // Bun.serve({ fetch: handler }), Deno.serve(handler), or `export default { fetch: handler }` in a Worker.
 * await handler(new Request('http://localhost/users/42'));
 * console.log(telemeter.scrape().match(/^http_server_requests_total\{.*$/m)?.[0]);
 * //=> http_server_requests_total{method="GET",route="/users/:id",status="200"} 1
 * ```
 *
 * The rules are those of the Node adapters: the route label comes from the `route` option (templates, or a
 * function of the `Request`), `<unmatched>` otherwise; the status label is the returned Response's status. A
 * handler that throws emits `<prefix>.exception` and is counted as 500 with outcome `error` (what Bun, Deno and
 * Workers answer when a handler throws), and the error is thrown on to the runtime. A request whose
 * `request.signal` aborted before the handler answered (the client left) is counted under `abortedStatus`
 * (499). A handler that returns no Response (Bun's after a `server.upgrade()`) is counted as 101.
 *
 * The duration runs from the call to the moment the handler's Response is ready: the runtime sends the body
 * after that, where no wrapper can see it without copying the stream. The response size is the Response's
 * `Content-Length` header when it has one (a `new Response(text)` gets its length from the server, later, and
 * is left out of `http_server_response_size_bytes`), and the request size the Request's.
 *
 * The wrapped handler has the handler's type, passes `this` and every argument on, and returns what the handler
 * returned (a Response without waiting when the handler answered synchronously).
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` when `handler` is not a function;
 * `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid key) or `ERR_TELEMETER_INVALID_OPTION` for an option.
 */
export function instrumentFetchHandler<Handler extends FetchHandler>(
  handler: Handler,
  options?: FetchHandlerOptions,
): InstrumentedFetchHandler<Handler> {
  if (typeof handler !== 'function') {
    invalidArgument('telemeter/http: instrumentFetchHandler needs the fetch handler function to wrap');
  }
  const core = new ServerCore(
    'instrumentFetchHandler',
    options as ServerInstrumentationOptions,
    [],
    NO_TIMEOUTS,
  );
  return function telemeterFetchHandler(this: unknown, request: Request, ...rest: unknown[]) {
    const tracker = core.trackDetached(request.method, pathAndQuery(request.url), request);
    if (tracker === undefined) return handler.call(this, request, ...rest);
    return answer(tracker, request, () => handler.call(this, request, ...rest));
  } as unknown as InstrumentedFetchHandler<Handler>;
}

/** What one key of `Bun.serve`'s `routes` holds: a handler, handlers by method, or a static answer. */
type BunRouteValue = unknown;

const METHOD = /^(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|CONNECT|TRACE)$/;

/**
 * Wraps the handlers of a `Bun.serve({ routes })` object so that each request is counted under its route's key
 * (`/users/:id`, `/api/*`), the route label the Node adapters read from their routers. Handlers per method
 * (`{ GET: fn, POST: fn }`) are wrapped one by one. Static answers (a `Response`, an HTML import, `false`) are
 * left as they are: Bun sends them without calling any JavaScript, so there is nothing to measure. Wrap
 * `fetch` with {@link instrumentFetchHandler} too, for the requests no route matches (`<unmatched>`).
 *
 * ```ts
 * import { Telemeter } from 'telemeter';
 * import { httpMetrics, instrumentBunRoutes } from 'telemeter/http';
 *
 * const telemeter = new Telemeter({ metrics: httpMetrics() });
 * const routes = instrumentBunRoutes({
 *   '/users/:id': (request: Request & { params: { id: string } }) => Response.json({ id: request.params.id }),
 * });
 * // Bun.serve({ routes, fetch: instrumentFetchHandler(() => new Response('Not Found', { status: 404 })) })
 * await routes['/users/:id'](Object.assign(new Request('http://localhost/users/7'), { params: { id: '7' } }));
 * console.log(telemeter.scrape().match(/^http_server_requests_total\{.*$/m)?.[0]);
 * //=> http_server_requests_total{method="GET",route="/users/:id",status="200"} 1
 * ```
 *
 * The other rules are those of {@link instrumentFetchHandler}. Returns a new object; `routes` is not changed.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` when `routes` is not an object;
 * `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid key, and for `route`, which the keys replace) or
 * `ERR_TELEMETER_INVALID_OPTION` for an option.
 */
export function instrumentBunRoutes<Routes extends Record<string, BunRouteValue>>(
  routes: Routes,
  options?: Omit<FetchHandlerOptions, 'route'>,
): Routes {
  if (typeof routes !== 'object' || routes === null || Array.isArray(routes)) {
    invalidArgument("telemeter/http: instrumentBunRoutes needs Bun.serve's routes object");
  }
  const core = new ServerCore(
    'instrumentBunRoutes',
    options as ServerInstrumentationOptions,
    [],
    [...NO_TIMEOUTS, 'route'],
  );
  const wrap = (route: string, handler: FetchHandler) =>
    function telemeterBunRoute(this: unknown, request: Request, ...rest: unknown[]) {
      const tracker = core.trackDetached(request.method, pathAndQuery(request.url), request);
      if (tracker === undefined) return handler.call(this, request, ...rest);
      tracker.route = route;
      return answer(tracker, request, () => handler.call(this, request, ...rest));
    };
  const wrapped: Record<string, BunRouteValue> = {};
  for (const [route, value] of Object.entries(routes)) {
    if (typeof value === 'function') {
      wrapped[route] = wrap(route, value as FetchHandler);
    } else if (isMethodTable(value)) {
      const methods: Record<string, unknown> = {};
      for (const [method, handler] of Object.entries(value)) {
        methods[method] = typeof handler === 'function' ? wrap(route, handler as FetchHandler) : handler;
      }
      wrapped[route] = methods;
    } else {
      wrapped[route] = value;
    }
  }
  return wrapped as Routes;
}

/** A plain object of handlers by HTTP method, as opposed to a Response or an HTML import. */
function isMethodTable(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) {
    return false;
  }
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((key) => METHOD.test(key));
}

/** Runs the handler and ends the tracked request with what it answered or threw, passing both on unchanged. */
function answer(
  tracker: RequestTracker,
  request: Request,
  run: () => Response | undefined | Promise<Response | undefined>,
): Response | undefined | Promise<Response | undefined> {
  let result: Response | undefined | Promise<Response | undefined>;
  try {
    result = run();
  } catch (error) {
    failed(tracker, request, error);
    throw error;
  }
  if (!isPromiseLike(result)) {
    answered(tracker, request, result);
    return result;
  }
  return result.then(
    (response) => {
      answered(tracker, request, response);
      return response;
    },
    (error: unknown) => {
      failed(tracker, request, error);
      throw error;
    },
  );
}

function isPromiseLike<T>(value: unknown): value is Promise<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

function answered(tracker: RequestTracker, request: Request, response: Response | undefined): void {
  if (request.signal?.aborted === true) {
    tracker.complete(0, undefined, 'aborted', declaredSize(request.headers));
    return;
  }
  const status = typeof response?.status === 'number' ? response.status : 101;
  tracker.detachedResponse = response;
  tracker.complete(
    status,
    responseSize(request.method, status, response),
    undefined,
    declaredSize(request.headers),
  );
}

function failed(tracker: RequestTracker, request: Request, error: unknown): void {
  tracker.fail(error);
  const aborted = request.signal?.aborted === true;
  tracker.complete(500, undefined, aborted ? 'aborted' : 'error', declaredSize(request.headers));
}

/** The path and query of an absolute URL, as the `ignore` paths and `route` templates read them. */
export function pathAndQuery(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  return start < 0 ? '/' : url.slice(start);
}

/** Body bytes of a Response: its Content-Length header, or 0 where HTTP says it has no body. */
function responseSize(method: string, status: number, response: Response | undefined): number | undefined {
  if (method === 'HEAD' || status === 204 || status === 304 || status < 200) return 0;
  return response === undefined ? undefined : declaredSize(response.headers);
}

/** A valid Content-Length header, or undefined. */
export function declaredSize(headers: { get(name: string): string | null } | undefined): number | undefined {
  const header = headers?.get('content-length');
  if (header === null || header === undefined || header === '') return undefined;
  const size = Number(header);
  return size >= 0 && Number.isFinite(size) ? size : undefined;
}
