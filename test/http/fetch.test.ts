/**
 * instrumentFetchHandler and instrumentBunRoutes on Node.js: called directly with `Request` objects for the exact
 * rules, and behind a real server that calls a fetch handler (@hono/node-server) for the route conformance
 * harness every framework adapter passes. Bun.serve, Deno.serve and workerd run them in test/runtimes/.
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  httpMetrics,
  instrumentBunRoutes,
  instrumentFetchHandler,
  UNMATCHED_ROUTE,
} from '../../src/http/index.js';
import { Telemeter } from '../../src/index.js';
import { expectRoutesMatchRouter, type RouteCase, ServedRoutes } from './conformance.js';
import { close, find, recordEvents, sampleValue } from './helpers.js';

const REQUESTS = 'http_server_requests_total';
const ROUTES = ['/users/:id', '/files/*', '/boom', '/slow'];

let telemeter: Telemeter;
beforeEach(() => {
  telemeter = new Telemeter({ metrics: httpMetrics() });
});
afterEach(() => telemeter.close());

function counted(where: Record<string, string>): number {
  return sampleValue(telemeter.scrape(), REQUESTS, where);
}

describe('instrumentFetchHandler', () => {
  it('labels by the route templates, <unmatched> otherwise, and the status the Response has', async () => {
    const handler = instrumentFetchHandler(
      (request) => {
        const path = new URL(request.url).pathname;
        return new Response(path, { status: path === '/users/404' ? 404 : 200 });
      },
      { route: ROUTES },
    );
    await handler(new Request('http://x/users/1'));
    await handler(new Request('http://x/users/2?tab=1'));
    await handler(new Request('http://x/users/404'));
    await handler(new Request('http://x/files/a/b/c', { method: 'POST', body: 'x' }));
    await handler(new Request('http://x/nowhere/7'));
    expect(counted({ method: 'GET', route: '/users/:id', status: '200' })).toBe(2);
    expect(counted({ method: 'GET', route: '/users/:id', status: '404' })).toBe(1);
    expect(counted({ method: 'POST', route: '/files/*', status: '200' })).toBe(1);
    expect(counted({ method: 'GET', route: UNMATCHED_ROUTE, status: '200' })).toBe(1);
    expect(find(telemeter.scrape(), REQUESTS).reduce((sum, s) => sum + s.value, 0)).toBe(5);
  });

  it('takes the route from a function of the Request, and a throwing one gives <unmatched>', async () => {
    const handler = instrumentFetchHandler(() => new Response('ok'), {
      route: (request) => {
        if (request.headers.get('x-route') === 'throw') throw new Error('no route');
        return request.headers.get('x-route') ?? undefined;
      },
    });
    await handler(new Request('http://x/a', { headers: { 'x-route': '/a/:x' } }));
    await handler(new Request('http://x/b', { headers: { 'x-route': 'throw' } }));
    await handler(new Request('http://x/c'));
    expect(counted({ route: '/a/:x' })).toBe(1);
    expect(counted({ route: UNMATCHED_ROUTE })).toBe(2);
  });

  it('counts a thrown error as 500 with outcome error, emits the exception event, and throws it on', async () => {
    const recorded = recordEvents(['http.server.request.exception', 'http.server.request.stop']);
    try {
      const failure = new Error('boom');
      const handler = instrumentFetchHandler(
        async () => {
          throw failure;
        },
        { route: ROUTES },
      );
      const syncHandler = instrumentFetchHandler(
        () => {
          throw failure;
        },
        { route: ROUTES },
      );
      await expect(handler(new Request('http://x/boom'))).rejects.toBe(failure);
      expect(() => syncHandler(new Request('http://x/boom'))).toThrow(failure);
      expect(counted({ route: '/boom', status: '500' })).toBe(2);
      const exceptions = recorded.events.filter((e) => e.name.endsWith('.exception'));
      expect(exceptions.map((e) => [e.metadata.route, e.metadata.reason, e.metadata.kind])).toEqual([
        ['/boom', failure, 'error'],
        ['/boom', failure, 'error'],
      ]);
      const stops = recorded.events.filter((e) => e.name.endsWith('.stop'));
      expect(stops.map((e) => e.metadata.outcome)).toEqual(['error', 'error']);
    } finally {
      recorded.stop();
    }
  });

  it('counts a request whose signal aborted before the answer under abortedStatus', async () => {
    const handler = instrumentFetchHandler(() => new Response('late'), {
      route: ROUTES,
      abortedStatus: '499',
    });
    const controller = new AbortController();
    controller.abort();
    await handler(new Request('http://x/users/1', { signal: controller.signal }));
    expect(counted({ route: '/users/:id', status: '499' })).toBe(1);
    expect(counted({ route: '/users/:id', status: '200' })).toBe(0);
  });

  it('reports the Request, the Response, their declared sizes and the protocol-free metadata on the stop event', async () => {
    const recorded = recordEvents(['http.server.request.stop']);
    try {
      const reply = new Response('hello', { status: 201, headers: { 'content-length': '5' } });
      const handler = instrumentFetchHandler(() => reply, { route: ROUTES });
      const request = new Request('http://x/users/9', {
        method: 'PUT',
        body: 'abc',
        headers: { 'content-length': '3' },
      });
      await handler(request);
      await handler(new Request('http://x/users/9', { method: 'HEAD' }));
      const [put, head] = recorded.events;
      expect(put.metadata).toMatchObject({
        method: 'PUT',
        route: '/users/:id',
        status: '201',
        outcome: 'completed',
      });
      expect(put.metadata.request).toBe(request);
      expect(put.metadata.response).toBe(reply);
      expect(put.measurements.response_size).toBe(5);
      expect(put.measurements.request_size).toBe(3);
      expect(put.measurements.duration).toBeGreaterThanOrEqual(0);
      expect(head.measurements.response_size).toBe(0);
    } finally {
      recorded.stop();
    }
    expect(
      sampleValue(telemeter.scrape(), 'http_server_response_size_bytes_sum', {
        method: 'PUT',
        status: '201',
      }),
    ).toBe(5);
  });

  it('ignores listed paths and predicate matches entirely', async () => {
    const recorded = recordEvents(['http.server.request.start', 'http.server.request.stop']);
    try {
      const byPath = instrumentFetchHandler(() => new Response('ok'), { ignore: ['/healthz'] });
      const byPredicate = instrumentFetchHandler(() => new Response('ok'), {
        ignore: (request) => request.headers.has('x-probe'),
      });
      await byPath(new Request('http://x/healthz?full=1'));
      await byPredicate(new Request('http://x/a', { headers: { 'x-probe': '1' } }));
      expect(recorded.events).toHaveLength(0);
      await byPath(new Request('http://x/other'));
      expect(recorded.events).toHaveLength(2);
    } finally {
      recorded.stop();
    }
  });

  it('passes this and every argument on, and answers synchronously when the handler does', async () => {
    const seen: unknown[] = [];
    const worker = {
      name: 'worker',
      fetch: instrumentFetchHandler(function (
        this: { name: string },
        _request: Request,
        env: unknown,
        ctx: unknown,
      ) {
        seen.push(this.name, env, ctx);
        return new Response('ok');
      }),
    };
    const result = worker.fetch(new Request('http://x/'), { KV: 1 }, 'ctx');
    expect(result).toBeInstanceOf(Response);
    expect(seen).toEqual(['worker', { KV: 1 }, 'ctx']);
  });

  it('counts a handler that returns no Response (a Bun WebSocket upgrade) as 101', async () => {
    const handler = instrumentFetchHandler(() => undefined, { route: ['/ws'] });
    await handler(new Request('http://x/ws'));
    expect(counted({ route: '/ws', status: '101' })).toBe(1);
  });

  it('refuses what is not a handler, and options it does not read, naming them', () => {
    expect(() => instrumentFetchHandler(undefined as never)).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_INVALID_ARGUMENT' }),
    );
    expect(() => instrumentFetchHandler(() => new Response(), { timeoutStatus: '504' } as never)).toThrow(
      /instrumentFetchHandler.*timeoutStatus/,
    );
    expect(() => instrumentFetchHandler(() => new Response(), { route: ['users/:id'] })).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_INVALID_OPTION' }),
    );
  });
});

describe('instrumentBunRoutes', () => {
  it("labels each route's handlers by its key, per method, and leaves static answers alone", async () => {
    const home = new Response('home');
    const routes = instrumentBunRoutes({
      '/': home,
      '/users/:id': (request: Request) => Response.json({ url: request.url }),
      '/orders/*': {
        GET: () => new Response('list'),
        POST: async () => new Response('made', { status: 201 }),
      },
    });
    expect(routes['/']).toBe(home);
    expect(Object.keys(routes['/orders/*'])).toEqual(['GET', 'POST']);
    await routes['/users/:id'](new Request('http://x/users/3'));
    const body = telemeter.scrape();
    expect(sampleValue(body, REQUESTS, { method: 'GET', route: '/users/:id', status: '200' })).toBe(1);
    expect(find(body, REQUESTS)).toHaveLength(1);
  });

  it('gives each method handler the Request it was called with', async () => {
    const routes = instrumentBunRoutes({
      '/orders/*': {
        GET: (_request: Request) => new Response('list'),
        POST: async (_request: Request) => new Response('made', { status: 201 }),
      },
    });
    await routes['/orders/*'].GET(new Request('http://x/orders/1'));
    await routes['/orders/*'].POST(new Request('http://x/orders/1', { method: 'POST', body: '{}' }));
    expect(counted({ method: 'GET', route: '/orders/*', status: '200' })).toBe(1);
    expect(counted({ method: 'POST', route: '/orders/*', status: '201' })).toBe(1);
  });

  it('refuses the route option, which the keys replace', () => {
    expect(() => instrumentBunRoutes({}, { route: ['/a'] } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_UNKNOWN_OPTION' }),
    );
    expect(() => instrumentBunRoutes(null as never)).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_INVALID_ARGUMENT' }),
    );
  });
});

describe('instrumentFetchHandler behind a real server (@hono/node-server calls a fetch handler)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server !== undefined) await close(server);
    server = undefined;
  });

  it('labels every request with the route its handler declared, aborted ones included', async () => {
    const served = new ServedRoutes();
    const handler = instrumentFetchHandler(
      async (request) => {
        const path = new URL(request.url).pathname;
        if (path.startsWith('/users/')) {
          served.mark(request.headers, '/users/:id');
          return new Response('user', { status: path === '/users/0' ? 404 : 200 });
        }
        if (path === '/boom') {
          served.mark(request.headers, '/boom');
          throw new Error('boom');
        }
        if (path === '/slow') {
          served.mark(request.headers, '/slow');
          await new Promise((resolve) => {
            const timer = setTimeout(resolve, 2_000);
            request.signal.addEventListener('abort', () => {
              clearTimeout(timer);
              resolve(undefined);
            });
          });
          return new Response('slow');
        }
        return new Response('Not Found', { status: 404 });
      },
      { route: ROUTES },
    );
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: handler, port: 0, hostname: '127.0.0.1' }, (info) =>
        resolve(info.port),
      ) as Server;
    });
    const cases: RouteCase[] = [
      { path: '/users/1', status: 200 },
      { path: '/users/0', status: 404 },
      { method: 'POST', path: '/users/2', status: 200 },
      { path: '/boom', status: 500 },
      { path: '/no/such/page', status: 404 },
      { path: '/slow', mode: 'abort-before', abortAfterMs: 100, status: 499 },
    ];
    await expectRoutesMatchRouter(telemeter, port, served, cases);
  });
});
