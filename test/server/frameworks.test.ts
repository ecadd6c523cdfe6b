/**
 * metricsHandler mounted in real applications on loopback: node:http, Express 5, Fastify 5 and Hono
 * (@hono/node-server). Each app keeps its own routes; the handler answers its path with auth,
 * negotiation and gzip exactly as serveMetrics does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HttpBindings, serve } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { execute } from '../../src/index.js';
import { metricsHandler } from '../../src/server/index.js';
import { send } from './http-client.js';
import { ControlledTelemeter } from './telemeters.js';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const auth = { bearer: 'framework-token' };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function telemeter(): ControlledTelemeter {
  const t = new ControlledTelemeter();
  cleanups.push(() => t.close());
  execute('shop.order.stop', { duration: 1 }, { status: 'paid' });
  return t;
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The checks every app must pass: its own route, 401 without the token, a gzipped OpenMetrics scrape with it. */
async function expectMounted(base: string, t: ControlledTelemeter): Promise<void> {
  const own = await send(`${base}/hello`);
  expect(own.status).toBe(200);
  expect(own.text).toBe('hello');
  const denied = await send(`${base}/metrics`);
  expect(denied.status).toBe(401);
  expect(denied.headers['www-authenticate']).toBe('Bearer realm="metrics"');
  const expected = t.scrape({ format: 'openmetrics' });
  const reply = await send(`${base}/metrics`, {
    headers: {
      authorization: 'Bearer framework-token',
      accept: PROMETHEUS_ACCEPT,
      'accept-encoding': 'gzip',
    },
  });
  expect(reply.status).toBe(200);
  expect(reply.headers['content-type']).toBe(OPENMETRICS);
  expect(reply.headers['content-encoding']).toBe('gzip');
  expect(reply.text).toBe(expected);
  expect(reply.text).toContain('shop_order_count_total{status="paid"} 1');
  expect(reply.text).toContain('telemeter_scrapes_total{status="401"} 1');
}

describe('metricsHandler', () => {
  it('node:http', async () => {
    const t = telemeter();
    const handler = metricsHandler(t, { auth });
    const server = createServer((req, res) => {
      if (req.url === '/metrics' || req.url?.startsWith('/metrics?')) return handler(req, res);
      res.end('hello');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => closeServer(server));
    await expectMounted(`http://127.0.0.1:${portOf(server)}`, t);
  });

  it('Express 5', async () => {
    const t = telemeter();
    const app = express();
    app.get('/metrics', metricsHandler(t, { auth }));
    app.get('/hello', (_req, res) => {
      res.send('hello');
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    cleanups.push(() => closeServer(server));
    await expectMounted(`http://127.0.0.1:${portOf(server)}`, t);
  });

  it('Fastify 5', async () => {
    const t = telemeter();
    const handler = metricsHandler(t, { auth });
    const app = Fastify();
    app.get('/metrics', (req, reply) => {
      reply.hijack();
      handler(req.raw, reply.raw);
    });
    app.get('/hello', async () => 'hello');
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    await expectMounted(`http://127.0.0.1:${portOf(app.server)}`, t);
  });

  it('Hono on @hono/node-server', async () => {
    const t = telemeter();
    const handler = metricsHandler(t, { auth });
    const app = new Hono<{ Bindings: HttpBindings }>();
    app.get('/metrics', (c) => {
      handler(c.env.incoming, c.env.outgoing);
      return RESPONSE_ALREADY_SENT;
    });
    app.get('/hello', (c) => c.text('hello'));
    const server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
    });
    cleanups.push(() => closeServer(server));
    await expectMounted(`http://127.0.0.1:${portOf(server)}`, t);
  });

  it('validates its options at creation, naming the option', () => {
    const t = telemeter();
    expect(() => metricsHandler(t, { auth: { bearer: '' } })).toThrow(/option auth.bearer/);
    expect(() => metricsHandler(t, { port: 9091 } as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_UNKNOWN_OPTION',
        message: expect.stringMatching(/metricsHandler: option port is unknown/),
      }),
    );
    expect(() => metricsHandler(t, { maxInFlite: 3 } as never)).toThrow(/did you mean maxInFlight\?/);
    expect(() => metricsHandler(t, null as never)).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_INVALID_OPTION' }),
    );
    expect(() => metricsHandler({} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_INVALID_ARGUMENT' }),
    );
    expect(() => metricsHandler(t, { allow: ['::1/200'] })).toThrow(/option allow\[0\]/);
  });
});
