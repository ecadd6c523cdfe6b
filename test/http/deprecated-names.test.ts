import { createServer } from 'node:http';
import { serve } from '@hono/node-server';
import Router from '@koa/router';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import Koa from 'koa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  expressMetrics,
  fastifyMetrics,
  honoMetrics,
  httpMetrics,
  koaMetrics,
} from '../../src/http/index.js';
import { Telemeter } from '../../src/index.js';
import { close, listen, sampleValue, send } from './helpers.js';

// The adapter names of 0.1 still work for one minor version, and say once that they are deprecated.
const warnings: Error[] = [];
const onWarning = (warning: Error) => {
  if (warning.name === 'DeprecationWarning') warnings.push(warning);
};
let telemeter: Telemeter;
beforeEach(() => {
  process.on('warning', onWarning);
  telemeter = new Telemeter({ metrics: httpMetrics() });
});
afterEach(() => {
  process.off('warning', onWarning);
  telemeter.close();
});

/** Warnings are emitted on the next tick. */
async function warningsNow(): Promise<Array<{ code: unknown; message: string }>> {
  await new Promise((resolve) => setImmediate(resolve));
  return warnings.splice(0).map((w) => ({ code: (w as { code?: unknown }).code, message: w.message }));
}

describe('deprecated adapter names', () => {
  it('expressMetrics measures like expressMiddleware, and warns once with TELEMETER_DEP0001', async () => {
    const app = express();
    app.use(expressMetrics());
    app.use(expressMetrics()); // a second call: no second warning, and no double counting
    app.get('/users/:id', (_req, res) => res.send('ok'));
    const server = createServer(app);
    const port = await listen(server);
    try {
      await send(port, '/users/1');
    } finally {
      await close(server);
    }
    expect(sampleValue(telemeter.scrape(), 'http_server_requests_total', { route: '/users/:id' })).toBe(1);
    expect(await warningsNow()).toEqual([
      {
        code: 'TELEMETER_DEP0001',
        message:
          'telemeter: expressMetrics() is deprecated and will be removed in telemeter 0.3; use expressMiddleware()',
      },
    ]);
  });

  it('koaMetrics measures like koaMiddleware, and warns once with TELEMETER_DEP0002', async () => {
    const app = new Koa();
    app.use(koaMetrics());
    app.use(
      new Router()
        .get('/users/:id', (ctx) => {
          ctx.body = 'ok';
        })
        .routes(),
    );
    const server = app.listen(0, '127.0.0.1');
    const port = await listen(server);
    try {
      await send(port, '/users/1');
    } finally {
      await close(server);
    }
    koaMetrics();
    expect(sampleValue(telemeter.scrape(), 'http_server_requests_total', { route: '/users/:id' })).toBe(1);
    expect((await warningsNow()).map((w) => w.code)).toEqual(['TELEMETER_DEP0002']);
  });

  it('honoMetrics measures like honoMiddleware, and warns once with TELEMETER_DEP0003', async () => {
    const app = new Hono();
    app.use(honoMetrics());
    app.get('/users/:id', (c) => c.text('ok'));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    const port = await listen(server as ReturnType<typeof createServer>);
    try {
      await send(port, '/users/1');
    } finally {
      await close(server as ReturnType<typeof createServer>);
    }
    honoMetrics();
    expect(sampleValue(telemeter.scrape(), 'http_server_requests_total', { route: '/users/:id' })).toBe(1);
    expect((await warningsNow()).map((w) => w.code)).toEqual(['TELEMETER_DEP0003']);
  });

  it('fastifyMetrics registers like fastifyPlugin, on the whole instance, and warns once with TELEMETER_DEP0004', async () => {
    const app = Fastify();
    await app.register(fastifyMetrics);
    await app.register(async (child) => {
      child.get('/users/:id', async () => 'ok');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await send((app.server.address() as { port: number }).port, '/users/1');
    } finally {
      await app.close();
    }
    expect(sampleValue(telemeter.scrape(), 'http_server_requests_total', { route: '/users/:id' })).toBe(1);
    expect((await warningsNow()).map((w) => w.code)).toEqual(['TELEMETER_DEP0004']);
  });
});
