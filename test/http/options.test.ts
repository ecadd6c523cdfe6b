import { createServer } from 'node:http';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import {
  expressMiddleware,
  fastifyPlugin,
  honoMiddleware,
  httpClientMetrics,
  httpMetrics,
  instrumentHttpClient,
  instrumentHttpServer,
  instrumentNodeHttp,
  koaMiddleware,
  normalizeMethod,
  OTHER_METHOD,
} from '../../src/http/index.js';
import { Telemeter } from '../../src/index.js';

describe('normalizeMethod', () => {
  it('keeps the nine standard methods and folds everything else into _OTHER', () => {
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']) {
      expect(normalizeMethod(m)).toBe(m);
    }
    expect(normalizeMethod('patch')).toBe('PATCH');
    expect(normalizeMethod('PROPFIND')).toBe(OTHER_METHOD);
    expect(normalizeMethod('X'.repeat(1000))).toBe(OTHER_METHOD);
    expect(normalizeMethod(undefined)).toBe(OTHER_METHOD);
  });
});

/** Expects `run` to throw a TelemeterTypeError with `code`, whose message matches `message`. */
function expectCode(run: () => unknown, code: string, message: RegExp): void {
  expect(run).toThrow(
    expect.objectContaining({ name: 'TypeError', code, message: expect.stringMatching(message) }),
  );
}

describe('option validation', () => {
  it('names the adapter and the option, with a stable code', () => {
    const invalid = 'ERR_TELEMETER_INVALID_OPTION';
    expectCode(
      () => expressMiddleware({ ignore: ['healthz'] }),
      invalid,
      /^telemeter\/http: expressMiddleware: option ignore\[0\] must be a path starting with "\/"/,
    );
    expectCode(() => koaMiddleware({ route: 'x' as never }), invalid, /koaMiddleware: option route must be/);
    expectCode(
      () => instrumentNodeHttp({ eventPrefix: 'a..b' }),
      invalid,
      /instrumentNodeHttp: option eventPrefix/,
    );
    expectCode(
      () => expressMiddleware({ abortedStatus: '' }),
      invalid,
      /option abortedStatus must be a non-empty/,
    );
    expectCode(() => expressMiddleware([] as never), invalid, /expressMiddleware: options must be an object/);
    expectCode(
      () => instrumentHttpClient({ maxHosts: -1 }),
      invalid,
      /instrumentHttpClient: option maxHosts/,
    );
    expectCode(() => instrumentHttpClient({ sources: ['curl'] as never }), invalid, /option sources/);
    expectCode(
      () => instrumentHttpClient(null as never),
      invalid,
      /instrumentHttpClient: options must be an object/,
    );
    expectCode(
      () => httpMetrics({ eventPrefix: '' }),
      invalid,
      /httpMetrics: option eventPrefix must be a dotted/,
    );
    expectCode(
      () => httpClientMetrics({ eventPrefix: 'a.' }),
      invalid,
      /httpClientMetrics: option eventPrefix/,
    );
    expectCode(
      () => honoMiddleware({ matchedRoutes: 'yes' as never }),
      invalid,
      /honoMiddleware: option matchedRoutes must be/,
    );
    expectCode(
      () => instrumentHttpServer({} as never),
      'ERR_TELEMETER_INVALID_ARGUMENT',
      /instrumentHttpServer: the first argument must be a node:http Server/,
    );
  });

  // One typo per function that takes options: the code, the key and the closest valid one.
  it.each([
    ['httpMetrics', () => httpMetrics({ durationBucket: [1] } as never), 'durationBucket', 'durationBuckets'],
    ['httpClientMetrics', () => httpClientMetrics({ maxSerie: 5 } as never), 'maxSerie', 'maxSeries'],
    [
      'instrumentHttpServer',
      () => instrumentHttpServer(createServer(), { ignores: ['/healthz'] } as never),
      'ignores',
      'ignore',
    ],
    [
      'instrumentNodeHttp',
      () => instrumentNodeHttp({ abortStatus: '499' } as never),
      'abortStatus',
      'abortedStatus',
    ],
    ['expressMiddleware', () => expressMiddleware({ rout: [] } as never), 'rout', 'route'],
    [
      'koaMiddleware',
      () => koaMiddleware({ timeoutstatus: '504' } as never),
      'timeoutstatus',
      'timeoutStatus',
    ],
    [
      'honoMiddleware',
      () => honoMiddleware({ matchedRoute: () => [] } as never),
      'matchedRoute',
      'matchedRoutes',
    ],
    ['instrumentHttpClient', () => instrumentHttpClient({ maxHost: 3 } as never), 'maxHost', 'maxHosts'],
  ])('%s rejects a misspelt option and names the closest valid one', (name, run, typo, closest) => {
    expectCode(
      run,
      'ERR_TELEMETER_UNKNOWN_OPTION',
      new RegExp(`^telemeter/http: ${name}: option ${typo} is unknown \\(did you mean ${closest}\\?`),
    );
  });

  it("fastifyPlugin rejects a misspelt option through register, and accepts Fastify's own keys", async () => {
    const app = Fastify();
    app.register(fastifyPlugin, { eventprefix: 'api.http' } as never);
    await expect(app.ready()).rejects.toMatchObject({
      code: 'ERR_TELEMETER_UNKNOWN_OPTION',
      message: expect.stringMatching(
        /^telemeter\/http: fastifyPlugin: option eventprefix is unknown \(did you mean eventPrefix\?/,
      ),
    });
    const ok = Fastify();
    ok.register(fastifyPlugin, { prefix: '/v1', ignore: ['/healthz'] });
    await ok.ready();
    await ok.close();
  });

  it('rejects invalid buckets when the Telemeter is built, naming the metric', () => {
    expect(() => new Telemeter({ metrics: httpMetrics({ durationBuckets: [2, 1] }) })).toThrow(
      /http_server_request_duration_seconds.*buckets/,
    );
  });
});

describe('httpMetrics', () => {
  it('defines the four server metrics with exact names, tags and OpenTelemetry buckets', () => {
    const definitions = httpMetrics();
    expect(definitions.map((d) => [d.name, d.type, d.eventName, d.tags])).toEqual([
      ['http_server_requests_total', 'counter', 'http.server.request.stop', ['method', 'route', 'status']],
      [
        'http_server_request_duration_seconds',
        'distribution',
        'http.server.request.stop',
        ['method', 'route', 'status'],
      ],
      [
        'http_server_response_size_bytes',
        'distribution',
        'http.server.request.stop',
        ['method', 'route', 'status'],
      ],
      ['http_server_active_requests', 'last_value', 'http.server.request.active', ['method']],
    ]);
    expect(definitions[1].reporterOptions.buckets).toEqual([
      0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
    ]);
    expect(definitions[1].unitRatio).toBe(1e-9);
    expect(httpMetrics({ eventPrefix: 'api.http' })[0].eventName).toBe('api.http.stop');
  });

  it('defines the client metrics over http.client.request.stop', () => {
    expect(httpClientMetrics().map((d) => [d.name, d.type, d.eventName, d.tags])).toEqual([
      ['http_client_requests_total', 'counter', 'http.client.request.stop', ['method', 'host', 'status']],
      [
        'http_client_request_duration_seconds',
        'distribution',
        'http.client.request.stop',
        ['method', 'host', 'status'],
      ],
    ]);
  });
});
