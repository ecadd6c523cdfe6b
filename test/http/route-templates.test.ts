import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  expressMiddleware,
  httpMetrics,
  instrumentHttpServer,
  RouteTemplates,
} from '../../src/http/index.js';
import { Telemeter } from '../../src/index.js';
import { close, find, listen, send, sumOf, waitFor } from './helpers.js';

// Each test builds its own RouteTemplates: one built while the file loads would make every mutant it reaches a
// static one for Stryker (docs/testing.md).
function usersAndFiles(): RouteTemplates {
  return new RouteTemplates(['/users/:id', '/users/me', '/users', '/files/*', '/a/:x/c', '/a/b/:y']);
}

describe('RouteTemplates', () => {
  it('matches literals before parameters before wildcards, ignoring query and trailing slash', () => {
    const templates = usersAndFiles();
    expect(templates.match('/users/7')).toBe('/users/:id');
    expect(templates.match('/users/me')).toBe('/users/me');
    expect(templates.match('/users?page=2')).toBe('/users');
    expect(templates.match('/users/7/')).toBe('/users/:id');
    expect(templates.match('/files/a/b/c.txt')).toBe('/files/*');
    expect(templates.match('/files')).toBe('/files/*');
  });

  it('prefers the literal branch, and a parameter where no literal matches', () => {
    const templates = usersAndFiles();
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
    expect(usersAndFiles().match('/a//c')).toBeUndefined();
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
    const literal = new RouteTemplates(['/users/', '/users']);
    expect(literal.match('/users')).toBe('/users/');
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
    const templates = usersAndFiles();
    expect(templates.match('/')).toBeUndefined();
    expect(templates.match('/users/7/posts')).toBeUndefined();
    expect(templates.match('/nope')).toBeUndefined();
  });

  it('prefers a literal to a parameter to a wildcard whatever the order of the list', () => {
    for (const list of [
      ['/users/me', '/users/:id', '/users/*'],
      ['/users/*', '/users/:id', '/users/me'],
    ]) {
      const templates = new RouteTemplates(list);
      expect(templates.match('/users/me')).toBe('/users/me');
      expect(templates.match('/users/7')).toBe('/users/:id');
      expect(templates.match('/users/7/posts')).toBe('/users/*');
      expect(templates.match('/users')).toBe('/users/*');
    }
  });

  it('ignores a trailing slash on the request path, also before the query string', () => {
    const templates = new RouteTemplates(['/', '/users', '/users/:id']);
    expect(templates.match('/')).toBe('/');
    expect(templates.match('/?page=2')).toBe('/');
    expect(templates.match('/users/')).toBe('/users');
    expect(templates.match('/users/?page=2')).toBe('/users');
    expect(templates.match('/users/7/?tab=posts')).toBe('/users/:id');
  });

  it('ignores one trailing slash, not two: a doubled one is an empty segment that no parameter matches', () => {
    const templates = new RouteTemplates(['/users/:id', '/users', '/a//']);
    expect(templates.match('/users/7/')).toBe('/users/:id');
    expect(templates.match('/users/7//')).toBeUndefined();
    expect(templates.match('/users//')).toBeUndefined();
    expect(templates.match('/a//')).toBe('/a//');
  });

  it('labels a request with a template written with a trailing slash, as written, with or without the slash', () => {
    const templates = new RouteTemplates(['/users/', '/files/:name/']);
    expect(templates.match('/users')).toBe('/users/');
    expect(templates.match('/users/')).toBe('/users/');
    expect(templates.match('/files/a.txt')).toBe('/files/:name/');
    expect(templates.match('/files/a.txt/')).toBe('/files/:name/');
    expect(templates.match('/')).toBeUndefined();
  });

  it('ignores the query string, even one that holds slashes or starts with one', () => {
    const templates = new RouteTemplates(['/login', '/users/:id', '/:page']);
    expect(templates.match('/login?next=/home/feed')).toBe('/login');
    expect(templates.match('/users/7?next=/a/b')).toBe('/users/:id');
    // A SvelteKit form action posts to "?/name".
    expect(templates.match('/login?/signin')).toBe('/login');
    expect(templates.match('/users/7?/save')).toBe('/users/:id');
  });

  it('labels the empty path and a bare query string with the root template', () => {
    const templates = new RouteTemplates(['/', '/:page']);
    expect(templates.match('')).toBe('/');
    expect(templates.match('?page=2')).toBe('/');
    expect(templates.match('/?page=2')).toBe('/');
    expect(templates.match('/about')).toBe('/:page');
  });

  it('matches a path given without its leading slash as if it had one', () => {
    const templates = usersAndFiles();
    expect(templates.match('users')).toBe('/users');
    expect(templates.match('users/7')).toBe('/users/:id');
    expect(templates.match('files/a/b')).toBe('/files/*');
  });

  it('matches segments case-sensitively', () => {
    const templates = new RouteTemplates(['/users/me', '/users/:id']);
    expect(templates.match('/users/me')).toBe('/users/me');
    expect(templates.match('/users/ME')).toBe('/users/:id');
    expect(templates.match('/Users/7')).toBeUndefined();
  });

  it('does not decode percent-escapes: an escaped literal is a parameter value, an escaped slash stays in its segment', () => {
    const templates = new RouteTemplates(['/users/me', '/users/:id', '/files/:name']);
    expect(templates.match('/users/%6De')).toBe('/users/:id');
    expect(templates.match('/files/a%2Fb')).toBe('/files/:name');
    expect(templates.match('/files/a%2Fb/c')).toBeUndefined();
  });

  it('gives the same labels with few literal siblings (compared in place) as with many (looked up)', () => {
    // 8 siblings are compared in place, 9 and more looked up in a Map: the labels must not depend on which.
    for (const count of [1, 7, 8, 9, 20]) {
      const literals = Array.from({ length: count }, (_, i) => `/s${i}`);
      const templates = new RouteTemplates([...literals.map((l) => `${l}/:id`), '/:other/list']);
      for (const literal of literals) {
        expect(templates.match(`${literal}/1`)).toBe(`${literal}/:id`);
        expect(templates.match(`${literal}/list`)).toBe(`${literal}/:id`);
      }
      // Same length as a literal, or a literal's prefix or extension: a parameter value, never that literal.
      expect(templates.match(`/s${count}/1`)).toBeUndefined();
      expect(templates.match(`/s${count}/list`)).toBe('/:other/list');
      expect(templates.match('/s/list')).toBe('/:other/list');
      expect(templates.match('/s00/list')).toBe('/:other/list');
    }
  });

  it('labels a request no template matches <unmatched> on the scrape', async () => {
    const telemeter = new Telemeter({ metrics: httpMetrics() });
    const server = createServer((_req, res) => res.end());
    const uninstall = instrumentHttpServer(server, { route: ['/users/:id'] });
    try {
      const port = await listen(server);
      for (const path of ['/users/7?tab=posts', '/about', '/users/7/posts']) await send(port, path);
      const requests = 'http_server_requests_total';
      await waitFor(() => sumOf(telemeter.scrape(), requests) === 3, 'three requests counted');
      const byRoute = find(telemeter.scrape(), requests).map((s) => [s.labels.route, s.value]);
      expect(byRoute.sort()).toEqual([
        ['/users/:id', 1],
        ['<unmatched>', 2],
      ]);
    } finally {
      uninstall();
      await close(server);
      telemeter.close();
    }
  });

  it('rejects templates that are not paths, or put a wildcard in the middle', () => {
    expect(() => new RouteTemplates(['users'])).toThrow(/option route\[0\] must be a path template/);
    expect(() => new RouteTemplates(['/a', '/x/*/y'])).toThrow(
      /option route\[1\] "\/x\/\*\/y" has a wildcard/,
    );
    expect(() => new RouteTemplates('/users/:id' as never)).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        code: 'ERR_TELEMETER_INVALID_OPTION',
        message: expect.stringMatching(/option route must be an array/),
      }),
    );
  });

  it('refuses a template that is not a string, naming its index and value, with a stable code', () => {
    for (const [template, shown] of [
      [7, '7'],
      [null, 'null'],
      ['', '""'],
    ] as const) {
      expect(() => new RouteTemplates(['/ok', template as never])).toThrow(
        expect.objectContaining({
          name: 'TypeError',
          code: 'ERR_TELEMETER_INVALID_OPTION',
          message: `telemeter/http: option route[1] must be a path template starting with "/", got ${shown}`,
        }),
      );
    }
  });

  it("names the adapter's option in the errors of its route templates", () => {
    expect(() => expressMiddleware({ route: ['/users/:id', 'users'] })).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_INVALID_OPTION',
        message: expect.stringMatching(
          /^telemeter\/http: expressMiddleware: option route\[1\] must be a path template starting with "\/", got "users"$/,
        ),
      }),
    );
    expect(() => expressMiddleware({ route: ['/files/*/meta'] })).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_INVALID_OPTION',
        message:
          'telemeter/http: expressMiddleware: option route[0] "/files/*/meta" has a wildcard before its last segment',
      }),
    );
  });
});
