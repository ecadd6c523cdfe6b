/**
 * The `OTEL_*` environment variables that OpenTelemetry's OTLP metric exporters read, parsed as the
 * specification's `configuration/sdk-environment-variables.md` and `protocol/exporter.md` say. Options given to
 * `startOtlp` win over these; these win over the defaults.
 *
 * An invalid value is not thrown: the specification asks an SDK to warn and ignore it, so one bad variable in a
 * deployment does not stop the process. The warnings are returned for the caller to log.
 */

/** What the environment sets; undefined where it sets nothing (or something invalid). */
export interface OtlpEnvironment {
  readonly url: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly protocol: 'http/protobuf' | 'http/json' | undefined;
  readonly compression: 'gzip' | 'none' | undefined;
  readonly timeout: number | undefined;
  readonly interval: number | undefined;
  readonly exportTimeout: number | undefined;
  readonly temporality: 'cumulative' | 'delta' | undefined;
  readonly serviceName: string | undefined;
  readonly resourceAttributes: Readonly<Record<string, string>>;
  readonly disabled: boolean;
  /** One line per variable that was set to something unusable, naming it. */
  readonly warnings: readonly string[];
}

type Variables = Readonly<Record<string, string | undefined>>;

/**
 * The process environment where the runtime has one (Node, Bun, Deno with `process`); an empty one elsewhere (a
 * Worker has no process environment: its variables arrive as bindings, which the caller passes as options).
 */
export function processEnvironment(): Variables {
  const env = (globalThis as { process?: { env?: Variables } }).process?.env;
  return env ?? {};
}

