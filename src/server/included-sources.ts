import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidOption } from '../errors.js';
import { describe } from '../events/event-name.js';
import {
  type ExpositionFormat,
  ExpositionSyntaxError,
  openMetricsName,
  type ParsedFamily,
  type ParsedType,
  parsedTypeOf,
  parseExposition,
  renderParsedFamily,
  reservedNames,
} from '../exposition/index.js';
import type { LogSink } from '../logger.js';

/**
 * A prom-client `Registry` (its global `register` too), `@prometheus-io/client`'s, or anything else that renders
 * itself the same way: `metrics()` gives a 0.0.4 or OpenMetrics body and `contentType` says which.
 */
export interface MetricsRegistry {
  metrics(): Promise<string> | string;
  readonly contentType: string;
}

/**
 * OpenTelemetry's `PrometheusExporter` (`@opentelemetry/exporter-prometheus`): read through its public
 * `getMetricsRequestHandler`, so its own options (prefix, scope and target info) apply as on its own port.
 */
export interface MetricsRequestHandlerSource {
  getMetricsRequestHandler(request: IncomingMessage, response: ServerResponse): void;
}

/** Another library's metrics, served on telemeter's endpoint by the `include` option. */
export type IncludedSource = MetricsRegistry | MetricsRequestHandlerSource;

/** Why an included source was left out of a scrape: the `reason` label of `telemeter_include_failures_total`. */
export type IncludeFailure = 'error' | 'timeout' | 'invalid';

const FAILURES: readonly IncludeFailure[] = ['error', 'timeout', 'invalid'];

const FAILURES_FAMILY = 'telemeter_include_failures';
const CONFLICTS_FAMILY = 'telemeter_include_conflicts';

/** Chunk size of the merged part, as telemeter's own renderer uses. */
const CHUNK_SIZE = 64 * 1024;

/**
 * Checks the `include` option at start-up.
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_OPTION` naming the entry that is neither kind of source.
 */
export function checkIncludedSources(value: unknown): readonly IncludedSource[] {
  if (!Array.isArray(value)) {
    invalidOption(
      `telemeter/server: option include must be an array of prom-client registries or OpenTelemetry PrometheusExporters, got ${describe(value)}`,
    );
  }
  value.forEach((entry, index) => {
    const candidate = entry as Partial<MetricsRegistry & MetricsRequestHandlerSource> | null;
    const registry = typeof candidate?.metrics === 'function' && typeof candidate.contentType === 'string';
    const exporter = typeof candidate?.getMetricsRequestHandler === 'function';
    if (!(registry || exporter)) {
      invalidOption(
        `telemeter/server: option include[${index}] must be a prom-client Registry (metrics() and contentType) or an OpenTelemetry PrometheusExporter (getMetricsRequestHandler), got ${describe(entry)}`,
      );
    }
  });
  return [...value];
}

/** What one source gave for one scrape. */
type Reading =
  | { readonly ok: true; readonly body: string; readonly format: ExpositionFormat }
  | { readonly ok: false; readonly failure: IncludeFailure; readonly error: unknown };

class IncludeError extends Error {
  constructor(
    readonly failure: IncludeFailure,
    message: string,
  ) {
    super(message);
    this.name = 'IncludeError';
  }
}

function formatOfContentType(contentType: string | undefined): ExpositionFormat {
  return /^\s*application\/openmetrics-text/i.test(contentType ?? '') ? 'openmetrics' : 'text';
}

/**
 * Runs an exporter's request handler against a response that only records what is written: the exporter
 * answers asynchronously (after its collection), with `statusCode`, `setHeader` and `end(body)`.
 */
function readRequestHandler(source: MetricsRequestHandlerSource): Promise<Reading> {
  return new Promise((resolve, reject) => {
    const headers = new Map<string, string>();
    let body = '';
    const response = {
      statusCode: 200,
      headersSent: false,
      setHeader(name: string, value: unknown) {
        headers.set(name.toLowerCase(), String(value));
        return response;
      },
      getHeader: (name: string) => headers.get(name.toLowerCase()),
      writeHead(status: number, extra?: Record<string, unknown>) {
        response.statusCode = status;
        for (const [name, value] of Object.entries(extra ?? {})) response.setHeader(name, value);
        return response;
      },
      write(chunk: unknown) {
        body += String(chunk);
        return true;
      },
      end(chunk?: unknown) {
        if (chunk !== undefined && typeof chunk !== 'function') body += String(chunk);
        if (response.statusCode !== 200) {
          reject(new IncludeError('error', `the request handler answered ${response.statusCode}`));
        } else if (body.startsWith('# failed to export metrics')) {
          // OpenTelemetry's exporter reports a failed collection as a 200 with this comment as the body.
          reject(new IncludeError('error', body.trim()));
        } else {
          resolve({ ok: true, body, format: formatOfContentType(headers.get('content-type')) });
        }
        return response;
      },
      on: () => response,
      once: () => response,
    };
    const request = { method: 'GET', url: '/metrics', headers: {} };
    source.getMetricsRequestHandler(
      request as unknown as IncomingMessage,
      response as unknown as ServerResponse,
    );
  });
}

