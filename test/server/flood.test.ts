import { describe, expect, it } from 'vitest';
import { counter, distribution, execute, sum, Telemeter } from '../../src/index.js';
import { serveMetrics } from '../../src/server/index.js';
import { samples } from '../support/samples.js';
import { send } from './http-client.js';

const EVENTS = 300_000;
const BATCH = 3_000;
const ROUTES = ['/a', '/b', '/c', '/d'];

describe('under load nothing is lost', () => {
  it('counts every flooded event exactly while a client scrapes continuously, and no counter goes down', async () => {
    const telemeter = new Telemeter({
      metrics: [
        counter('flood.request.count', {
          eventName: 'flood.request.stop',
          measurement: 'duration',
          tags: ['route', 'status'],
        }),
        distribution('flood.request.stop.duration', {
          tags: ['route'],
          reporterOptions: { buckets: [10, 100, 1000] },
        }),
        sum('flood.request.stop.bytes', { tags: ['route'] }),
      ],
    });
    const server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1' });
    const expected = new Map<string, number>();
    let sent = 0;
    let flooding = true;

    const flood = (async () => {
      while (sent < EVENTS) {
        for (let i = 0; i < BATCH; i++, sent++) {
          const route = ROUTES[sent % ROUTES.length];
          const status = sent % 10 === 0 ? 500 : 200;
          execute('flood.request.stop', { duration: sent % 2000, bytes: 2 }, { route, status });
          const key = `route="${route}",status="${status}"`;
          expected.set(key, (expected.get(key) ?? 0) + 1);
        }
        // Let the scraping client and the server run between batches, as a busy app would.
        await new Promise((resolve) => setImmediate(resolve));
      }
      flooding = false;
    })();

    const previous = new Map<string, number>();
    let scrapes = 0;
    let decreases = 0;
    const scrapeLoop = (async () => {
      const deadline = Date.now() + 60_000;
      while (flooding && Date.now() < deadline) {
        const reply = await send(`${server.url}`, { headers: { 'accept-encoding': 'gzip' } });
        expect(reply.status).toBe(200);
        scrapes++;
        for (const [series, value] of samples(reply.text)) {
          if (!/_count|_total|_bytes|_bucket/.test(series)) continue;
          if (value < (previous.get(series) ?? 0)) decreases++;
          previous.set(series, value);
        }
      }
    })();

    await Promise.all([flood, scrapeLoop]);
    const final = samples((await send(server.url)).text);
    await server.close();
    telemeter.close();

    expect(scrapes).toBeGreaterThan(3);
    expect(decreases).toBe(0);
    let total = 0;
    for (const [key, n] of expected) {
      expect(final.get(`flood_request_count_total{${key}}`)).toBe(n);
      total += n;
    }
    expect(total).toBe(EVENTS);
    const perRoute = EVENTS / ROUTES.length;
    for (const route of ROUTES) {
      expect(final.get(`flood_request_stop_duration_count{route="${route}"}`)).toBe(perRoute);
      expect(final.get(`flood_request_stop_duration_bucket{route="${route}",le="+Inf"}`)).toBe(perRoute);
      expect(final.get(`flood_request_stop_bytes_total{route="${route}"}`)).toBe(2 * perRoute);
    }
  });
});
