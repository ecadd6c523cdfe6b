/**
 * The Fastify plugin against Fastify 4 and Fastify 5: every route label must be the template the router
 * matched (with plugin prefixes), whether the handler answered, threw, sent an error, streamed, or the client
 * left before or during the answer; not-found handlers, the default one and `setNotFoundHandler`, are
 * `<unmatched>`.
 */
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import Fastify5 from 'fastify';
import Fastify4 from 'fastify4';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fastifyPlugin, httpMetrics, instrumentNodeHttp, UNMATCHED_ROUTE } from '../../../src/http/index.js';
import { Telemeter } from '../../../src/index.js';
import { expectRoutesMatchRouter, type RouteCase, ServedRoutes } from '../conformance.js';
import { find, recordEvents, sendAll, waitFor } from '../helpers.js';

const REQUESTS = 'http_server_requests_total';

/** Resolves when the client has gone away (the response closed unfinished), or after 5 s at most. */
function clientGone(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 5_000);
    res.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A body that sends one chunk and then never ends: only the client can close it. */
function neverEnding(): Readable {
  const stream = new Readable({ read() {} });
  stream.push('a');
  return stream;
}

// The parts of a Fastify 4 or 5 instance these tests use; the two majors' full types do not unify.
interface Request {
  readonly headers: Record<string, string | string[] | undefined>;
}
interface Reply {
  readonly raw: ServerResponse;
  code(status: number): Reply;
  send(payload?: unknown): Reply;
  callNotFound(): void;
}
type Handler = (request: Request, reply: Reply) => unknown;
interface App {
  register(plugin: unknown, options?: object): PromiseLike<unknown>;
  get(path: string, handler: Handler): unknown;
  post(path: string, handler: Handler): unknown;
  setNotFoundHandler(handler: Handler): unknown;
  addHook(name: string, hook: (request: Request & { url: string }, reply: Reply) => unknown): unknown;
  listen(options: { port: number; host: string }): Promise<string>;
  inject(path: string): Promise<{ statusCode: number }>;
  close(): Promise<unknown>;
  readonly server: { address(): unknown; closeAllConnections(): void };
}
type Factory = (options: { logger: boolean }) => App;

async function buildApp(fastify: Factory, served: ServedRoutes): Promise<App> {
  const app = fastify({ logger: false });
  const mark = (request: Request, route: string) => served.mark(request.headers, route);
  await app.register(fastifyPlugin);
  app.get('/users/:id', async (request) => {
    mark(request, '/users/:id');
    return 'user';
  });
  app.post('/users', async (request, reply) => {
    mark(request, '/users');
    return reply.code(201).send('created');
  });
  app.get('/sync-error', (request) => {
    mark(request, '/sync-error');
    throw new Error('sync');
  });
  app.get('/async-error', async (request) => {
    mark(request, '/async-error');
    await Promise.resolve();
    throw new Error('async');
  });
  // The route matched, and its handler decided there is nothing: the route is kept, as the router matched it.
  app.get('/maybe/:id', (request, reply) => {
    mark(request, '/maybe/:id');
    reply.callNotFound();
  });
  // A 4xx error is Fastify's answer (a validation error is one), not a failure of the server.
  app.get('/client-error', (request) => {
    mark(request, '/client-error');
    throw Object.assign(new Error('bad'), { statusCode: 400 });
  });
  app.get('/reply-error', (request, reply) => {
    mark(request, '/reply-error');
    reply.code(503).send(new Error('reply'));
  });
  app.get('/late/:id', async (request, reply) => {
    mark(request, '/late/:id');
    await clientGone(reply.raw);
    return 'too late';
  });
  app.get('/stream/:id', (request, reply) => {
    mark(request, '/stream/:id');
    reply.send(neverEnding());
  });
  app.get('/streamed', (request, reply) => {
    mark(request, '/streamed');
    reply.send(Readable.from(['a', 'b', 'c']));
  });
  await app.register(
    async (tenant: App) => {
      tenant.get('/settings', async (request) => {
        mark(request, '/tenants/:tenant/settings');
        return 'settings';
      });
      tenant.get('/projects/:project', async (request, reply) => {
        mark(request, '/tenants/:tenant/projects/:project');
        await clientGone(reply.raw);
        return 'too late';
      });
      tenant.get('/fail', async (request) => {
        mark(request, '/tenants/:tenant/fail');
        throw new Error('nested');
      });
    },
    { prefix: '/tenants/:tenant' },
  );
  await app.register(
    async (hooked: App) => {
      // Hooks of a plugin, after the router matched: an error thrown in one, and an early answer.
      hooked.addHook('preHandler', async (request: Request & { url: string }, reply: Reply) => {
        if (request.url.endsWith('/locked')) {
          mark(request, '/hooked/:id/locked');
          return reply.code(401).send('locked');
        }
        if (request.url.endsWith('/broken')) {
          mark(request, '/hooked/:id/broken');
          throw new Error('hook');
        }
      });
      hooked.get('/:id/locked', async () => 'unreachable');
      hooked.get('/:id/broken', async () => 'unreachable');
    },
    { prefix: '/hooked' },
  );
  await app.register(
    async (api: App) => {
      api.get('/items/:id', async (request) => {
        mark(request, '/api/items/:id');
        return 'item';
      });
      // A prefix's own not-found handler: still no route matched.
      api.setNotFoundHandler((_request, reply) => reply.code(404).send('no such api'));
    },
    { prefix: '/api' },
  );
  app.setNotFoundHandler((_request, reply) => reply.code(404).send('nothing here'));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
}

