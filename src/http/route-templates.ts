import { invalidOption } from '../errors.js';

/** The route label of a request that no route matched: one fixed value, so unknown URLs never mint series. */
export const UNMATCHED_ROUTE = '<unmatched>';

interface TemplateNode {
  /** The template that ends at this node, if any. */
  template: string | undefined;
  readonly literals: Map<string, TemplateNode>;
  /** The same children as parallel arrays, compared in place while there are few (no substring per request). */
  readonly literalKeys: string[];
  readonly literalNodes: TemplateNode[];
  param: TemplateNode | undefined;
  /** A trailing `*` (or `*name`) that matches the rest of the path, including nothing. */
  wildcard: string | undefined;
}

function node(): TemplateNode {
  return {
    template: undefined,
    literals: new Map(),
    literalKeys: [],
    literalNodes: [],
    param: undefined,
    wildcard: undefined,
  };
}

/**
 * Matches raw request paths against route templates (`/users/:id`, `/files/*`) for servers that have no
 * router of their own, so plain `node:http` requests can still be labelled with a bounded route.
 *
 * Segments match literally, `:name` matches one non-empty segment, and a final `*` or `*name` matches
 * the rest. A literal segment beats a parameter, which beats a wildcard, whatever the order of the list.
 * The query string and a trailing slash are ignored.
 */
export class RouteTemplates {
  private readonly root = node();

  /**
   * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_OPTION` naming `option` when `templates` is not an array,
   *   a template is not a string starting with `/`, or a wildcard is not the last segment.
   */
  constructor(templates: readonly string[], option = 'option route') {
    if (!Array.isArray(templates)) {
      invalidOption(`telemeter/http: ${option} must be an array of path templates such as "/users/:id"`);
    }
    templates.forEach((template, index) => {
      if (typeof template !== 'string' || !template.startsWith('/')) {
        invalidOption(
          `telemeter/http: ${option}[${index}] must be a path template starting with "/", got ${JSON.stringify(template)}`,
        );
      }
      const segments = templateSegments(template);
      let current = this.root;
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i];
        if (segment.startsWith('*')) {
          if (i !== segments.length - 1) {
            invalidOption(
              `telemeter/http: ${option}[${index}] "${template}" has a wildcard before its last segment`,
            );
          }
          current.wildcard ??= template;
          return;
        }
        if (segment.startsWith(':')) {
          current.param ??= node();
          current = current.param;
        } else {
          let next = current.literals.get(segment);
          if (next === undefined) {
            next = node();
            current.literals.set(segment, next);
            current.literalKeys.push(segment);
            current.literalNodes.push(next);
          }
          current = next;
        }
      }
      current.template ??= template;
    });
  }

  /** The template that matches `url` (a request target such as `/users/7?x=1`), or `undefined`. */
  match(url: string): string | undefined {
    const query = url.indexOf('?');
    const end = query < 0 ? url.length : query;
    // One trailing slash is not part of the route: the walk ends when it reaches `end` right after a slash. Cutting
    // it here as well made a second one vanish too (`/users/7//` read as `/users/7/`).
    const start = url.charCodeAt(0) === SLASH ? 1 : 0;
    return matchFrom(this.root, url, start, end);
  }
}

const SLASH = 47;
// Above this many literal children, one substring and a Map lookup beat comparing each in place.
const SCAN_LIMIT = 8;

function literalChild(
  current: TemplateNode,
  url: string,
  from: number,
  stop: number,
): TemplateNode | undefined {
  const keys = current.literalKeys;
  if (keys.length > SCAN_LIMIT) return current.literals.get(url.slice(from, stop));
  const length = stop - from;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (key.length === length && url.startsWith(key, from)) return current.literalNodes[i];
  }
  return undefined;
}

/** The segments of `template`, which starts with "/". */
function templateSegments(template: string): string[] {
  const segments = template.slice(1).split('/');
  // A trailing "/" is not part of the route, and "/" alone is the root: no segments.
  if (segments[segments.length - 1] === '') segments.pop();
  return segments;
}

/** Matches the segments of `url` between `from` and `end` (no split: this runs once per request). */
function matchFrom(current: TemplateNode, url: string, from: number, end: number): string | undefined {
  if (from >= end) return current.template ?? current.wildcard;
  const slash = url.indexOf('/', from);
  // A slash past `end` is in the query string (`/login?next=/home`).
  const stop = slash === -1 ? end : Math.min(slash, end);
  const literal = literalChild(current, url, from, stop);
  if (literal !== undefined) {
    const found = matchFrom(literal, url, stop + 1, end);
    if (found !== undefined) return found;
  }
  if (current.param !== undefined && stop > from) {
    const found = matchFrom(current.param, url, stop + 1, end);
    if (found !== undefined) return found;
  }
  return current.wildcard;
}
