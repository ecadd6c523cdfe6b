import { createServer } from 'node:http';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import {
  expressMetrics,
  fastifyMetrics,
  honoMetrics,
  httpClientMetrics,
  httpMetrics,
  instrumentHttpClient,
  instrumentHttpServer,
  instrumentNodeHttp,
  koaMetrics,
  normalizeMethod,
  OTHER_METHOD,
  RouteTemplates,
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

describe('RouteTemplates', () => {
  const templates = new RouteTemplates([
    '/users/:id',
    '/users/me',
    '/users',
    '/files/*',
    '/a/:x/c',
    '/a/b/:y',
  ]);

  it('matches literals before parameters before wildcards, ignoring query and trailing slash', () => {
    expect(templates.match('/users/7')).toBe('/users/:id');
    expect(templates.match('/users/me')).toBe('/users/me');
    expect(templates.match('/users?page=2')).toBe('/users');
    expect(templates.match('/users/7/')).toBe('/users/:id');
    expect(templates.match('/files/a/b/c.txt')).toBe('/files/*');
    expect(templates.match('/files')).toBe('/files/*');
  });

  it('prefers the literal branch, and a parameter where no literal matches', () => {
    expect(templates.match('/a/b/c')).toBe('/a/b/:y');
    expect(templates.match('/a/z/c')).toBe('/a/:x/c');
    expect(templates.match('/a/b')).toBeUndefined();
  });

  it('backtracks from a literal branch that fails deeper to a parameter branch', () => {
    // "b" matches the literal branch, whose only continuation is "x": "/a/b/y" must come back for ":p".
    const backtracking = new RouteTemplates(['/a/b/x', '/a/:p/y']);
    expect(backtracking.match('/a/b/x')).toBe('/a/b/x');
    expect(backtracking.match('/a/b/y')).toBe('/a/:p/y');
    expect(backtracking.match('/a/c/y')).toBe('/a/:p/y');
    expect(backtracking.match('/a/b/z')).toBeUndefined();
    // The same among more literal siblings than are compared in place (a Map lookup then).
    const siblings = Array.from({ length: 12 }, (_, i) => `/a/s${i}/x`);
    const many = new RouteTemplates([...siblings, '/a/:p/y']);
    expect(many.match('/a/s3/x')).toBe('/a/s3/x');
    expect(many.match('/a/s3/y')).toBe('/a/:p/y');
    expect(many.match('/a/s3/z')).toBeUndefined();
  });

  it('backtracks from a literal or a parameter branch that fails deeper to a wildcard', () => {
    const fallback = new RouteTemplates(['/files/special/x', '/files/:name/meta', '/files/*']);
    expect(fallback.match('/files/special/x')).toBe('/files/special/x');
    expect(fallback.match('/files/special/y')).toBe('/files/*');
    expect(fallback.match('/files/a/meta')).toBe('/files/:name/meta');
    expect(fallback.match('/files/a/b/c')).toBe('/files/*');
    expect(fallback.match('/files/a')).toBe('/files/*');
  });

  it('never matches a parameter to an empty segment', () => {
    expect(templates.match('/a//c')).toBeUndefined();
    const single = new RouteTemplates(['/u/:id/posts', '/v/:id']);
    expect(single.match('/u/7/posts')).toBe('/u/:id/posts');
    expect(single.match('/u//posts')).toBeUndefined();
    expect(single.match('/v/7')).toBe('/v/:id');
    expect(single.match('/v//')).toBeUndefined();
    expect(single.match('/v/?id=7')).toBeUndefined();
  });

  it('takes a named wildcard (*name) as a wildcard that matches the rest, including nothing', () => {
    const named = new RouteTemplates(['/static/*path', '/static/app.js', '/docs/*']);
    expect(named.match('/static/css/site.css')).toBe('/static/*path');
    expect(named.match('/static/app.js')).toBe('/static/app.js');
    expect(named.match('/static/app.js/x')).toBe('/static/*path');
    expect(named.match('/static')).toBe('/static/*path');
    expect(named.match('/static/*path')).toBe('/static/*path');
    expect(named.match('/docs/a')).toBe('/docs/*');
    expect(() => new RouteTemplates(['/x/*rest/y'])).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_INVALID_OPTION',
        message: expect.stringMatching(
          /option route\[0\] "\/x\/\*rest\/y" has a wildcard before its last segment/,
        ),
      }),
    );
  });

  it('keeps the first of two templates that match the same paths', () => {
    const twice = new RouteTemplates(['/f/*a', '/f/*b', '/u/:id', '/u/:name']);
    expect(twice.match('/f/x/y')).toBe('/f/*a');
    expect(twice.match('/u/7')).toBe('/u/:id');
  });

  it('finds literals the same way among many siblings', () => {
    const many = new RouteTemplates([...Array.from({ length: 12 }, (_, i) => `/s${i}/:id`), '/s1x']);
    expect(many.match('/s7/1')).toBe('/s7/:id');
    expect(many.match('/s1x')).toBe('/s1x');
    expect(many.match('/s1/2')).toBe('/s1/:id');
    expect(many.match('/s12/1')).toBeUndefined();
    const few = new RouteTemplates(['/ab/:id', '/a/:id']);
    expect(few.match('/a/1')).toBe('/a/:id');
    expect(few.match('/abc/1')).toBeUndefined();
  });

  it('matches nothing else', () => {
    expect(templates.match('/')).toBeUndefined();
    expect(templates.match('/users/7/posts')).toBeUndefined();
    expect(templates.match('/nope')).toBeUndefined();
  });

  it('rejects templates that are not paths, or put a wildcard in the middle', () => {
    expect(() => new RouteTemplates(['users'])).toThrow(/option route\[0\] must be a path template/);
    expect(() => new RouteTemplates(['/a', '/x/*/y'])).toThrow(
      /option route\[1\] "\/x\/\*\/y" has a wildcard/,
    );
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
      () => expressMetrics({ ignore: ['healthz'] }),
      invalid,
      /^telemeter\/http: expressMetrics: option ignore\[0\] must be a path starting with "\/"/,
    );
    expectCode(() => koaMetrics({ route: 'x' as never }), invalid, /koaMetrics: option route must be/);
    expectCode(
      () => instrumentNodeHttp({ eventPrefix: 'a..b' }),
      invalid,
      /instrumentNodeHttp: option eventPrefix/,
    );
    expectCode(
      () => expressMetrics({ abortedStatus: '' }),
      invalid,
      /option abortedStatus must be a non-empty/,
    );
    expectCode(() => expressMetrics([] as never), invalid, /expressMetrics: options must be an object/);
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
      () => honoMetrics({ matchedRoutes: 'yes' as never }),
      invalid,
      /honoMetrics: option matchedRoutes must be/,
    );
    expectCode(() => new RouteTemplates('/users/:id' as never), invalid, /option route must be an array/);
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
    ['expressMetrics', () => expressMetrics({ rout: [] } as never), 'rout', 'route'],
    ['koaMetrics', () => koaMetrics({ timeoutstatus: '504' } as never), 'timeoutstatus', 'timeoutStatus'],
    ['honoMetrics', () => honoMetrics({ matchedRoute: () => [] } as never), 'matchedRoute', 'matchedRoutes'],
    ['instrumentHttpClient', () => instrumentHttpClient({ maxHost: 3 } as never), 'maxHost', 'maxHosts'],
  ])('%s rejects a misspelt option and names the closest valid one', (name, run, typo, closest) => {
    expectCode(
      run,
      'ERR_TELEMETER_UNKNOWN_OPTION',
      new RegExp(`^telemeter/http: ${name}: option ${typo} is unknown \\(did you mean ${closest}\\?`),
    );
  });

  it("fastifyMetrics rejects a misspelt option through register, and accepts Fastify's own keys", async () => {
    const app = Fastify();
    app.register(fastifyMetrics, { eventprefix: 'api.http' } as never);
    await expect(app.ready()).rejects.toMatchObject({
      code: 'ERR_TELEMETER_UNKNOWN_OPTION',
      message: expect.stringMatching(
        /^telemeter\/http: fastifyMetrics: option eventprefix is unknown \(did you mean eventPrefix\?/,
      ),
    });
    const ok = Fastify();
    ok.register(fastifyMetrics, { prefix: '/v1', ignore: ['/healthz'] });
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
