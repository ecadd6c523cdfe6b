/**
 * The same small application in node:http, Express 5, Fastify 5, Hono (on @hono/node-server) and Koa 3 with
 * @koa/router, each instrumented by its telemeter/http adapter. Routes:
 *
 *   GET /users/:id   200      POST /users  201      GET /api/items/:id  200 (a nested router / prefix)
 *   GET /boom        throws   GET /slow    sends headers and one chunk, then never ends
 *   GET /healthz     200, ignored by the instrumentation
 */
import { createServer, type Server } from 'node:http';
import { Readable } from 'node:stream';
import { serve } from '@hono/node-server';
import Router from '@koa/router';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import {
  expressMiddleware,
  fastifyPlugin,
  honoMiddleware,
  instrumentHttpServer,
  koaMiddleware,
  type ServerInstrumentationOptions,
  trackerOf,
} from '../../src/http/index.js';
import { close, listen } from './helpers.js';

export interface RunningApp {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

export type AppFactory = (options?: ServerInstrumentationOptions) => Promise<RunningApp>;

/** The route templates of the application, as each framework spells them. */
export const APP_ROUTES = ['/users/:id', '/users', '/api/items/:id', '/boom', '/slow', '/healthz'];

const IGNORE = ['/healthz'];

function neverEndingStream(): Readable {
  const stream = new Readable({ read() {} });
  stream.push('a');
  return stream;
}

async function running(server: Server, extraClose?: () => Promise<void>): Promise<RunningApp> {
  const port = server.listening ? (server.address() as { port: number }).port : await listen(server);
  return {
    server,
    port,
    close: async () => {
      await extraClose?.();
      if (server.listening) await close(server);
    },
  };
}

export const nodeHttpApp: AppFactory = async (options) => {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && /^\/(users|api\/items)\/[^/]+$/.test(path)) {
      res.setHeader('content-length', 4);
      res.end('item');
    } else if (req.method === 'POST' && path === '/users') {
      res.statusCode = 201;
      res.end('created');
    } else if (path === '/boom') {
      try {
        throw new Error('boom');
      } catch (error) {
        // Plain node:http has no framework to catch errors, so the application reports them itself.
        trackerOf(res)?.fail(error);
        res.statusCode = 500;
        res.end('error');
      }
    } else if (path === '/slow') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('a');
    } else if (path === '/healthz') {
      res.end('ok');
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  instrumentHttpServer(server, { ignore: IGNORE, route: APP_ROUTES, ...options });
  return running(server);
};

export const expressApp: AppFactory = async (options) => {
  const app = express();
  app.set('env', 'test');
  const metrics = expressMiddleware({ ignore: IGNORE, ...options });
  app.use(metrics);
  app.get('/users/:id', (_req, res) => {
    res.send('user');
  });
  app.post('/users', (_req, res) => {
    res.status(201).send('created');
  });
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.get('/slow', (_req, res) => {
    res.write('a');
  });
  app.get('/healthz', (_req, res) => {
    res.send('ok');
  });
  const api = express.Router();
  api.get('/items/:id', (_req, res) => {
    res.send('item');
  });
  app.use('/api', api);
  app.use(metrics.errorHandler);
  return running(createServer(app));
};

export const fastifyApp: AppFactory = async (options) => {
  const app = Fastify({ logger: false });
  await app.register(fastifyPlugin, { ignore: IGNORE, ...options });
  app.get('/users/:id', async () => 'user');
  app.post('/users', async (_request, reply) => reply.code(201).send('created'));
  app.get('/boom', async () => {
    throw new Error('boom');
  });
  app.get('/slow', (_request, reply) => {
    reply.send(neverEndingStream());
  });
  app.get('/healthz', async () => 'ok');
  await app.register(
    async (api) => {
      api.get('/items/:id', async () => 'item');
    },
    { prefix: '/api' },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  return running(app.server, async () => {
    app.server.closeAllConnections();
    await app.close();
  });
};

export const honoApp: AppFactory = async (options) => {
  const app = new Hono();
  app.use(honoMiddleware({ ignore: IGNORE, ...options }));
  app.get('/users/:id', (c) => c.text('user'));
  app.post('/users', (c) => c.text('created', 201));
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.get(
    '/slow',
    (c) =>
      c.body(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('a'));
          },
        }),
      ) as Response,
  );
  app.get('/healthz', (c) => c.text('ok'));
  const api = new Hono();
  api.get('/items/:id', (c) => c.text('item'));
  app.route('/api', api);
  app.onError((_error, c) => c.text('error', 500));
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  return running(server);
};

export const koaApp: AppFactory = async (options) => {
  const app = new Koa();
  app.silent = true;
  app.use(koaMiddleware({ ignore: IGNORE, ...options }));
  const router = new Router();
  router.get('/users/:id', (ctx) => {
    ctx.body = 'user';
  });
  router.post('/users', (ctx) => {
    ctx.status = 201;
    ctx.body = 'created';
  });
  router.get('/boom', () => {
    throw new Error('boom');
  });
  router.get('/slow', (ctx) => {
    ctx.body = neverEndingStream();
  });
  router.get('/healthz', (ctx) => {
    ctx.body = 'ok';
  });
  const api = new Router({ prefix: '/api' });
  api.get('/items/:id', (ctx) => {
    ctx.body = 'item';
  });
  app.use(router.routes());
  app.use(api.routes());
  return running(createServer(app.callback()));
};

export const APPS: ReadonlyArray<readonly [string, AppFactory]> = [
  ['node:http', nodeHttpApp],
  ['express', expressApp],
  ['fastify', fastifyApp],
  ['hono', honoApp],
  ['koa', koaApp],
];