/** Reads the `OTEL_*` variables of `env`. The per-signal `OTEL_EXPORTER_OTLP_METRICS_*` win over the general ones. */
export function readOtlpEnvironment(env: Variables): OtlpEnvironment {
  const warnings: string[] = [];
  const value = (name: string): string | undefined => {
    let text: string | undefined;
    try {
      text = env[name]?.trim();
    } catch {
      // Deno without --allow-env throws on reading a variable: as if it were unset.
      return undefined;
    }
    return text === undefined || text === '' ? undefined : text;
  };
  /** The metrics variable if set, else the general one: `[name, value]`. */
  const signal = (suffix: string): [string, string] | undefined => {
    for (const name of [`OTEL_EXPORTER_OTLP_METRICS_${suffix}`, `OTEL_EXPORTER_OTLP_${suffix}`]) {
      const text = value(name);
      if (text !== undefined) return [name, text];
    }
    return undefined;
  };

  let url: string | undefined;
  const metricsEndpoint = value('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT');
  const endpoint = value('OTEL_EXPORTER_OTLP_ENDPOINT');
  if (metricsEndpoint !== undefined) {
    // The per-signal endpoint is the full URL, used as it is.
    url = checkUrl('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', metricsEndpoint, warnings);
  } else if (endpoint !== undefined) {
    // The general endpoint is a base: the signal's path is appended to whatever path it has.
    const base = checkUrl('OTEL_EXPORTER_OTLP_ENDPOINT', endpoint, warnings);
    if (base !== undefined) url = `${base.replace(/\/+$/, '')}/v1/metrics`;
  }

  const headers: Record<string, string> = {};
  // The general headers first, so the metrics ones override a header of the same name.
  for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_METRICS_HEADERS']) {
    const text = value(name);
    if (text === undefined) continue;
    const pairs = parseKeyValueList(text);
    if (pairs === undefined) warnings.push(`${name} is not a list of key=value pairs; it is ignored`);
    else for (const [key, header] of pairs) headers[key.toLowerCase()] = header;
  }

  let protocol: OtlpEnvironment['protocol'];
  const protocolSetting = signal('PROTOCOL');
  if (protocolSetting !== undefined) {
    const [name, text] = protocolSetting;
    if (text === 'http/protobuf' || text === 'http/json') protocol = text;
    else
      warnings.push(`${name}=${text} is not supported (http/protobuf or http/json); http/protobuf is used`);
  }

  let compression: OtlpEnvironment['compression'];
  const compressionSetting = signal('COMPRESSION');
  if (compressionSetting !== undefined) {
    const [name, text] = compressionSetting;
    if (text === 'gzip' || text === 'none') compression = text;
    else warnings.push(`${name}=${text} is not gzip or none; it is ignored`);
  }

  const millis = (name: string, text: string | undefined, zeroMeans?: number): number | undefined => {
    if (text === undefined) return undefined;
    const number = Number(text);
    if (!Number.isInteger(number) || number < 0) {
      warnings.push(`${name}=${text} is not a whole number of milliseconds; it is ignored`);
      return undefined;
    }
    if (number === 0) return zeroMeans;
    return Math.min(number, MAX_TIMER_MS);
  };
  const timeoutSetting = signal('TIMEOUT');
  // 0 means no limit; a timer cannot wait forever, so the longest one it can.
  const timeout =
    timeoutSetting === undefined ? undefined : millis(timeoutSetting[0], timeoutSetting[1], MAX_TIMER_MS);
  const interval = millis('OTEL_METRIC_EXPORT_INTERVAL', value('OTEL_METRIC_EXPORT_INTERVAL'));
  const exportTimeout = millis(
    'OTEL_METRIC_EXPORT_TIMEOUT',
    value('OTEL_METRIC_EXPORT_TIMEOUT'),
    MAX_TIMER_MS,
  );

  let temporality: OtlpEnvironment['temporality'];
  const preference = value('OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE')?.toLowerCase();
  if (preference !== undefined) {
    // lowmemory is delta for synchronous counters and histograms, which every telemeter counter and histogram is.
    if (preference === 'cumulative') temporality = 'cumulative';
    else if (preference === 'delta' || preference === 'lowmemory') temporality = 'delta';
    else {
      warnings.push(
        `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=${preference} is not cumulative, delta or lowmemory; it is ignored`,
      );
    }
  }

  const resourceAttributes: Record<string, string> = {};
  const attributes = value('OTEL_RESOURCE_ATTRIBUTES');
  if (attributes !== undefined) {
    // On any decoding error the whole variable is discarded (resource/sdk.md).
    const pairs = parseKeyValueList(attributes);
    if (pairs === undefined) {
      warnings.push('OTEL_RESOURCE_ATTRIBUTES is not a list of key=value pairs; all of it is ignored');
    } else {
      for (const [key, attribute] of pairs) resourceAttributes[key] = attribute;
    }
  }

  return {
    url,
    headers,
    protocol,
    compression,
    timeout,
    interval,
    exportTimeout,
    temporality,
    serviceName: value('OTEL_SERVICE_NAME'),
    resourceAttributes,
    disabled: value('OTEL_SDK_DISABLED')?.toLowerCase() === 'true',
    warnings,
  };
}

/** The longest delay a timer takes (2^31 − 1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

function checkUrl(name: string, text: string, warnings: string[]): string | undefined {
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.href;
  } catch {
    // reported below
  }
  warnings.push(`${name}=${text} is not an http(s) URL; it is ignored`);
  return undefined;
}

/**
 * `k1=v1,k2=v2` with percent-encoded keys and values (W3C Baggage without properties), as `OTEL_RESOURCE_ATTRIBUTES`
 * and `OTEL_EXPORTER_OTLP_HEADERS` are written; undefined when any member is malformed.
 */
export function parseKeyValueList(text: string): Array<[string, string]> | undefined {
  const pairs: Array<[string, string]> = [];
  for (const member of text.split(',')) {
    if (member.trim() === '') continue;
    const equals = member.indexOf('=');
    if (equals <= 0) return undefined;
    try {
      const key = decodeURIComponent(member.slice(0, equals).trim());
      const value = decodeURIComponent(member.slice(equals + 1).trim());
      if (key === '') return undefined;
      pairs.push([key, value]);
    } catch {
      return undefined;
    }
  }
  return pairs;
}
