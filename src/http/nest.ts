import { type IncomingMessage, ServerResponse } from 'node:http';
import { TelemeterTypeError } from '../errors.js';
import { expressMiddleware } from './express.js';
import { fastifyPlugin } from './fastify.js';
import { trackerOf } from './server-core.js';
import { resolveServerOptions, type ServerInstrumentationOptions } from './server-options.js';

// Structural types for the parts of NestJS 12 (@nestjs/core, its platforms and rxjs) this adapter uses, so the
// package never imports them.
type ExpressNext = (error?: unknown) => void;
type ExpressHandler = (request: IncomingMessage, response: ServerResponse, next: ExpressNext) => unknown;
type ExpressErrorHandler = (
  error: unknown,
  request: IncomingMessage,
  response: ServerResponse,
  next: ExpressNext,
) => unknown;

interface NestHttpAdapterLike {
  getType(): string;
  getInstance(): unknown;
}
/** Nest's Express adapter: init() passes it the handlers of Nest's not-found route and of its error layer. */
interface ExpressHandlerSetters {
  setNotFoundHandler?: (handler: ExpressHandler, ...rest: unknown[]) => unknown;
  setErrorHandler?: (handler: ExpressErrorHandler, ...rest: unknown[]) => unknown;
}

/** What {@link instrumentNest} needs of a `NestApplication` (`NestFactory.create(...)`). */
export interface NestApplicationLike {
  getHttpAdapter(): NestHttpAdapterLike;
  use(...handlers: unknown[]): unknown;
  /** Takes Nest's `NestInterceptor`s; typed loosely so that Nest's own signature (rxjs types) fits. */
  useGlobalInterceptors(...interceptors: object[]): unknown;
}

interface SubscriberLike {
  next(value: unknown): void;
  error(error: unknown): void;
  complete(): void;
}
interface ObservableLike {
  subscribe(observer: SubscriberLike): unknown;
}
type ObservableConstructorLike = new (subscribe: (subscriber: SubscriberLike) => unknown) => ObservableLike;

interface ExecutionContextLike {
  getType(): string;
  switchToHttp(): { getResponse(): unknown };
}

/** Nest's `NestInterceptor` interface, structurally. */
interface NestInterceptorLike {
  intercept(context: ExecutionContextLike, next: { handle(): ObservableLike }): ObservableLike;
}

interface FastifyInstanceLike {
  register(plugin: typeof fastifyPlugin, options?: ServerInstrumentationOptions): unknown;
}

const instrumented = new WeakSet<object>();

/**
 * Measures a NestJS application on either platform, `@nestjs/platform-express` or `@nestjs/platform-fastify`.
 * Call it after `NestFactory.create` and before `app.init()` or `app.listen()`:
 *
 * ```ts
 * import 'reflect-metadata';
 * import { Controller, Get, Module, Param } from '@nestjs/common';
 * import { NestFactory } from '@nestjs/core';
 * import { Telemeter } from 'telemeter';
 * import { httpMetrics, instrumentNest } from 'telemeter/http';
 *
 * // @Controller('users') class UsersController { @Get(':id') show(@Param('id') id: string) {...} }, without
 * // decorator syntax:
 * class UsersController {
 *   show(id: string) {
 *     return { id };
 *   }
 * }
 * const show = Object.getOwnPropertyDescriptor(UsersController.prototype, 'show')!;
 * Get(':id')(UsersController.prototype, 'show', show);
 * Param('id')(UsersController.prototype, 'show', 0);
 * Controller('users')(UsersController);
 * class AppModule {}
 * Module({ controllers: [UsersController] })(AppModule);
 *
 * const telemeter = new Telemeter({ metrics: httpMetrics() });
 * const app = await NestFactory.create(AppModule, { logger: false });
 * app.setGlobalPrefix('api');
 * instrumentNest(app, { ignore: ['/healthz'] });
 * await app.listen(0, '127.0.0.1');
 *
 * await fetch(`${await app.getUrl()}/api/users/42`);
 * console.log(telemeter.scrape().match(/^http_server_requests_total\{.*$/m)?.[0]);
 * //=> http_server_requests_total{method="GET",route="/api/users/:id",status="200"} 1
 * await app.close();
 * ```
 *
 * On Express it mounts {@link expressMiddleware} before Nest's own middleware; on Fastify it registers
 * {@link fastifyPlugin} on the instance. The route label is the full template: global prefix, version,
 * controller path and method path (`/api/v1/users/:id`). Requests that Nest's not-found handler answers are
 * `<unmatched>` (or what `options.route` names), on both platforms.
 *
 * A global interceptor reports errors that a controller (or a pipe or an interceptor after it) throws, then
 * rethrows them, so Nest's exception filters answer exactly as before. The exception event fires for errors
 * that Nest answers with a 5xx status: any error that is not an `HttpException` (Nest answers 500), and
 * `HttpException`s of status 500 or more. An `HttpException` under 500 (`NotFoundException`, the
 * `BadRequestException` of `ValidationPipe`) or an `http-errors` error under 500 is an answer, not a failure:
 * the request is counted with its status and outcome `completed`. On Express, errors of middleware mounted with
 * `app.use()` are reported on their way to Nest's error layer; on Fastify, errors of the instance's own hooks reach
 * `fastifyPlugin`' `onError` hook. Errors thrown in guards and in Nest middleware (`MiddlewareConsumer`) are
 * answered before any interceptor runs: they are counted with the status Nest sent, without the exception event.
 *
 * A request that another adapter already tracks (`instrumentNodeHttp()`, an `expressMiddleware()` you mounted
 * yourself) is counted once.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` for a value that is not a Nest application on the
 * Express or Fastify platform; `ERR_TELEMETER_INVALID_STATE` when the application is already initialized or
 * already instrumented; `ERR_TELEMETER_UNKNOWN_OPTION` or `ERR_TELEMETER_INVALID_OPTION` for an option, naming it.
 */
