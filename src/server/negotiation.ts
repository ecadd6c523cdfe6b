import type { WireFormat } from '../exposition/index.js';

interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly version: string | undefined;
  /** protobuf's `proto=` (the message type) and `encoding=` (`delimited`, or the old `text`). */
  readonly proto: string | undefined;
  /** Prometheus 3's `escaping=`: how the scraper wants names outside the legacy character set written. */
  readonly escaping: string | undefined;
  readonly encoding: string | undefined;
  readonly q: number;
}

interface Offer {
  readonly format: WireFormat;
  readonly type: string;
  readonly subtype: string;
  /** `version=` values this body satisfies; a range naming another version does not match. */
  readonly versions: ReadonlySet<string>;
}

const PROTOBUF_MESSAGE = 'io.prometheus.client.metricfamily';

// text/plain version=1.0.0 only adds quoted UTF-8 names; telemeter's names are always legacy-valid,
// so a 0.0.4 body answers it correctly (and is labelled 0.0.4, which is what the scraper parses by).
const OFFERS: readonly Offer[] = [
  {
    format: 'openmetrics',
    type: 'application',
    subtype: 'openmetrics-text',
    versions: new Set(['1.0.0', '0.0.1']),
  },
  { format: 'text', type: 'text', subtype: 'plain', versions: new Set(['0.0.4', '1.0.0']) },
  { format: 'protobuf', type: 'application', subtype: 'vnd.google.protobuf', versions: new Set() },
];

/** Splits a header list on commas that are outside quoted strings. */
function splitList(header: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const c = header[i];
    if (c === '"' && header[i - 1] !== '\\') quoted = !quoted;
    else if (c === separator && !quoted) {
      parts.push(header.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(header.slice(start));
  return parts;
}

/** A q-value per RFC 9110: 0 to 1 with up to three decimals; anything else makes the element invalid. */
function parseQ(value: string): number | undefined {
  if (!/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value)) return undefined;
  return Number(value);
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"')
    ? value.slice(1, -1).replace(/\\(.)/g, '$1')
    : value;
}

function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const element of splitList(header, ',')) {
    const [mediaType, ...params] = splitList(element, ';');
    const slash = mediaType.indexOf('/');
    if (slash < 0) continue;
    const type = mediaType.slice(0, slash).trim().toLowerCase();
    const subtype = mediaType
      .slice(slash + 1)
      .trim()
      .toLowerCase();
    if (type === '' || subtype === '') continue;
    let q: number | undefined = 1;
    let version: string | undefined;
    let proto: string | undefined;
    let encoding: string | undefined;
    let escaping: string | undefined;
    for (const param of params) {
      const eq = param.indexOf('=');
      if (eq < 0) continue;
      const name = param.slice(0, eq).trim().toLowerCase();
      const value = unquote(param.slice(eq + 1).trim());
      if (name === 'q') q = parseQ(value);
      else if (name === 'version') version = value;
      else if (name === 'proto') proto = value.toLowerCase();
      else if (name === 'encoding') encoding = value.toLowerCase();
      else if (name === 'escaping') escaping = value.toLowerCase();
      // Other parameters (charset, ...) do not change which body we send.
    }
    if (q === undefined) continue;
    ranges.push({ type, subtype, version, proto, encoding, escaping, q });
  }
  return ranges;
}

/** How specifically `range` names `offer`: -1 no match, 0 `*\/*`, 1 `type/*`, 2 exact, 3 exact with version. */
function specificity(range: MediaRange, offer: Offer): number {
  // A binary body goes only to a client that names it: never for a wildcard (curl, a browser). Another message
  // type, or the old text and compact-text encodings, are not what telemeter writes.
  if (offer.format === 'protobuf') {
    if (range.type !== offer.type || range.subtype !== offer.subtype) return -1;
    if (range.proto !== undefined && range.proto !== PROTOBUF_MESSAGE) return -1;
    if (range.encoding !== undefined && range.encoding !== 'delimited') return -1;
    return 2;
  }
  if (range.type === '*') return range.subtype === '*' ? 0 : -1;
  if (range.type !== offer.type) return -1;
  if (range.subtype === '*') return 1;
  if (range.subtype !== offer.subtype) return -1;
  if (range.version === undefined) return 2;
  return offer.versions.has(range.version) ? 3 : -1;
}

/** Options of {@link negotiateFormat}. */
export interface NegotiationOptions {
  /**
   * Whether the protobuf exposition may be chosen. Default true; false where the body can only be text (an
   * endpoint that merges other libraries' text expositions in, a source that cannot encode protobuf).
   */
  readonly protobuf?: boolean;
}

