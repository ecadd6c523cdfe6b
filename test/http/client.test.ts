import { createServer, get as httpGet } from 'node:http';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpClientMetrics, instrumentHttpClient, OTHER_HOST } from '../../src/http/index.js';
import { Telemeter } from '../../src/index.js';
import { checkMetrics } from '../support/promtool.js';
import { freePort, requirePromtool } from '../support/tools.js';
import { close, find, listen, recordEvents, sampleValue, sumOf } from './helpers.js';

const REQUESTS = 'http_client_requests_total';
const hasPromtool = requirePromtool();

/** Called when a request for /slow arrives: the server holds it open until the client goes away. */
let onSlowRequest: () => void = () => {};
const server = createServer((req, res) => {
  if (req.url === '/missing') res.statusCode = 404;
  if (req.url === '/slow') {
    onSlowRequest();
    return;
  }
  res.end('ok');
});
let port: number;
let host: string;
let telemeter: Telemeter;
const uninstalls: Array<() => void> = [];

beforeEach(async () => {
  if (!server.listening) port = await listen(server);
  host = `127.0.0.1:${port}`;
  telemeter = new Telemeter({ metrics: httpClientMetrics() });
});
afterEach(async () => {
  for (const uninstall of uninstalls.splice(0)) uninstall();
  telemeter.close();
});
afterAll(() => close(server));

function install(options?: Parameters<typeof instrumentHttpClient>[0]) {
  const uninstall = instrumentHttpClient(options);
  uninstalls.push(uninstall);
  return uninstall;
}

function nodeGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

describe('instrumentHttpClient', () => {
  it('counts fetch requests by method, host and status', async () => {
    install();
    for (const path of ['/a', '/b', '/missing']) await (await fetch(`http://${host}${path}`)).text();
    await (await fetch(`http://${host}/c`, { method: 'POST', body: 'x' })).text();

    const body = telemeter.scrape();
    expect(find(body, REQUESTS).map((s) => [s.labels, s.value])).toEqual([
      [{ method: 'GET', host, status: '200' }, 2],
      [{ method: 'GET', host, status: '404' }, 1],
      [{ method: 'POST', host, status: '200' }, 1],
    ]);
    expect(
      sampleValue(body, 'http_client_request_duration_seconds_count', { method: 'GET', status: '200' }),
    ).toBe(2);
  });

  it('counts connection failures and aborts under their outcome', async () => {
    install();
    const closedPort = await freePort();
    await expect(fetch(`http://127.0.0.1:${closedPort}/`)).rejects.toThrow();
    const controller = new AbortController();
    // Aborted once the server has the request, so the request surely started.
    onSlowRequest = () => controller.abort();
    const pending = fetch(`http://${host}/slow`, { signal: controller.signal });
    await expect(pending).rejects.toThrow(/abort/i);

    const body = telemeter.scrape();
    expect(sampleValue(body, REQUESTS, { host: `127.0.0.1:${closedPort}`, status: 'error' })).toBe(1);
    expect(sampleValue(body, REQUESTS, { host, status: 'aborted' })).toBe(1);
  });

  it('emits one stop event per request, with the error and the outcome', async () => {
    install();
    const recorder = recordEvents(['http.client.request.start', 'http.client.request.stop']);
    try {
      await (await fetch(`http://${host}/a`)).text();
      const closedPort = await freePort();
      await fetch(`http://127.0.0.1:${closedPort}/`).catch(() => {});
      expect(
        recorder.events.map((e) => [e.name.split('.').pop(), e.metadata.status, e.metadata.outcome]),
      ).toEqual([
        ['start', undefined, undefined],
        ['stop', '200', 'completed'],
        ['start', undefined, undefined],
        ['stop', 'error', 'error'],
      ]);
      expect((recorder.events[3].metadata.error as { code?: string }).code).toBe('ECONNREFUSED');
      expect(recorder.events[1].measurements.duration).toBeGreaterThan(0);
    } finally {
      recorder.stop();
    }
  });

  it('counts node:http client requests too', async () => {
    install();
    expect(await nodeGet(`http://${host}/a`)).toBe(200);
    expect(await nodeGet(`http://${host}/missing`)).toBe(404);
    const body = telemeter.scrape();
    expect(sampleValue(body, REQUESTS, { method: 'GET', host, status: '200' })).toBe(1);
    expect(sampleValue(body, REQUESTS, { method: 'GET', host, status: '404' })).toBe(1);
  });

  it('bounds host labels with maxHosts, then <other>', async () => {
    install({ maxHosts: 1 });
    await (await fetch(`http://${host}/a`)).text();
    await (await fetch(`http://localhost:${port}/a`)).text();
    await (await fetch(`http://${host}/b`)).text();
    const body = telemeter.scrape();
    expect(find(body, REQUESTS).map((s) => [s.labels.host, s.value])).toEqual([
      [host, 2],
      [OTHER_HOST, 1],
    ]);
  });

  it('bounds host labels with an allowlist', async () => {
    install({ hosts: [`localhost:${port}`] });
    await (await fetch(`http://${host}/a`)).text();
    await (await fetch(`http://localhost:${port}/a`)).text();
    const body = telemeter.scrape();
    expect(find(body, REQUESTS).map((s) => [s.labels.host, s.value])).toEqual([
      [OTHER_HOST, 1],
      [`localhost:${port}`, 1],
    ]);
  });

  it('stops counting once uninstalled', async () => {
    const uninstall = install();
    await (await fetch(`http://${host}/a`)).text();
    uninstall();
    uninstall();
    await (await fetch(`http://${host}/a`)).text();
    expect(sumOf(telemeter.scrape(), REQUESTS)).toBe(1);
  });

  it.skipIf(!hasPromtool)('passes promtool check metrics', async () => {
    install();
    await (await fetch(`http://${host}/a`)).text();
    const result = await checkMetrics(telemeter.scrape());
    expect({ code: result.code, lint: result.lint }).toEqual({ code: 0, lint: [] });
  });
});