export function instrumentNest(app: NestApplicationLike, options?: ServerInstrumentationOptions): void {
  const where = 'telemeter/http: instrumentNest';
  const adapter = httpAdapterOf(app);
  if (adapter === undefined) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_ARGUMENT',
      `${where}: the first argument must be a Nest application (from NestFactory.create)`,
    );
  }
  // Routes and Nest's not-found handler are registered by init(): after it, a middleware would come too late.
  if ((app as { isInitialized?: unknown }).isInitialized === true) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_STATE',
      `${where}: the application is already initialized; call instrumentNest(app) before app.init() or app.listen()`,
    );
  }
  if (instrumented.has(app)) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_STATE',
      `${where}: this application is already instrumented; call instrumentNest(app) once`,
    );
  }
  // Validated here, at the call, so a bad option fails the call instead of a later init().
  resolveServerOptions('instrumentNest', options);

  const type = adapter.getType();
  if (type === 'express') {
    app.use(expressMiddleware(options));
    labelNotFoundUnmatched(adapter as ExpressHandlerSetters);
    reportErrorLayer(adapter as ExpressHandlerSetters);
  } else if (type === 'fastify') {
    (adapter.getInstance() as FastifyInstanceLike).register(fastifyPlugin, options);
  } else {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_ARGUMENT',
      `${where}: the platform "${type}" is not supported; use @nestjs/platform-express or @nestjs/platform-fastify`,
    );
  }
  app.useGlobalInterceptors(exceptionReporter);
  instrumented.add(app);
}

function httpAdapterOf(app: NestApplicationLike): NestHttpAdapterLike | undefined {
  if (typeof app?.getHttpAdapter !== 'function' || typeof app.useGlobalInterceptors !== 'function') {
    return undefined;
  }
  const adapter = app.getHttpAdapter() as NestHttpAdapterLike | undefined;
  return typeof adapter?.getType === 'function' && typeof adapter.getInstance === 'function'
    ? adapter
    : undefined;
}

/**
 * On Express, Nest answers unknown URLs under a global prefix with a route of its own (`router.all('*path')`
 * mounted at the prefix), which the Express adapter would label `/api*path`. Wrapping the handler that Nest
 * passes to `setNotFoundHandler` (during init) marks those requests as routed by nobody.
 */
function labelNotFoundUnmatched(adapter: ExpressHandlerSetters): void {
  const setNotFoundHandler = adapter.setNotFoundHandler;
  if (typeof setNotFoundHandler !== 'function') return;
  adapter.setNotFoundHandler = function (this: unknown, handler, ...rest) {
    const unmatched: ExpressHandler = (request, response, next) => {
      const tracker = trackerOf(response);
      if (tracker !== undefined) {
        tracker.route = undefined;
        tracker.routeResolver = noRoute;
      }
      return handler(request, response, next);
    };
    return setNotFoundHandler.call(this, unmatched, ...rest);
  };
}

/**
 * An error that Express middleware mounted with `app.use()` throws or passes to `next(error)` reaches Nest's
 * error layer (`setErrorHandler`), which answers it with the exception filters: report it on the way in.
 */
function reportErrorLayer(adapter: ExpressHandlerSetters): void {
  const setErrorHandler = adapter.setErrorHandler;
  if (typeof setErrorHandler !== 'function') return;
  adapter.setErrorHandler = function (this: unknown, handler, ...rest) {
    // Four parameters: Express calls only such functions with an error.
    const reporting: ExpressErrorHandler = (error, request, response, next) => {
      trackerOf(response)?.fail(error);
      return handler(error, request, response, next);
    };
    return setErrorHandler.call(this, reporting, ...rest);
  };
}

/** A resolver that finds no route, so the core falls back to `options.route`, then `<unmatched>`. */
function noRoute(): undefined {
  return undefined;
}

/**
 * Reports an error on its way from the handler to Nest's exception filters, and passes it on unchanged. The
 * Observable class is taken from the handler's own Observable, so there is no import of rxjs.
 */
const exceptionReporter: NestInterceptorLike = {
  intercept(context, next) {
    const source = next.handle();
    if (context.getType() !== 'http') return source;
    const response = rawResponse(context.switchToHttp().getResponse());
    if (response === undefined || trackerOf(response) === undefined) return source;
    const Observable = source.constructor as ObservableConstructorLike;
    return new Observable((subscriber) => source.subscribe(new ErrorReporter(subscriber, response)));
  },
};

/** Passes everything on to the subscriber, and reports an error to the tracker of the response first. */
class ErrorReporter implements SubscriberLike {
  constructor(
    private readonly subscriber: SubscriberLike,
    private readonly response: ServerResponse,
  ) {}
  next(value: unknown): void {
    this.subscriber.next(value);
  }
  error(error: unknown): void {
    trackerOf(this.response)?.fail(error);
    this.subscriber.error(error);
  }
  complete(): void {
    this.subscriber.complete();
  }
}

/** The `node:http` response behind Express's response (the same object) or Fastify's reply (`reply.raw`). */
function rawResponse(response: unknown): ServerResponse | undefined {
  if (response instanceof ServerResponse) return response;
  const raw = (response as { raw?: unknown } | null | undefined)?.raw;
  return raw instanceof ServerResponse ? raw : undefined;
}
