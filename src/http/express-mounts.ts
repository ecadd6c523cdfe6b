/**
 * The templates of Express mount paths (`app.use('/tenants/:tenant', router)`), read from the patterns the
 * application gave, never from the request: Express matches case-insensitively and a mount's concrete
 * `req.baseUrl` carries parameter values, so a label built from the request is unbounded.
 */

/** A `path-to-regexp` key, as Express 4's router keeps it next to a mount's compiled expression. */
export interface CompiledKey {
  readonly name: string | number;
}

/** The path of a route or mount as a label piece: strings as written, arrays joined, expressions printed. */
export function patternText(pattern: unknown): string {
  if (typeof pattern === 'string') return pattern;
  if (Array.isArray(pattern)) return pattern.map(patternText).join(',');
  return String(pattern);
}

/**
 * A string mount path without its trailing slashes, which Express ignores when it matches a mount
 * (`'/api/'` mounts at `/api`); the root is the empty string.
 */
export function mountText(pattern: unknown): string {
  if (typeof pattern !== 'string') return patternText(pattern);
  let end = pattern.length;
  while (end > 0 && pattern.charCodeAt(end - 1) === 47 /* / */) end--;
  return end === pattern.length ? pattern : pattern.slice(0, end);
}

/** The label of a route `path` inside mounts whose templates add up to `prefix`. */
export function joinRoute(prefix: string, path: unknown): string {
  const template = patternText(path);
  if (prefix === '') return template;
  return template === '/' ? prefix : prefix + template;
}

/** The end `path-to-regexp` 0.1 gives every non-strict, non-ending (mount) expression. */
const MOUNT_END = '\\/?(?=\\/|$)';
/** The capture 0.1 compiles `:name` to, plain and after a `.` format. */
const DEFAULT_CAPTURES = new Set(['[^/]+?', '[^/\\.]+?']);
/** What 0.1 appends to the capture of `:name*`. */
const STAR_SUFFIXES = ['((?:[/].+?)?)', '((?:[/\\.].+?)?)'];

/**
 * The mount templates of an Express 4 layer, one per alternative of an array mount, rebuilt from the expression
 * that `path-to-regexp` 0.1 compiled (Express 4 keeps nothing else of the path): `^\/tenants(?:\/([^/]+?))…`
 * becomes `/tenants/:tenant`. An alternative that is not recognisably compiled from a string (a regular
 * expression the application gave) is its expression as JavaScript prints it, which is bounded too.
 */
export function express4MountTemplates(regexp: RegExp, keys: readonly CompiledKey[]): string[] {
  const alternatives = topLevelAlternatives(regexp.source);
  const templates: string[] = [];
  const cursor = { key: 0 };
  for (const alternative of alternatives) {
    const template = compiledTemplate(alternative, keys, cursor);
    if (template === undefined) {
      if (alternatives.length === 1) return [String(regexp)];
      templates.push(`/${alternative}/`);
    } else templates.push(template);
  }
  return templates;
}

/** Splits an expression's source at the `|`s outside groups and classes (Express 4 joins array mounts so). */
export function topLevelAlternatives(source: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inClass = false;
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      parts.push(source.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(source.slice(start));
  return parts;
}

/** The index just past the group that opens at `open`, or -1. */
function groupEnd(source: string, open: number): number {
  let depth = 0;
  let inClass = false;
  for (let i = open; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i + 1;
  }
  return -1;
}

function compiledTemplate(
  alternative: string,
  keys: readonly CompiledKey[],
  cursor: { key: number },
): string | undefined {
  if (!alternative.startsWith('^') || !alternative.endsWith(MOUNT_END)) return undefined;
  const body = alternative.slice(1, alternative.length - MOUNT_END.length);
  const start = cursor.key;
  let template = '';
  let i = 0;
  while (i < body.length) {
    const c = body[i];
    if (c === '\\') {
      const escaped = body[i + 1];
      template += escaped === '/' || escaped === '.' ? escaped : `\\${escaped}`;
      i += 2;
    } else if (body.startsWith('(.*)', i)) {
      template += '*';
      cursor.key++;
      i += 4;
    } else if (body.startsWith('(?:', i)) {
      const param = compiledParam(body, i, keys, cursor);
      if (param === undefined) {
        cursor.key = start;
        return undefined;
      }
      template += param.text;
      i = param.end;
    } else if (c === '(' || c === ')' || c === '|') {
      cursor.key = start;
      return undefined;
    } else {
      template += c;
      i++;
    }
  }
  return template;
}

/** `(?:\/(capture)star)?` at `open`: one `:name` of the path, with its custom capture, `*` and `?`. */
function compiledParam(
  body: string,
  open: number,
  keys: readonly CompiledKey[],
  cursor: { key: number },
): { text: string; end: number } | undefined {
  const end = groupEnd(body, open);
  if (end < 0) return undefined;
  let i = open + 3;
  let lead = '';
  if (body.startsWith('\\/', i) || body.startsWith('\\.', i)) {
    lead = body[i + 1];
    i += 2;
  }
  if (body[i] !== '(') return undefined;
  const captureEnd = groupEnd(body, i);
  if (captureEnd < 0) return undefined;
  const capture = body.slice(i + 1, captureEnd - 1);
  i = captureEnd;
  let star = false;
  for (const suffix of STAR_SUFFIXES) {
    if (body.startsWith(suffix, i)) {
      star = true;
      i += suffix.length;
    }
  }
  if (i !== end - 1) return undefined;
  const key = keys[cursor.key];
  if (key === undefined) return undefined;
  cursor.key += star ? 2 : 1;
  const custom = DEFAULT_CAPTURES.has(capture) || capture.startsWith('(?:(?!') ? '' : `(${capture})`;
  const optional = body[end] === '?';
  return {
    text: `${lead}:${key.name}${custom}${star ? '*' : ''}${optional ? '?' : ''}`,
    end: optional ? end + 1 : end,
  };
}

/**
 * The template of a mount under router 2.2 (allowed by Express 5's `^2.2.0`), which keeps neither the path nor
 * a pattern: each segment of the concrete `piece` that equals a parameter's value becomes `:name` (a
 * wildcard's run of segments `*name`). Literal segments keep the request's letter case; router 2.3 keeps the
 * path (`layer.rawPath`) and needs none of this.
 */
export function templateFromParams(piece: string, params: Readonly<Record<string, unknown>>): string {
  const segments = piece.split('/');
  const unused = new Set(Object.keys(params));
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment === '') continue;
    const value = decodeSegment(segment);
    for (const name of unused) {
      const param = params[name];
      if (param === value) {
        segments[i] = `:${name}`;
        unused.delete(name);
        break;
      }
      if (Array.isArray(param) && param.length > 0 && i + param.length <= segments.length) {
        let run = true;
        for (let j = 0; j < param.length && run; j++) run = decodeSegment(segments[i + j]) === param[j];
        if (run) {
          segments.splice(i, param.length, `*${name}`);
          unused.delete(name);
          break;
        }
      }
    }
  }
  return segments.join('/');
}

function decodeSegment(segment: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
