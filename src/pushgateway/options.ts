import { invalidOption } from '../errors.js';
import { describe } from '../events/event-name.js';
import { checkOptionKeys } from '../options.js';
import { groupingPath } from './grouping-path.js';

/** Where a group lives on a Pushgateway, and how to reach it: the options shared by push and delete. */
export interface GatewayGroupOptions {
  /**
   * The gateway's base URL, `http://host:9091` (or `https://…`, with a path prefix when the gateway runs under
   * `--web.route-prefix`). The path `/metrics/job/…` is added from `job` and `grouping`. User and password in the
   * URL (`http://user:pass@host:9091`) are sent as basic auth.
   */
  readonly url: string;
  /** The `job` label of the group. Required, not empty. */
  readonly job: string;
  /**
   * The other labels of the grouping key, in path order, e.g. `{ instance: 'db-1' }`. Values may hold any text,
   * `/` and the empty string included. They overwrite labels of the same name in the pushed metrics. `job` is
   * the `job` option, not a grouping label.
   */
  readonly grouping?: Readonly<Record<string, string | number | boolean>>;
  /** Milliseconds to wait for the whole exchange before rejecting. Default 10 000. */
  readonly timeout?: number;
  /** Extra request headers, e.g. `{ authorization: 'Bearer …' }`. The body's own headers cannot be set here. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Options of `pushToGateway`. */
export interface PushToGatewayOptions extends GatewayGroupOptions {
  /**
   * `'put'` (the default, the Pushgateway's "push"): the pushed metrics replace every metric of the group, so a
   * metric this push leaves out is gone. `'post'` ("push-add"): they replace only the metrics of the same names.
   */
  readonly method?: 'put' | 'post';
  /**
   * The body's format: `'text'` (Prometheus text 0.0.4, the default) or `'protobuf'` (delimited `MetricFamily`
   * messages, which the gateway stores as they are, created timestamps included; a seventh of the text's size for
   * histograms). The source must have `renderProtobuf` (a `Telemeter` has) for `'protobuf'`.
   */
  readonly format?: 'text' | 'protobuf';
  /** Compress the body with gzip (Pushgateway 1.5.0 and later read it). Default false. */
  readonly gzip?: boolean;
}

/** Options of `deleteFromGateway`. */
export type DeleteFromGatewayOptions = GatewayGroupOptions;

/** A validated request: everything the transport needs, nothing left to check. */
export interface GatewayRequest {
  readonly method: 'PUT' | 'POST' | 'DELETE';
  /** The group's full URL, without credentials (it is also the one shown in errors). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeout: number;
  readonly gzip: boolean;
  /** The body's format, for a push. */
  readonly format: 'text' | 'protobuf';
}

const GROUP_KEYS = ['url', 'job', 'grouping', 'timeout', 'headers'];
const PUSH_KEYS = [...GROUP_KEYS, 'method', 'format', 'gzip'];
const DEFAULT_TIMEOUT_MS = 10_000;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers that describe the body, which the push sets itself. */
const BODY_HEADERS = new Set(['content-type', 'content-encoding', 'content-length', 'transfer-encoding']);

/**
 * Validates `pushToGateway` options once, at call time.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid key) or
 *   `ERR_TELEMETER_INVALID_OPTION`, naming the option.
 */
export function resolvePushOptions(options: PushToGatewayOptions): GatewayRequest {
  const where = 'telemeter/pushgateway: pushToGateway';
  checkOptionKeys(where, options, PUSH_KEYS);
  const method = options.method ?? 'put';
  if (method !== 'put' && method !== 'post') {
    fail(
      where,
      'method',
      `must be 'put' (replace the group) or 'post' (replace only the pushed names), got ${describe(method)}`,
    );
  }
  const format = options.format ?? 'text';
  if (format !== 'text' && format !== 'protobuf') {
    fail(where, 'format', `must be 'text' or 'protobuf', got ${describe(format)}`);
  }
  const gzip = options.gzip ?? false;
  if (typeof gzip !== 'boolean') fail(where, 'gzip', `must be true or false, got ${describe(gzip)}`);
  return { ...resolveGroup(where, options), method: method === 'put' ? 'PUT' : 'POST', gzip, format };
}

/**
 * Validates `deleteFromGateway` options once, at call time.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_UNKNOWN_OPTION` or `ERR_TELEMETER_INVALID_OPTION`, naming the option.
 */
export function resolveDeleteOptions(options: DeleteFromGatewayOptions): GatewayRequest {
  const where = 'telemeter/pushgateway: deleteFromGateway';
  checkOptionKeys(where, options, GROUP_KEYS);
  return { ...resolveGroup(where, options), method: 'DELETE', gzip: false, format: 'text' };
}

function resolveGroup(
  where: string,
  options: GatewayGroupOptions,
): Pick<GatewayRequest, 'url' | 'headers' | 'timeout'> {
  const base = resolveBaseUrl(where, options.url);

  const job = options.job;
  if (typeof job !== 'string' || job === '') {
    fail(where, 'job', `must be a non-empty string, got ${describe(job)}`);
  }
  checkWellFormed(where, 'job', job);

  const grouping: Array<[string, string]> = [];
  if (options.grouping !== undefined) {
    const labels = options.grouping;
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
      fail(where, 'grouping', `must be an object of label names to values, got ${describe(labels)}`);
    }
    for (const [name, value] of Object.entries(labels)) {
      if (name === 'job') {
        fail(where, 'grouping', "must not have a label 'job': the job option names the group's job");
      }
      if (!LABEL_NAME.test(name) || name.startsWith('__')) {
        fail(
          where,
          'grouping',
          `has an invalid label name ${describe(name)}: use letters, digits and _, not starting with a digit or __`,
        );
      }
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        fail(where, `grouping.${name}`, `must be a string, number or boolean, got ${describe(value)}`);
      }
      const text = String(value);
      checkWellFormed(where, `grouping.${name}`, text);
      grouping.push([name, text]);
    }
  }

  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
  if (!(Number.isInteger(timeout) && timeout >= 1 && timeout <= 2 ** 31 - 1)) {
    fail(where, 'timeout', `must be an integer number of milliseconds >= 1, got ${describe(timeout)}`);
  }

  const headers: Record<string, string> = {};
  if (options.headers !== undefined) {
    const given = options.headers;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) {
      fail(where, 'headers', `must be an object of header names to values, got ${describe(given)}`);
    }
    for (const [name, value] of Object.entries(given)) {
      if (!HEADER_NAME.test(name)) fail(where, 'headers', `has an invalid header name ${describe(name)}`);
      if (BODY_HEADERS.has(name.toLowerCase())) {
        fail(where, `headers.${name}`, 'is set by the push itself and cannot be given');
      }
      if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
        fail(where, `headers.${name}`, `must be a string without CR, LF or NUL, got ${describe(value)}`);
      }
      headers[name.toLowerCase()] = value;
    }
  }
  if (base.authorization !== undefined) {
    if (headers.authorization !== undefined) {
      fail(where, 'headers.authorization', 'and a user in option url both set the credentials: keep one');
    }
    headers.authorization = base.authorization;
  }

  return { url: `${base.url}${groupingPath(job, grouping)}`, headers, timeout };
}