const MATRIX: RouteCase[] = [
  { path: '/users/1', status: 200 },
  { path: '/users/2?x=1', status: 200 },
  { method: 'POST', path: '/users', status: 201 },
  { method: 'HEAD', path: '/users/3', status: 200 },
  { path: '/maybe/1', status: 404 },
  { path: '/missing', status: 404 },
  { path: '/users/1/extra', status: 404 },
  { path: '/api/missing', status: 404 },
  { method: 'DELETE', path: '/users/1', status: 404 },
  { path: '/sync-error', status: 500 },
  { path: '/async-error', status: 500 },
  { path: '/reply-error', status: 503 },
  { path: '/streamed', status: 200 },
  { path: '/api/items/9', status: 200 },
  { path: '/tenants/acme/settings', status: 200 },
  { path: '/tenants/acme/fail', status: 500 },
  { path: '/hooked/1/locked', status: 401 },
  { path: '/hooked/1/broken', status: 500 },
  { path: '/late/1', mode: 'abort-before', status: 499 },
  { path: '/tenants/acme/projects/7', mode: 'abort-before', status: 499 },
  { path: '/stream/1', mode: 'abort-after', status: 499 },
];

describe.each([
  ['Fastify 4', Fastify4 as unknown as Factory],
  ['Fastify 5', Fastify5 as unknown as Factory],
])('%s', (_name, fastify) => {
  let telemeter: Telemeter;
  let app: App;
  let port: number;
  const served = new ServedRoutes();

  beforeEach(async () => {
    served.clear();
    telemeter = new Telemeter({ metrics: httpMetrics() });
    app = await buildApp(fastify, served);
    port = (app.server.address() as { port: number }).port;
  });
  afterEach(async () => {
    telemeter.close();
    app.server.closeAllConnections();
    await app.close();
  });

  it("counts requests made with Fastify's inject, whose fake socket never drains, as completed", async () => {
    for (const path of ['/users/1', '/users/2']) expect((await app.inject(path)).statusCode).toBe(200);
    await waitFor(
      () => find(telemeter.scrape(), 'http_server_requests_total').length > 0,
      'the injected requests',
    );
    expect(find(telemeter.scrape(), 'http_server_requests_total')).toEqual([
      {
        name: 'http_server_requests_total',
        labels: { method: 'GET', route: '/users/:id', status: '200' },
        value: 2,
      },
    ]);
  });

  it('labels every request with the template the router matched', async () => {
    await expectRoutesMatchRouter(telemeter, port, served, MATRIX);
  });

  it('keeps the route of a request the client aborts before the handler answers', async () => {
    await expectRoutesMatchRouter(telemeter, port, served, [
      { path: '/late/1', mode: 'abort-before', status: 499 },
      { path: '/tenants/acme/projects/7', mode: 'abort-before', status: 499 },
    ]);
    expect(find(telemeter.scrape(), REQUESTS).map((s) => s.labels.route)).toEqual([
      '/late/:id',
      '/tenants/:tenant/projects/:project',
    ]);
  });

  it('emits the exception event with the route for thrown errors and errors sent with reply', async () => {
    const recorder = recordEvents(['http.server.request.exception']);
    try {
      await expectRoutesMatchRouter(telemeter, port, served, [
        { path: '/sync-error', status: 500 },
        { path: '/async-error', status: 500 },
        { path: '/reply-error', status: 503 },
        { path: '/tenants/acme/fail', status: 500 },
        { path: '/hooked/1/broken', status: 500 },
        { path: '/client-error', status: 400 },
        { path: '/users/1', status: 200 },
      ]);
      await waitFor(() => recorder.events.length === 5, 'five exception events');
      expect(
        recorder.events.map(({ metadata }) => [metadata.route, (metadata.reason as Error).message]),
      ).toEqual([
        ['/sync-error', 'sync'],
        ['/async-error', 'async'],
        ['/reply-error', 'reply'],
        ['/tenants/:tenant/fail', 'nested'],
        ['/hooked/:id/broken', 'hook'],
      ]);
    } finally {
      recorder.stop();
    }
  });

  it('counts each request once when instrumentNodeHttp() sees it too', async () => {
    const uninstall = instrumentNodeHttp();
    try {
      await expectRoutesMatchRouter(telemeter, port, served, MATRIX);
    } finally {
      uninstall();
    }
  });

  it('adds no series for 1,000 distinct tenant ids under a parameter prefix', async () => {
    const paths = Array.from({ length: 1_000 }, (_, i) => `/tenants/t${i}/settings`);
    expect(await sendAll(port, paths)).toEqual(new Map([[200, 1_000]]));
    await sendAll(port, ['/no/such/path/1', '/no/such/path/2']);
    await waitFor(() => find(telemeter.scrape(), REQUESTS).length === 2, 'two series');
    const series = find(telemeter.scrape(), REQUESTS).map((s) => [s.labels.route, s.labels.status, s.value]);
    expect(series).toEqual([
      ['/tenants/:tenant/settings', '200', 1_000],
      [UNMATCHED_ROUTE, '404', 2],
    ]);
  });
});
