import type { ExpositionFormat } from './content-types.js';

/** A family type as either format spells it; 0.0.4's `untyped` is read as OpenMetrics' `unknown`. */
export type ParsedType =
  | 'counter'
  | 'gauge'
  | 'histogram'
  | 'summary'
  | 'unknown'
  | 'info'
  | 'stateset'
  | 'gaugehistogram';

/** One sample line, its parts checked and split. */
export interface ParsedSample {
  readonly name: string;
  /** `[label name, label value as escaped in the source]` pairs; both formats escape values alike. */
  readonly labels: ReadonlyArray<readonly [string, string]>;
  readonly value: number;
  /** Seconds since the epoch (0.0.4 writes milliseconds; they are converted). */
  readonly timestamp: number | undefined;
  /** An OpenMetrics exemplar as written after ` # `, e.g. `{trace_id="a"} 0.3`. */
  readonly exemplar: string | undefined;
}

/** One metric family of another library's exposition, format-neutral. */
export interface ParsedFamily {
  /** The OpenMetrics family name: a counter's without `_total`. */
  readonly name: string;
  /** The family name in 0.0.4 as the source writes it (a counter's usually ends in `_total`). */
  readonly textName: string;
  readonly type: ParsedType;
  /** HELP, unescaped; undefined when the source wrote none. */
  readonly help: string | undefined;
  readonly unit: string | undefined;
  readonly samples: ParsedSample[];
}

const TYPES: Record<string, ParsedType> = {
  counter: 'counter',
  gauge: 'gauge',
  histogram: 'histogram',
  summary: 'summary',
  untyped: 'unknown',
  unknown: 'unknown',
  info: 'info',
  stateset: 'stateset',
  gaugehistogram: 'gaugehistogram',
};

/** The suffixes of the sample names each type writes in OpenMetrics (the family name itself is ''). */
const OPENMETRICS_SUFFIXES: Record<ParsedType, readonly string[]> = {
  counter: ['_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_sum', '_count', '_created'],
  summary: ['', '_sum', '_count', '_created'],
  unknown: [''],
  info: ['_info'],
  stateset: [''],
  gaugehistogram: ['_bucket', '_gcount', '_gsum'],
};

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const DECIMAL = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/** Thrown for a body that is not valid in its format; the line number says where. */
export class ExpositionSyntaxError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'ExpositionSyntaxError';
  }
}

/** The type a `# TYPE` line names, in either format; undefined when neither knows it. */
export function parsedTypeOf(keyword: string): ParsedType | undefined {
  return Object.hasOwn(TYPES, keyword) ? TYPES[keyword] : undefined;
}

/** The OpenMetrics family name of a family declared as `declared` in `format`: 0.0.4 counters lose `_total`. */
export function openMetricsName(declared: string, type: ParsedType, format: ExpositionFormat): string {
  return format === 'text' && type === 'counter' && declared.endsWith('_total')
    ? declared.slice(0, -'_total'.length)
    : declared;
}

/**
 * Every name a family of OpenMetrics name `name` may write, in either format: the family name, its sample names,
 * and a 0.0.4 counter's `_total` form. Two families clash when these sets meet: a scraper would see one series
 * name from both, or (OpenMetrics) reject the exposition for a clashing name.
 */
export function reservedNames(name: string, type: ParsedType): string[] {
  const names = OPENMETRICS_SUFFIXES[type].map((suffix) => name + suffix);
  return names.includes(name) ? names : [name, ...names];
}

/**
 * Reads a Prometheus 0.0.4 or OpenMetrics 1.0 body, as another library (prom-client, OpenTelemetry's
 * exporter) writes it, into families. Lenient where both formats are (blank lines and free comments in 0.0.4,
 * any blanks between tokens, a label list's trailing comma) and strict where a mistake would carry into
 * telemeter's own answer: names, label syntax and escapes, numbers. Samples without metadata form families of
 * type `unknown`, as the formats say. Stops at `# EOF`.
 * @throws ExpositionSyntaxError on a line that is not valid.
 */
export function parseExposition(body: string, format: ExpositionFormat): ParsedFamily[] {
  const families: MutableFamily[] = [];
  let current: MutableFamily | undefined;
  let allowed: Set<string> = new Set();
  const lines = body.split('\n');
  for (let index = 0; index < lines.length; index++) {
    let line = lines[index];
    const number = index + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      if (line.trimEnd() === '# EOF') break;
      const metadata = /^#[ \t]+(HELP|TYPE|UNIT)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      // 0.0.4 allows free comments; a stray one in OpenMetrics is left out rather than refused.
      if (metadata === null) continue;
      const [, keyword, declared, rest = ''] = metadata;
      if (!METRIC_NAME.test(declared))
        throw new ExpositionSyntaxError(number, `invalid metric name ${declared}`);
      if (current === undefined || current.declared !== declared || current.samples.length > 0) {
        current = newFamily(declared);
        families.push(current);
        allowed = new Set([declared]);
      }
      if (keyword === 'HELP') {
        current.help = unescapeHelp(rest, format);
      } else if (keyword === 'UNIT') {
        current.unit = rest.trim() === '' ? undefined : rest.trim();
      } else {
        const type = parsedTypeOf(rest.trim());
        if (type === undefined) throw new ExpositionSyntaxError(number, `unknown type ${rest.trim()}`);
        current.type = type;
        current.name = openMetricsName(declared, type, format);
        allowed = sampleNamesOf(current, format);
      }
      continue;
    }
    const sample = parseSample(line, number, format);
    if (current === undefined || !allowed.has(sample.name)) {
      current = newFamily(sample.name);
      families.push(current);
      allowed = new Set([sample.name]);
    }
    current.samples.push(sample);
  }
  return families.map((family) => ({
    name: family.name,
    textName: textNameOf(family, format),
    type: family.type,
    help: family.help,
    unit: family.unit,
    samples: family.samples,
  }));
}