/** The base URL without a trailing slash or credentials, and the credentials as a basic `Authorization` value. */
function resolveBaseUrl(where: string, url: unknown): { url: string; authorization: string | undefined } {
  if (typeof url !== 'string' || url === '') {
    fail(
      where,
      'url',
      `must be the gateway's base URL, such as 'http://127.0.0.1:9091', got ${describe(url)}`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    fail(where, 'url', `is not a URL: ${describe(url)} (expected one such as 'http://127.0.0.1:9091')`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    fail(where, 'url', `must be http: or https:, got ${describe(parsed.protocol)}`);
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    fail(where, 'url', 'must not have a query string or a fragment');
  }
  const prefix = parsed.pathname.replace(/\/+$/, '');
  // The commonest mistake: a URL copied from a push command, which would push to /metrics/job/…/metrics/job/….
  if (/\/metrics(\/job(\/|$)|$)/.test(prefix)) {
    fail(
      where,
      'url',
      `is the gateway's base URL, without /metrics or /metrics/job/…: the job and grouping options make that path, got ${describe(url)}`,
    );
  }
  let authorization: string | undefined;
  if (parsed.username !== '' || parsed.password !== '') {
    const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
    authorization = `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(credentials)))}`;
  }
  return { url: `${parsed.origin}${prefix}`, authorization };
}

function checkWellFormed(where: string, option: string, text: string): void {
  if (!text.isWellFormed()) {
    fail(where, option, `must be well-formed Unicode, got a lone surrogate in ${describe(text)}`);
  }
}

function fail(where: string, option: string, why: string): never {
  return invalidOption(`${where}: option ${option} ${why}`);
}
