import { describe, expect, it } from 'vitest';
import {
  expressMetrics,
  httpClientMetrics,
  httpMetrics,
  instrumentHttpClient,
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

  it('backtracks from a literal branch that fails to a parameter branch', () => {
    expect(templates.match('/a/b/c')).toBe('/a/b/:y');
    expect(templates.match('/a/z/c')).toBe('/a/:x/c');
    expect(templates.match('/a/b')).toBeUndefined();
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

describe('option validation', () => {
  it('names the adapter and the option', () => {
    expect(() => expressMetrics({ ignore: ['healthz'] })).toThrow(
      'telemeter/http: expressMetrics: option ignore[0] must be a path starting with "/"',
    );
    expect(() => koaMetrics({ route: 'x' as never })).toThrow(/koaMetrics: option route must be/);
    expect(() => instrumentNodeHttp({ eventPrefix: 'a..b' })).toThrow(
      /instrumentNodeHttp: option eventPrefix/,
    );
    expect(() => expressMetrics({ abortedStatus: '' })).toThrow(/option abortedStatus must be a non-empty/);
    expect(() => expressMetrics({ rout: [] } as never)).toThrow(/option rout is unknown; valid options are/);
    expect(() => instrumentHttpClient({ maxHosts: -1 })).toThrow(/instrumentHttpClient: option maxHosts/);
    expect(() => instrumentHttpClient({ sources: ['curl'] as never })).toThrow(/option sources/);
    expect(() => httpMetrics({ bucket: [] } as never)).toThrow(/httpMetrics: option bucket is unknown/);
    expect(() => httpClientMetrics({ hosts: [] } as never)).toThrow(
      /httpClientMetrics: option hosts is unknown/,
    );
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
