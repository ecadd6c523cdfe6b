import { describe, expect, it } from 'vitest';
import { RouteTemplates } from '../../src/http/index.js';

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
});
