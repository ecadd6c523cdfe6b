import { TelemeterTypeError } from '../errors.js';
import { describe } from '../events/event-name.js';
import { checkOptionKeys } from '../options.js';

/** The line dialect: plain StatsD (Etsy's daemon, Telegraf, statsd_exporter) or DogStatsD (the Datadog agent). */
export type StatsdFormat = 'statsd' | 'datadog';

/** The StatsD type a distribution's bucket lines are sent as. */
export type DistributionType = 'ms' | 'h' | 'd';

/** Options of `startStatsd`. */
export interface StatsdOptions {
  /** UDP host. Default `'127.0.0.1'`. A name is resolved once per (re)connection. */
  readonly host?: string;
  /** UDP port. Default 8125. */
  readonly port?: number;
  /**
   * Path of a Unix domain **stream** socket (the agent's `dogstatsd_stream_socket`); replaces host and port.
   * Each packet is framed by its length as a 4-byte little-endian integer, as DogStatsD's `unix` listener reads it.
   */
  readonly socketPath?: string;
  /** Milliseconds between flushes. Default 5000. */
  readonly flushInterval?: number;
  /** Largest packet in bytes (UTF-8). Default 1432 for UDP, 8192 for a socket path (the agent's buffer size). */
  readonly mtu?: number;
  /** `'statsd'` (default; no tags) or `'datadog'` (tags as `|#k:v,…`). */
  readonly format?: StatsdFormat;
  /** Prepended to every name, followed by a dot. */
  readonly prefix?: string;
  /** Tags added to every line (`format: 'datadog'` only); a series' own tag of the same name wins. */
  readonly globalTags?: Readonly<Record<string, string | number | boolean>>;
  /**
   * Type of distribution lines. Default `'ms'` for `statsd` (the only distribution type Etsy's daemon knows; it
   * counts `h` as a counter) and `'d'` for `datadog` (server-side distributions; `'h'` or `'ms'` aggregate in the agent).
   */
  readonly distributionType?: DistributionType;
}

export interface ResolvedStatsdOptions {
  readonly target: { kind: 'udp'; host: string; port: number } | { kind: 'unix'; path: string };
  readonly flushInterval: number;
  readonly mtu: number;
  readonly format: StatsdFormat;
  /** `''` or the prefix with its trailing dot. */
  readonly prefix: string;
  readonly globalTags: ReadonlyArray<readonly [string, string]>;
  readonly distributionType: DistributionType;
}

const KNOWN = [
  'host',
  'port',
  'socketPath',
  'flushInterval',
  'mtu',
  'format',
  'prefix',
  'globalTags',
  'distributionType',
];
/** Any IPv4 path can carry 508 bytes of UDP payload unfragmented; shrinking below that cannot be the fix. */
export const MIN_MTU = 508;
export const MAX_MTU = 65535;
// sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
const MAX_SOCKET_PATH_BYTES = 107;
const NAME_UNSAFE = /[:|@#,\s]/;

/**
 * Validates `startStatsd` options once; every error names the option.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid key) or
 *   `ERR_TELEMETER_INVALID_OPTION`.
 */
export function resolveStatsdOptions(options: StatsdOptions): ResolvedStatsdOptions {
  const fail = (option: string, why: string): never => {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_OPTION',
      `telemeter/statsd: startStatsd: option ${option} ${why}`,
    );
  };
  // globalTags is a map of tag names, not options: its keys are the user's.
  checkOptionKeys('telemeter/statsd: startStatsd', options, KNOWN);

  const format = options.format ?? 'statsd';
  if (format !== 'statsd' && format !== 'datadog') {
    fail('format', `must be 'statsd' or 'datadog', got ${describe(format)}`);
  }

  let target: ResolvedStatsdOptions['target'];
  if (options.socketPath !== undefined) {
    if (options.host !== undefined || options.port !== undefined) {
      fail('socketPath', 'replaces host and port: set either socketPath or host/port');
    }
    const path = options.socketPath;
    if (typeof path !== 'string' || path === '') fail('socketPath', 'must be a non-empty path');
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
      fail('socketPath', `is longer than ${MAX_SOCKET_PATH_BYTES} bytes, the limit of a Unix socket address`);
    }
    target = { kind: 'unix', path };
  } else {
    const host = options.host ?? '127.0.0.1';
    if (typeof host !== 'string' || host === '') fail('host', `must be a non-empty host name or address`);
    const port = options.port ?? 8125;
    if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      fail('port', `must be an integer from 1 to 65535, got ${describe(port)}`);
    }
    target = { kind: 'udp', host, port };
  }

  const flushInterval = options.flushInterval ?? 5000;
  if (!(Number.isInteger(flushInterval) && flushInterval >= 1 && flushInterval <= 2 ** 31 - 1)) {
    fail('flushInterval', `must be an integer number of milliseconds >= 1, got ${describe(flushInterval)}`);
  }

  const mtu = options.mtu ?? (target.kind === 'unix' ? 8192 : 1432);
  if (!(Number.isInteger(mtu) && mtu >= MIN_MTU && mtu <= MAX_MTU)) {
    fail('mtu', `must be an integer from ${MIN_MTU} to ${MAX_MTU} bytes, got ${describe(mtu)}`);
  }

  let prefix = '';
  if (options.prefix !== undefined) {
    if (typeof options.prefix !== 'string' || options.prefix === '')
      fail('prefix', 'must be a non-empty string');
    if (NAME_UNSAFE.test(options.prefix)) {
      fail(
        'prefix',
        `must not contain ':', '|', '@', '#', ',' or whitespace, got ${describe(options.prefix)}`,
      );
    }
    prefix = options.prefix.endsWith('.') ? options.prefix : `${options.prefix}.`;
  }

  const globalTags: Array<[string, string]> = [];
  if (options.globalTags !== undefined) {
    const tags = options.globalTags;
    if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) {
      fail('globalTags', 'must be an object of tag names to values');
    }
    if (format !== 'datadog' && Object.keys(tags).length > 0) {
      fail('globalTags', "needs format: 'datadog'; plain StatsD lines carry no tags");
    }
    for (const [name, value] of Object.entries(tags)) {
      if (name === '') fail('globalTags', 'has an empty tag name');
      if (!['string', 'number', 'boolean'].includes(typeof value)) {
        fail(`globalTags.${name}`, `must be a string, number or boolean, got ${describe(value)}`);
      }
      globalTags.push([name, String(value)]);
    }
  }

  const distributionType = options.distributionType ?? (format === 'datadog' ? 'd' : 'ms');
  const allowed: readonly DistributionType[] = format === 'datadog' ? ['d', 'h', 'ms'] : ['ms', 'h'];
  if (!allowed.includes(distributionType)) {
    fail(
      'distributionType',
      `must be ${allowed.map((t) => `'${t}'`).join(' or ')} for format '${format}', got ${describe(distributionType)}`,
    );
  }

  return { target, flushInterval, mtu, format, prefix, globalTags, distributionType };
}