async function readRegistry(source: MetricsRegistry): Promise<Reading> {
  const body = await source.metrics();
  if (typeof body !== 'string')
    throw new IncludeError('invalid', `metrics() gave ${describe(body)}, not a string`);
  return { ok: true, body, format: formatOfContentType(source.contentType) };
}

/** Never rejects: a source that throws, rejects or outlives `timeout` ms becomes a failed reading. */
function readSource(source: IncludedSource, timeout: number): Promise<Reading> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<Reading>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          ok: false,
          failure: 'timeout',
          error: new IncludeError('timeout', `no answer within ${timeout} ms`),
        }),
      timeout,
    );
    timer.unref();
  });
  const reading = (async () => {
    try {
      return 'getMetricsRequestHandler' in source && typeof source.getMetricsRequestHandler === 'function'
        ? await readRequestHandler(source)
        : await readRegistry(source as MetricsRegistry);
    } catch (error) {
      const failure = error instanceof IncludeError ? error.failure : 'error';
      return { ok: false, failure, error } as const;
    }
  })();
  return Promise.race([reading, expiry]).finally(() => clearTimeout(timer));
}

/**
 * The `include` sources of one endpoint: reads them for a scrape, and merges their families after telemeter's
 * into one exposition in the negotiated format.
 *
 * The rule for duplicates: telemeter's families win, then the sources in `include` order, first come first
 * served. A family is left out when any name it would write (its family name or a sample name, in either
 * format) is already written by a family kept before it, so the decision is the same in 0.0.4 and OpenMetrics.
 * Each family left out is logged once; the `telemeter_include_conflicts{source}` gauge holds how many the
 * last scrape left out. A source that throws, rejects, times out or gives a body that does not parse is left
 * out of that scrape, logged when it starts failing, and counted in `telemeter_include_failures_total`.
 */
export class IncludedSources {
  private readonly failures: number[][];
  private readonly conflicts: number[];
  private readonly failing: boolean[];
  private readonly loggedConflicts = new Set<string>();

  constructor(
    private readonly sources: readonly IncludedSource[],
    private readonly timeout: number,
    private readonly log: LogSink,
  ) {
    this.failures = sources.map(() => FAILURES.map(() => 0));
    this.conflicts = sources.map(() => 0);
    this.failing = sources.map(() => false);
  }

  /** Reads every source at once; resolves (never rejects) when each has answered, failed or timed out. */
  read(): Promise<Reading[]> {
    return Promise.all(this.sources.map((source) => readSource(source, this.timeout)));
  }

  /**
   * The sources' families that clash with nothing in `taken` (the names telemeter's families write), followed
   * by the include self-metrics, in `format`, in chunks. Records failures and conflicts as it goes.
   */
  merge(readings: readonly Reading[], taken: Set<string>, format: ExpositionFormat): string[] {
    for (const name of [
      ...reservedNames(FAILURES_FAMILY, 'counter'),
      ...reservedNames(CONFLICTS_FAMILY, 'gauge'),
    ]) {
      taken.add(name);
    }
    const chunks: string[] = [];
    let out = '';
    readings.forEach((reading, index) => {
      const families = this.familiesOf(reading, index);
      const dropped: string[] = [];
      for (const family of families) {
        const names = [...reservedNames(family.name, family.type), family.textName];
        if (names.some((name) => taken.has(name))) {
          // Named by the 0.0.4 name (prom-client's own, e.g. `..._total`), so it is logged once in either format.
          dropped.push(family.textName);
          continue;
        }
        for (const name of names) taken.add(name);
        out += renderParsedFamily(family, format);
        if (out.length >= CHUNK_SIZE) {
          chunks.push(out);
          out = '';
        }
      }
      this.noteConflicts(index, dropped);
    });
    for (const family of this.selfFamilies()) out += renderParsedFamily(family, format);
    chunks.push(out);
    return chunks;
  }