/**
 * Picks the exposition format for an `Accept` header, as the Prometheus content-negotiation rules say:
 * protobuf (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited`) or
 * OpenMetrics when the client prefers it (by q-value), Prometheus text 0.0.4 otherwise, including when the header
 * is missing, unparsable, `*\/*`, or names nothing telemeter can write.
 *
 * Each format takes the q-value of the most specific range that matches it (RFC 9110 §12.5.1). A tie
 * goes to the format named more specifically, then to the one listed first, then to text (so `*\/*`,
 * which names both text formats alike, gets text, the conservative choice). Protobuf is only ever chosen when
 * named: Prometheus asks for it first when its native histograms are on (2.42 with
 * `--enable-feature=native-histograms`; 3.x with `scrape_protocols` starting with `PrometheusProto`).
 */
export function negotiateFormat(accept: string | undefined, options: NegotiationOptions = {}): WireFormat {
  if (accept === undefined || accept === '') return 'text';
  const ranges = parseAccept(accept);
  const protobuf = options.protobuf ?? true;
  let best: WireFormat = 'text';
  let bestQ = 0;
  let bestSpecificity = -1;
  let bestPosition = Number.POSITIVE_INFINITY;
  for (const offer of OFFERS) {
    if (offer.format === 'protobuf' && !protobuf) continue;
    let q = 0;
    let spec = -1;
    let position = -1;
    for (let i = 0; i < ranges.length; i++) {
      const range = ranges[i];
      const s = specificity(range, offer);
      if (s > spec || (s === spec && s >= 0 && range.q > q)) {
        spec = s;
        q = range.q;
        position = i;
      }
    }
    if (spec < 0 || q === 0) continue;
    const wins =
      q > bestQ ||
      (q === bestQ &&
        (spec > bestSpecificity ||
          (spec === bestSpecificity &&
            (position < bestPosition || (position === bestPosition && offer.format === 'text')))));
    if (wins) {
      best = offer.format;
      bestQ = q;
      bestSpecificity = spec;
      bestPosition = position;
    }
  }
  return best;
}

/**
 * How names outside the legacy character set are written (Prometheus 3's content negotiation):
 * `allow-utf-8` as they are (quoted), `underscores` with each invalid character as `_`, `dots` with `.` as
 * `_dot_` and `_` as `__`, `values` as `U__` and hexadecimal code points.
 */
export type EscapingScheme = 'allow-utf-8' | 'underscores' | 'dots' | 'values';

const ANSWERED_ESCAPING: Readonly<Record<string, EscapingScheme>> = {
  'allow-utf-8': 'allow-utf-8',
  underscores: 'underscores',
  values: 'values',
  // `dots` would rewrite every `_` of a valid name to `__`; telemeter writes its names as they are, and says so.
  dots: 'underscores',
};

/**
 * The escaping scheme to name in the Content-Type of an OpenMetrics 1.0.0 answer, from the `escaping=` parameter
 * of `Accept` (the first known value on any of its ranges, as prometheus/common reads it); undefined when the
 * header has none, and the Content-Type stays as it always was.
 *
 * telemeter's names are always in the legacy character set (`[a-zA-Z_:][a-zA-Z0-9_:]*`), which `allow-utf-8`,
 * `underscores` and `values` all leave as they are: the body is the same under each, and the answer names the
 * scheme asked for. Under `dots` a valid name would still change (`a_b` is `a__b`): telemeter answers with its
 * names unchanged and names `underscores`, which a scraper then reads them by.
 */
export function negotiateEscaping(accept: string | undefined): EscapingScheme | undefined {
  if (accept === undefined || accept === '' || !accept.toLowerCase().includes('escaping')) return undefined;
  for (const range of parseAccept(accept)) {
    if (range.escaping === undefined) continue;
    const scheme = ANSWERED_ESCAPING[range.escaping];
    if (scheme !== undefined) return scheme;
  }
  return undefined;
}

/** True when an `Accept-Encoding` header allows gzip (`gzip`, `x-gzip` or `*` with a q-value above 0). */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (acceptEncoding === undefined || acceptEncoding === '') return false;
  let gzipQ: number | undefined;
  let anyQ: number | undefined;
  for (const element of splitList(acceptEncoding, ',')) {
    const [coding, ...params] = element.split(';');
    const name = coding.trim().toLowerCase();
    let q: number | undefined = 1;
    for (const param of params) {
      const [key, value = ''] = param.split('=');
      if (key.trim().toLowerCase() === 'q') q = parseQ(value.trim());
    }
    if (q === undefined) continue;
    if (name === 'gzip' || name === 'x-gzip') gzipQ = Math.max(gzipQ ?? 0, q);
    else if (name === '*') anyQ = q;
  }
  return (gzipQ ?? anyQ ?? 0) > 0;
}
