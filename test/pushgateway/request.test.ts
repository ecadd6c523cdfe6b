/**
 * What pushToGateway and deleteFromGateway put on the wire, and how they take answers that a Pushgateway does not
 * give (a redirect, a huge error page, none at all), judged by a loopback HTTP server that records each request.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { counter, distribution, execute, Telemeter } from '../../src/index.js';
import { deleteFromGateway, PushgatewayError, pushToGateway } from '../../src/pushgateway/index.js';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

let server: Server | undefined;
afterEach(async () => {
  if (server === undefined) return;
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
  server = undefined;
});

/** A server on a free loopback port that records every request and answers with `answer`. */
async function standIn(
  answer: (request: Recorded, response: ServerResponse) => void = (_r, response) => response.end(),
): Promise<{ url: string; requests: Recorded[] }> {
  const requests: Recorded[] = [];
  server = createServer(async (request, response) => {
    const parts: Buffer[] = [];
    for await (const part of request) parts.push(part as Buffer);
    const recorded = {
      method: request.method ?? '',
      url: request.url ?? '',
      headers: request.headers,
      body: Buffer.concat(parts),
    };
    requests.push(recorded);
    answer(recorded, response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const telemeter = new Telemeter({
  metrics: [
    counter('wire.rows', { eventName: 'wire.row', measurement: 'n', tags: ['table'] }),
    distribution('wire.row.n', { reporterOptions: { buckets: [1, 10] } }),
  ],
});
afterAll(() => telemeter.close());
execute('wire.row', { n: 3 }, { table: 'orders' });

describe('the request', () => {
  it('PUTs the text exposition of a scrape to the group path, labelled as text 0.0.4', async () => {
    const gateway = await standIn();
    await pushToGateway(telemeter, { url: `${gateway.url}/`, job: 'nightly', grouping: { shard: 3 } });
    const [request] = gateway.requests;
    expect(request.method).toBe('PUT');
    expect(request.url).toBe('/metrics/job/nightly/shard/3');
    expect(request.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(request.headers['content-encoding']).toBeUndefined();
    expect(request.body.toString('utf8')).toBe(telemeter.scrape());
    expect(request.body.toString('utf8')).toContain('wire_rows_total{table="orders"} 1\n');
  });

  it('POSTs with method post, gzips with gzip, and keeps a path prefix of the url', async () => {
    const gateway = await standIn();
    await pushToGateway(telemeter, {
      url: `${gateway.url}/gateway`,
      job: 'nightly',
      method: 'post',
      gzip: true,
    });
    const [request] = gateway.requests;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/gateway/metrics/job/nightly');
    expect(request.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(request.body).toString('utf8')).toBe(telemeter.scrape());
  });

  it('sends the credentials of the url as basic auth, and the headers option as given', async () => {
    const gateway = await standIn();
    const withUser = gateway.url.replace('http://', 'http://batch:p%40ss%3Aword@');
    await pushToGateway(telemeter, { url: withUser, job: 'nightly', headers: { 'X-Scope-OrgID': 'shop' } });
    const [request] = gateway.requests;
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from('batch:p@ss:word').toString('base64')}`);
    expect(request.headers['x-scope-orgid']).toBe('shop');
  });

  it('DELETEs the group with no body', async () => {
    const gateway = await standIn((_r, response) => {
      response.statusCode = 202;
      response.end();
    });
    await deleteFromGateway({
      url: gateway.url,
      job: 'nightly',
      grouping: { path: '/var/tmp', first: '' },
      headers: { authorization: 'Bearer t' },
    });
    const [request] = gateway.requests;
    expect(request.method).toBe('DELETE');
    expect(request.url).toBe('/metrics/job/nightly/path@base64/L3Zhci90bXA/first@base64/=');
    expect(request.body.length).toBe(0);
    expect(request.headers['content-type']).toBeUndefined();
    expect(request.headers.authorization).toBe('Bearer t');
  });

  it("brings a source's values up to date with its collect() before rendering", async () => {
    const gateway = await standIn();
    let value = 0;
    const source = {
      async collect() {
        value = 5;
      },
      *render() {
        yield `# TYPE merged gauge\nmerged ${value}\n`;
      },
    };
    await pushToGateway(source, { url: gateway.url, job: 'cluster' });
    expect(gateway.requests[0].body.toString()).toBe('# TYPE merged gauge\nmerged 5\n');
  });
});

describe('answers other than 2xx', () => {
  async function failure(promise: Promise<void>): Promise<PushgatewayError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PushgatewayError);
    return error as PushgatewayError;
  }

  it('keeps the first kilobyte of a long answer', async () => {
    const gateway = await standIn((_r, response) => {
      response.statusCode = 502;
      response.end(`upstream says no. ${'x'.repeat(100_000)}`);
    });
    const error = await failure(pushToGateway(telemeter, { url: gateway.url, job: 'nightly' }));
    expect(error.status).toBe(502);
    expect(error.body).toBe(`upstream says no. ${'x'.repeat(1024 - 18)}…`);
    expect(error.message).toBe(
      `telemeter/pushgateway: PUT ${gateway.url}/metrics/job/nightly answered 502 Bad Gateway: ${error.body}`,
    );
  });

  it('does not follow a redirect, which would replay the push elsewhere', async () => {
    const gateway = await standIn((_r, response) => {
      response.writeHead(301, { location: '/elsewhere' });
      response.end();
    });
    const error = await failure(pushToGateway(telemeter, { url: gateway.url, job: 'nightly' }));
    expect(error.status).toBe(301);
    expect(error.message).toContain('answered 301 Moved Permanently: redirect to /elsewhere');
    expect(gateway.requests.map((r) => r.url)).toEqual(['/metrics/job/nightly']);
  });

  it('gives up after the timeout when no answer comes, naming the option', async () => {
    const gateway = await standIn(() => {});
    const error = await failure(pushToGateway(telemeter, { url: gateway.url, job: 'nightly', timeout: 200 }));
    expect(error.code).toBe('ERR_TELEMETER_PUSH_FAILED');
    expect(error.status).toBeUndefined();
    expect(error.message).toBe(
      `telemeter/pushgateway: PUT ${gateway.url}/metrics/job/nightly got no complete answer within 200 ms (option timeout)`,
    );
    expect(gateway.requests).toHaveLength(1);
  });

  it('never shows the credentials of the url', async () => {
    const gateway = await standIn((_r, response) => {
      response.statusCode = 401;
      response.end('Unauthorized');
    });
    const withUser = gateway.url.replace('http://', 'http://batch:secret@');
    const error = await failure(pushToGateway(telemeter, { url: withUser, job: 'nightly' }));
    expect(error.url).toBe(`${gateway.url}/metrics/job/nightly`);
    expect(error.message).not.toContain('secret');
    expect(error.message).toContain('answered 401 Unauthorized: Unauthorized');
  });
});
