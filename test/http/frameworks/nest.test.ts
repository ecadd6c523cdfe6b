/**
 * NestJS 12 on both platforms, through instrumentNest(): route labels under a global prefix, a controller
 * prefix and URI versioning; Nest's not-found handler as <unmatched>; exception events for controller errors
 * Nest answers with 5xx, and none for the HttpExceptions it answers with 4xx; the answers unchanged.
 *
 * The repository's tsconfig has no experimentalDecorators, so the controllers call Nest's decorator functions
 * directly, as the compiled output of decorator syntax does.
 */
import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import {
  BadRequestException,
  Controller,
  Get,
  HttpException,
  type INestApplication,
  Module,
  NotFoundException,
  Param,
  Post,
  Req,
  StreamableFile,
  VersioningType,
} from '@nestjs/common';
import { NestFactory, RouterModule } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  expressMiddleware,
  fastifyPlugin,
  httpMetrics,
  instrumentNest,
  instrumentNodeHttp,
  UNMATCHED_ROUTE,
} from '../../../src/http/index.js';
import { Telemeter } from '../../../src/index.js';
import { expectRoutesMatchRouter, ServedRoutes } from '../conformance.js';
import { find, recordEvents, send, sendAll, waitFor } from '../helpers.js';

type Platform = 'express' | 'fastify';
type Headers = Record<string, string | string[] | undefined>;
interface RequestLike {
  readonly headers: Headers;
}

const served = new ServedRoutes();

/** Resolves once the client went away, or after 5 s (a bound, not a wait for something not to happen). */
function clientGone(request: RequestLike): Promise<void> {
  const raw = ((request as { raw?: IncomingMessage }).raw ?? request) as IncomingMessage;
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 5_000);
    raw.socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

class UsersController {
  show(request: RequestLike, id: string) {
    served.mark(request.headers, '/api/users/:id');
    return { id };
  }
  throwSync(request: RequestLike) {
    served.mark(request.headers, '/api/users/:id/sync');
    throw new Error('sync boom');
  }
  async throwAsync(request: RequestLike) {
    served.mark(request.headers, '/api/users/:id/async');
    await Promise.resolve();
    throw new Error('async boom');
  }
  badRequest(request: RequestLike) {
    served.mark(request.headers, '/api/users/:id/bad');
    throw new BadRequestException('no such shape');
  }
  notFound(request: RequestLike) {
    served.mark(request.headers, '/api/users/:id/missing');
    throw new NotFoundException('no such user');
  }
  serverError(request: RequestLike) {
    served.mark(request.headers, '/api/users/:id/unavailable');
    throw new HttpException('down for maintenance', 503);
  }
  async slow(request: RequestLike) {
    served.mark(request.headers, '/api/users/:id/slow');
    await clientGone(request);
    return { late: true };
  }
  stream(request: RequestLike) {
    served.mark(request.headers, '/api/users/:id/stream');
    const body = new Readable({ read() {} });
    body.push('first chunk\n');
    setImmediate(() => {
      body.push('last chunk\n');
      body.push(null);
    });
    return new StreamableFile(body);
  }
  endless(request: RequestLike) {
    served.mark(request.headers, '/api/users/:id/endless');
    const body = new Readable({ read() {} });
    body.push('first chunk\n');
    clientGone(request).then(() => body.push(null));
    return new StreamableFile(body);
  }
  create(request: RequestLike) {
    served.mark(request.headers, '/api/users');
    return { created: true };
  }
}

class ItemsController {
  show(request: RequestLike, id: string) {
    served.mark(request.headers, '/api/v1/items/:id');
    return { item: id };
  }
}

class SettingsController {
  show(request: RequestLike) {
    served.mark(request.headers, '/api/tenants/:tenant/settings/:key');
    return { ok: true };
  }
}

class ProjectsController {
  show(request: RequestLike) {
    served.mark(request.headers, '/api/orgs/:org/projects/:id');
    return { ok: true };
  }
}

class HealthController {
  check(request: RequestLike) {
    served.mark(request.headers, '/health');
    return 'ok';
  }
}

/** What `@Get(path)` and `@Req()` (and `@Param(name)`) do, on a method of a controller class. */
function route(
  verb: typeof Get,
  controller: { prototype: object },
  method: string,
  path: string,
  param?: string,
): void {
  const prototype = controller.prototype;
  verb(path)(prototype, method, Object.getOwnPropertyDescriptor(prototype, method)!);
  Req()(prototype, method, 0);
  if (param !== undefined) Param(param)(prototype, method, 1);
}

route(Get, UsersController, 'show', ':id', 'id');
route(Get, UsersController, 'throwSync', ':id/sync');
route(Get, UsersController, 'throwAsync', ':id/async');
route(Get, UsersController, 'badRequest', ':id/bad');
route(Get, UsersController, 'notFound', ':id/missing');
route(Get, UsersController, 'serverError', ':id/unavailable');
route(Get, UsersController, 'slow', ':id/slow');
route(Get, UsersController, 'stream', ':id/stream');
route(Get, UsersController, 'endless', ':id/endless');
route(Post, UsersController, 'create', '');
Controller('users')(UsersController);
route(Get, ItemsController, 'show', ':id', 'id');
Controller({ path: 'items', version: '1' })(ItemsController);
route(Get, SettingsController, 'show', ':key');
Controller('tenants/:tenant/settings')(SettingsController);
route(Get, ProjectsController, 'show', 'projects/:id');
Controller()(ProjectsController);
route(Get, HealthController, 'check', '');
Controller('health')(HealthController);