  private familiesOf(reading: Reading, index: number): ParsedFamily[] {
    let failure: IncludeFailure;
    let error: unknown;
    if (reading.ok) {
      try {
        const families = parseExposition(reading.body, reading.format);
        if (this.failing[index]) {
          this.failing[index] = false;
          this.log.warn({ source: index }, `telemeter/server: include[${index}] answers again`);
        }
        return families;
      } catch (caught) {
        if (!(caught instanceof ExpositionSyntaxError)) throw caught;
        failure = 'invalid';
        error = caught;
      }
    } else {
      failure = reading.failure;
      error = reading.error;
    }
    this.failures[index][FAILURES.indexOf(failure)]++;
    if (!this.failing[index]) {
      this.failing[index] = true;
      const why =
        failure === 'timeout'
          ? `gave no metrics within includeTimeout (${this.timeout} ms)`
          : failure === 'invalid'
            ? 'gave metrics that do not parse'
            : 'failed';
      this.log.warn(
        { err: error, source: index, reason: failure },
        `telemeter/server: include[${index}] ${why}; scrapes go on without its metrics, counted in telemeter_include_failures_total, and this is logged again only after it recovers`,
      );
    }
    return [];
  }

  private noteConflicts(index: number, dropped: readonly string[]): void {
    this.conflicts[index] = dropped.length;
    const fresh = dropped.filter((name) => {
      const key = `${index}\u0000${name}`;
      if (this.loggedConflicts.has(key)) return false;
      this.loggedConflicts.add(key);
      return true;
    });
    if (fresh.length === 0) return;
    this.log.warn(
      { source: index, families: fresh },
      `telemeter/server: include[${index}]: left out ${fresh.length} ${fresh.length === 1 ? 'family' : 'families'} whose names telemeter (or an earlier source) already exports, so the scrape holds one of each: ${fresh.join(', ')}. Telemeter's family wins; each is logged once, and telemeter_include_conflicts counts them per scrape`,
    );
  }

  private selfFamilies(): ParsedFamily[] {
    const failures: ParsedFamily['samples'] = [];
    const conflicts: ParsedFamily['samples'] = [];
    this.sources.forEach((_, index) => {
      const source = String(index);
      FAILURES.forEach((reason, r) => {
        failures.push(selfSample(`${FAILURES_FAMILY}_total`, this.failures[index][r], source, reason));
      });
      conflicts.push(selfSample(CONFLICTS_FAMILY, this.conflicts[index], source));
    });
    return [
      selfFamily(
        FAILURES_FAMILY,
        'counter',
        'Scrapes that left out an included source, by source (its index in include) and reason: error, timeout or invalid.',
        failures,
      ),
      selfFamily(
        CONFLICTS_FAMILY,
        'gauge',
        'Families of an included source that the last scrape left out because telemeter or an earlier source exports the same name, by source (its index in include).',
        conflicts,
      ),
    ];
  }
}

function selfSample(
  name: string,
  value: number,
  source: string,
  reason?: string,
): ParsedFamily['samples'][0] {
  const labels: Array<readonly [string, string]> = [['source', source]];
  if (reason !== undefined) labels.push(['reason', reason]);
  return { name, labels, value, timestamp: undefined, exemplar: undefined };
}

function selfFamily(
  name: string,
  type: ParsedType,
  help: string,
  samples: ParsedFamily['samples'],
): ParsedFamily {
  return {
    name,
    textName: type === 'counter' ? `${name}_total` : name,
    type,
    help,
    unit: undefined,
    samples,
  };
}

/**
 * Collects the names telemeter's own families write, from the `# TYPE` lines of its rendered chunks as they
 * stream past (so whatever naming the renderer follows, the comparison uses the names as exported).
 */
export class ExportedNameScanner {
  readonly names = new Set<string>();
  private carry = '';

  constructor(private readonly format: ExpositionFormat) {}

  scan(chunk: string): void {
    const text = this.carry === '' ? chunk : this.carry + chunk;
    const end = text.lastIndexOf('\n');
    this.carry = text.slice(end + 1);
    let at = text.indexOf('# TYPE ');
    while (at >= 0 && at < end) {
      const lineEnd = text.indexOf('\n', at);
      if (at === 0 || text[at - 1] === '\n') this.add(text.slice(at + 7, lineEnd));
      at = text.indexOf('# TYPE ', lineEnd);
    }
  }

  private add(declaration: string): void {
    const [declared, type] = declaration.split(' ');
    const parsedType = parsedTypeOf(type ?? '') ?? 'unknown';
    const name = openMetricsName(declared, parsedType, this.format);
    for (const reserved of reservedNames(name, parsedType)) this.names.add(reserved);
    this.names.add(declared);
  }
}

/** Telemeter's OpenMetrics body without its `# EOF`, which the merged body writes once, at its very end. */
export function withoutEof(chunk: string): string {
  if (chunk.endsWith('\n# EOF\n') || chunk === '# EOF\n') return chunk.slice(0, -'# EOF\n'.length);
  if (chunk.endsWith('\n# EOF') || chunk === '# EOF') return chunk.slice(0, -'# EOF'.length);
  return chunk;
}