function textNameOf(family: MutableFamily, format: ExpositionFormat): string {
  if (format === 'text') {
    const totalForm = `${family.declared}_total`;
    return family.type === 'counter' && family.samples.some((s) => s.name === totalForm)
      ? totalForm
      : family.declared;
  }
  if (family.type === 'counter') return `${family.name}_total`;
  return family.type === 'info' ? `${family.name}_info` : family.name;
}

interface MutableFamily {
  declared: string;
  name: string;
  type: ParsedType;
  help: string | undefined;
  unit: string | undefined;
  samples: ParsedSample[];
}

function newFamily(declared: string): MutableFamily {
  return { declared, name: declared, type: 'unknown', help: undefined, unit: undefined, samples: [] };
}

/** The sample names a declared family owns: 0.0.4 counters write the declared name, OpenMetrics ones `_total`. */
function sampleNamesOf(family: MutableFamily, format: ExpositionFormat): Set<string> {
  // Some 0.0.4 writers (Python's client) declare `x` and write `x_total`: both are the counter's samples.
  if (format === 'text' && family.type === 'counter')
    return new Set([family.declared, `${family.declared}_total`]);
  return new Set(OPENMETRICS_SUFFIXES[family.type].map((suffix) => family.name + suffix));
}

function unescapeHelp(raw: string, format: ExpositionFormat): string {
  // 0.0.4 knows only \\ and \n in HELP (any other backslash stays); OpenMetrics adds \".
  const pattern = format === 'openmetrics' ? /\\([\\n"])/g : /\\([\\n])/g;
  return raw.replace(pattern, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseNumber(token: string): number | undefined {
  if (DECIMAL.test(token)) return Number(token);
  switch (token.toLowerCase()) {
    case 'nan':
      return Number.NaN;
    case '+inf':
    case 'inf':
    case '+infinity':
    case 'infinity':
      return Number.POSITIVE_INFINITY;
    case '-inf':
    case '-infinity':
      return Number.NEGATIVE_INFINITY;
    default:
      return undefined;
  }
}

function isBlank(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/** Letters, digits, `_`, and `:` when `colon`: the characters of metric (with colon) and label names. */
function isNameChar(code: number, colon: boolean): boolean {
  return (
    (code >= 97 && code <= 122) ||
    (code >= 65 && code <= 90) ||
    (code >= 48 && code <= 57) ||
    code === 95 ||
    (colon && code === 58)
  );
}

function parseSample(line: string, number: number, format: ExpositionFormat): ParsedSample {
  const fail = (message: string): never => {
    throw new ExpositionSyntaxError(number, message);
  };
  let i = 0;
  while (i < line.length && isNameChar(line.charCodeAt(i), true)) i++;
  const name = line.slice(0, i);
  if (!METRIC_NAME.test(name)) fail(`invalid sample name in ${JSON.stringify(line.slice(0, 80))}`);
  while (isBlank(line[i])) i++;
  const labels: Array<readonly [string, string]> = [];
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (isBlank(line[i])) i++;
      if (line[i] === '}') break;
      const start = i;
      while (i < line.length && isNameChar(line.charCodeAt(i), false)) i++;
      const labelName = line.slice(start, i);
      if (!LABEL_NAME.test(labelName)) fail(`invalid label name in ${name}`);
      while (isBlank(line[i])) i++;
      if (line[i] !== '=') fail(`expected = after label ${labelName}`);
      i++;
      while (isBlank(line[i])) i++;
      if (line[i] !== '"') fail(`expected " to open the value of label ${labelName}`);
      const valueStart = ++i;
      for (;;) {
        const close = line.indexOf('"', i);
        const backslash = line.indexOf('\\', i);
        if (close < 0) fail(`unterminated value of label ${labelName}`);
        if (backslash < 0 || backslash > close) {
          i = close;
          break;
        }
        // Both formats define exactly three escapes; anything else breaks one parser or another.
        const escaped = line[backslash + 1];
        if (escaped !== '\\' && escaped !== '"' && escaped !== 'n') {
          fail(`invalid escape in the value of label ${labelName}`);
        }
        i = backslash + 2;
      }
      labels.push([labelName, line.slice(valueStart, i)]);
      i++;
      while (isBlank(line[i])) i++;
      if (line[i] === ',') {
        i++;
        continue;
      }
      if (line[i] !== '}') fail(`expected , or } after label ${labelName}`);
      break;
    }
    i++;
  }
  while (isBlank(line[i])) i++;
  const rest = line.slice(i);
  const exemplarAt = format === 'openmetrics' ? rest.indexOf(' # ') : -1;
  const exemplar = exemplarAt < 0 ? undefined : rest.slice(exemplarAt + 3).trim();
  const tokens = (exemplarAt < 0 ? rest : rest.slice(0, exemplarAt)).split(/[ \t]+/).filter((t) => t !== '');
  if (tokens.length === 0 || tokens.length > 2)
    fail(`expected a value and an optional timestamp after ${name}`);
  const value = parseNumber(tokens[0]);
  if (value === undefined) fail(`invalid value ${tokens[0]} of ${name}`);
  let timestamp: number | undefined;
  if (tokens.length === 2) {
    const raw = parseNumber(tokens[1]);
    if (raw === undefined || !Number.isFinite(raw)) fail(`invalid timestamp ${tokens[1]} of ${name}`);
    timestamp = format === 'text' ? (raw as number) / 1000 : raw;
  }
  if (exemplar !== undefined && !exemplar.startsWith('{')) fail(`invalid exemplar of ${name}`);
  return { name, labels, value: value as number, timestamp, exemplar };
}