// A module mounted with RouterModule at a path with a parameter: its controllers' routes start with that path.
class OrgsModule {}
Module({ controllers: [ProjectsController] })(OrgsModule);
class AppModule {}
Module({
  imports: [OrgsModule, RouterModule.register([{ path: 'orgs/:org', module: OrgsModule }])],
  controllers: [UsersController, ItemsController, SettingsController, HealthController],
})(AppModule);

interface NestApp {
  readonly app: INestApplication;
  readonly port: number;
}

async function startNest(platform: Platform, setup: (app: INestApplication) => void): Promise<NestApp> {
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const app = await NestFactory.create(AppModule, adapter, { logger: false });
  app.setGlobalPrefix('api', { exclude: ['health'] });
  app.enableVersioning({ type: VersioningType.URI });
  setup(app);
  await app.listen(0, '127.0.0.1');
  const port = Number(new URL(await app.getUrl()).port);
  return { app, port };
}

const ERROR_PATHS = [
  '/api/users/7/sync',
  '/api/users/7/async',
  '/api/users/7/bad',
  '/api/users/7/missing',
  '/api/users/7/unavailable',
  '/api/nope',
  '/nope',
];

describe.each(['express', 'fastify'] as const)('NestJS on %s', (platform) => {
  let telemeter: Telemeter;
  const running: NestApp[] = [];
  const uninstalls: (() => void)[] = [];

  const start = async (setup: (app: INestApplication) => void = (app) => instrumentNest(app)) => {
    const started = await startNest(platform, setup);
    running.push(started);
    return started;
  };
  const total = () => find(telemeter.scrape(), 'http_server_requests_total').reduce((s, x) => s + x.value, 0);

  beforeEach(() => {
    telemeter = new Telemeter({ metrics: httpMetrics() });
    served.clear();
  });
  afterEach(async () => {
    telemeter.close();
    for (const uninstall of uninstalls.splice(0)) uninstall();
    for (const { app } of running.splice(0)) await app.close();
  });

  it('labels every request with the full template Nest served, and <unmatched> where no route did', async () => {
    const { port } = await start();
    await expectRoutesMatchRouter(telemeter, port, served, [
      { path: '/api/users/7', status: 200 },
      { path: '/api/users/8', status: 200 },
      { method: 'POST', path: '/api/users', status: 201 },
      { path: '/api/v1/items/3', status: 200 },
      { path: '/api/tenants/acme/settings/theme', status: 200 },
      { path: '/api/orgs/acme/projects/9', status: 200 },
      { path: '/health', status: 200 },
      { path: '/api/orgs/acme/nope', status: 404 },
      // Under the global prefix, Nest's own catch-all route answers (on Express: `*path` mounted at /api).
      { path: '/api/nope', status: 404 },
      { path: '/api/users/7/no/such/route', status: 404 },
      { path: '/api', status: 404 },
      { path: '/api/v2/items/3', status: 404 },
      // Outside the prefix: the platform's own 404.
      { path: '/nope', status: 404 },
      { path: '/users/7', status: 404 },
      // The excluded route's other methods: on Express, Nest mounts its not-found handler on that exact path.
      { method: 'POST', path: '/health', status: 404 },
      { path: '/api/users/7/sync', status: 500 },
      { path: '/api/users/7/async', status: 500 },
      { path: '/api/users/7/bad', status: 400 },
      { path: '/api/users/7/missing', status: 404 },
      { path: '/api/users/7/unavailable', status: 503 },
      { path: '/api/users/7/stream', status: 200 },
      { path: '/api/users/7/slow', mode: 'abort-before', status: 499 },
      { path: '/api/users/7/endless', mode: 'abort-after', status: 499 },
    ]);
  });

  it('emits the exception event for errors answered with 5xx, with the route, and none for 4xx answers', async () => {
    const { port } = await start();
    const recorder = recordEvents(['http.server.request.exception', 'http.server.request.stop']);
    try {
      for (const path of ERROR_PATHS) await send(port, path);
      await waitFor(
        () =>
          recorder.events.filter((e) => e.name === 'http.server.request.stop').length === ERROR_PATHS.length,
        'every request stopped',
      );
      const exceptions = recorder.events.filter((e) => e.name === 'http.server.request.exception');
      expect(
        exceptions.map((e) => [e.metadata.route, e.metadata.kind, (e.metadata.reason as Error).message]),
      ).toEqual([
        ['/api/users/:id/sync', 'error', 'sync boom'],
        ['/api/users/:id/async', 'error', 'async boom'],
        ['/api/users/:id/unavailable', 'error', 'down for maintenance'],
      ]);
      const stops = recorder.events.filter((e) => e.name === 'http.server.request.stop');
      expect(stops.map((e) => [e.metadata.route, e.metadata.status, e.metadata.outcome])).toEqual([
        ['/api/users/:id/sync', '500', 'error'],
        ['/api/users/:id/async', '500', 'error'],
        ['/api/users/:id/bad', '400', 'completed'],
        ['/api/users/:id/missing', '404', 'completed'],
        ['/api/users/:id/unavailable', '503', 'error'],
        [UNMATCHED_ROUTE, '404', 'completed'],
        [UNMATCHED_ROUTE, '404', 'completed'],
      ]);
    } finally {
      recorder.stop();
    }
  });

  it("reports an error of the platform's own middleware, which Nest's error layer answers", async () => {
    const recorder = recordEvents(['http.server.request.exception']);
    try {
      const { port } = await start((app) => {
        instrumentNest(app);
        if (platform === 'express') {
          app.use((request: IncomingMessage, _response: unknown, next: (error?: unknown) => void) => {
            next(request.url?.endsWith('?fail') ? new Error('middleware boom') : undefined);
          });
        } else {
          const instance = app.getHttpAdapter().getInstance() as {
            addHook(name: string, hook: (request: { url: string }) => Promise<void>): void;
          };
          instance.addHook('preHandler', async (request) => {
            if (request.url.endsWith('?fail')) throw new Error('middleware boom');
          });
        }
      });
      expect((await send(port, '/api/users/7?fail')).status).toBe(500);
      expect((await send(port, '/api/users/7')).status).toBe(200);
      await waitFor(() => total() === 2, 'both requests counted');
      // Express runs app.use() middleware before it routes; Fastify routes first.
      const route = platform === 'express' ? UNMATCHED_ROUTE : '/api/users/:id';
      expect(recorder.events.map((e) => [e.metadata.route, (e.metadata.reason as Error).message])).toEqual([
        [route, 'middleware boom'],
      ]);
    } finally {
      recorder.stop();
    }
  });

  it('keeps the series bounded: a route per template, and one <unmatched> for every unknown URL', async () => {
    const { port } = await start();
    const paths = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? `/api/users/${i}` : `/api/nope/${i}`));
    expect(await sendAll(port, paths, 8)).toEqual(
      new Map([
        [200, 100],
        [404, 100],
      ]),
    );
    await waitFor(() => total() === 200, '200 requests counted');
    expect(
      find(telemeter.scrape(), 'http_server_requests_total').map((s) => [s.labels.route, s.value]),
    ).toEqual([
      ['/api/users/:id', 100],
      [UNMATCHED_ROUTE, 100],
    ]);
  });

  it('leaves the answers as Nest sends them without telemeter: status and body', async () => {
    const plain = await start(() => {});
    const instrumented = await start();
    for (const path of [...ERROR_PATHS, '/api/users/7', '/api/v1/items/3', '/health']) {
      const [expected, actual] = [await send(plain.port, path), await send(instrumented.port, path)];
      expect(actual, path).toEqual(expected);
    }
  });

  it('counts each request once next to instrumentNodeHttp() and the platform adapter mounted by hand', async () => {
    uninstalls.push(instrumentNodeHttp());
    const recorder = recordEvents(['http.server.request.exception']);
    try {
      const { port } = await start((app) => {
        if (platform === 'express') app.use(expressMiddleware());
        else
          (app.getHttpAdapter().getInstance() as { register: (p: unknown) => void }).register(fastifyPlugin);
        instrumentNest(app);
      });
      await expectRoutesMatchRouter(telemeter, port, served, [
        { path: '/api/users/7', status: 200 },
        { path: '/api/nope', status: 404 },
        { path: '/api/users/7/sync', status: 500 },
      ]);
      expect(total()).toBe(3);
      expect(recorder.events.map((e) => e.metadata.route)).toEqual(['/api/users/:id/sync']);
    } finally {
      recorder.stop();
    }
  });

  it('refuses an application that is already initialized, or already instrumented', async () => {
    const { app } = await start();
    expect(() => instrumentNest(app)).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_INVALID_STATE' }),
    );
    const fresh = await NestFactory.create(
      AppModule,
      platform === 'express' ? new ExpressAdapter() : new FastifyAdapter(),
      { logger: false },
    );
    try {
      instrumentNest(fresh);
      expect(() => instrumentNest(fresh)).toThrow(
        expect.objectContaining({ code: 'ERR_TELEMETER_INVALID_STATE' }),
      );
    } finally {
      await fresh.close();
    }
  });
});

describe('instrumentNest arguments', () => {
  it('names a bad option and a value that is not a Nest application', async () => {
    const app = await NestFactory.create(AppModule, new ExpressAdapter(), { logger: false });
    try {
      expect(() => instrumentNest(app, { ignroe: ['/healthz'] } as never)).toThrow(
        expect.objectContaining({
          code: 'ERR_TELEMETER_UNKNOWN_OPTION',
          message: expect.stringMatching(/ignore/),
        }),
      );
    } finally {
      await app.close();
    }
    expect(() => instrumentNest({} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_INVALID_ARGUMENT' }),
    );
  });
});
