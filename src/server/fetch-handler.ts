import { STATUS_CODES } from 'node:http';
import { invalidOption } from '../errors.js';
import { execute, monotonicTime, systemTime } from '../events/index.js';
import { contentTypeOf, type WireFormat } from '../exposition/index.js';
import type { CredentialCheck } from './credentials.js';
import { IncludedSources } from './included-sources.js';
import { acceptsGzip, negotiateEscaping } from './negotiation.js';
import { HANDLER_KEYS, type MetricsHandlerOptions, resolveHandlerOptions } from './options.js';
import { BASE_HEADERS } from './plain-responses.js';
import {
  checkRenderSource,
  coalescerFor,
  logSinkOf,
  RenderCoalescer,
  type RenderSource,
} from './render-coalescer.js';
import { formatParameter, offersProtobuf, requestFormat } from './scrape-endpoint.js';

/** Options of {@link metricsFetchHandler}: those of `metricsHandler`, less `allow`. */
export type MetricsFetchHandlerOptions = Omit<MetricsHandlerOptions, 'allow'>;

/** A fetch-style metrics endpoint: what {@link metricsFetchHandler} returns. */
export type MetricsFetchHandler = (request: Request) => Promise<Response>;

const ALLOW = 'GET, HEAD';
// A Request carries no client address, so there is no `allow`.
const FETCH_HANDLER_KEYS = HANDLER_KEYS.filter((key) => key !== 'allow');

/** What the scrape's stop event reports, as the Node endpoint reports it. */
interface Outcome {
  status: number;
  format: WireFormat | undefined;
  bytes: number;
  compressed: boolean;
  error?: 'render_failed';
}

/**
 * The metrics endpoint as a fetch handler (`Request` in, `Response` out), for servers that are not `node:http`:
 * `Bun.serve`, `Deno.serve`, a Cloudflare Worker. It answers every request it is given (route `/metrics` to it)
 * with the rules of `metricsHandler`: `auth`, the method check, `Accept` negotiation between protobuf, OpenMetrics
 * 1.0 and text 0.0.4 (`?format=` forces one), `createdSamples`, gzip when `Accept-Encoding` allows it, renders coalesced with the other
 * endpoints of the same Telemeter, `maxInFlight`, and the scrape events behind `telemeter_scrapes_total`.
 *
 * ```ts
 * import { Telemeter, counter, execute } from 'telemeter';
 * import { metricsFetchHandler } from 'telemeter/server';
 *
 * const telemeter = new Telemeter({ metrics: [counter('jobs.done.count', { measurement: 'duration' })] });
 * const metrics = metricsFetchHandler(telemeter);
 * // Bun.serve({ routes: { '/metrics': metrics } }), or route /metrics to it in Deno.serve or a Worker.
 * execute('jobs.done', { duration: 1_000_000 });
 * const response = await metrics(new Request('http://localhost/metrics'));
 * console.log(response.headers.get('content-type')); //=> text/plain; version=0.0.4; charset=utf-8
 * console.log((await response.text()).match(/^jobs_done_count_total .*$/m)?.[0]); //=> jobs_done_count_total 1
 * ```
 *
 * The body is rendered whole before the Response is made, so it always has a `Content-Length`, and a render that
 * fails is an honest 503. There is no `allow` option: a `Request` does not carry the peer's address (restrict
 * the route in front of the handler instead, or use `auth`). It never throws, and its promise never rejects.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` when `telemeter` is not a Telemeter (or render
 *   source); `ERR_TELEMETER_INVALID_OPTION` or `ERR_TELEMETER_UNKNOWN_OPTION` naming the option.
 */
export function metricsFetchHandler(
  telemeter: RenderSource,
  options: MetricsFetchHandlerOptions = {},
): MetricsFetchHandler {
  checkRenderSource(telemeter, 'metricsFetchHandler');
  if (typeof options === 'object' && options !== null && 'allow' in options) {
    invalidOption(
      "telemeter/server: metricsFetchHandler has no option allow: a fetch Request does not carry the client's address; restrict the route in front of it, or use auth",
    );
  }
  const resolved = resolveHandlerOptions(options, 'metricsFetchHandler', FETCH_HANDLER_KEYS);
  const log = logSinkOf(telemeter);
  const credentials: CredentialCheck | undefined = resolved.credentials;
  const coalescer =
    resolved.include === undefined
      ? coalescerFor(telemeter)
      : new RenderCoalescer(telemeter, new IncludedSources(resolved.include, resolved.includeTimeout, log));
  const protobuf = offersProtobuf(telemeter, resolved);
  let inFlight = 0;

  const serve = async (request: Request, method: string): Promise<[Response, Outcome]> => {
    const forced = formatParameter(request.url);
    const format = requestFormat(forced, request.headers.get('accept') ?? undefined, resolved, protobuf);
    if (credentials !== undefined && !credentials.verify(request.headers.get('authorization') ?? undefined)) {
      return plain(
        method,
        401,
        format,
        credentials.challenges.map((challenge) => ['WWW-Authenticate', challenge]),
      );
    }
    if (method !== 'GET' && method !== 'HEAD') return plain(method, 405, format, [['Allow', ALLOW]]);
    if (forced === null) return plain(method, 400, undefined);
    if (inFlight >= resolved.maxInFlight) return plain(method, 503, format);
    inFlight++;
    try {
      const gzip = resolved.compression && acceptsGzip(request.headers.get('accept-encoding') ?? undefined);
      const headers: Record<string, string> = {
        ...BASE_HEADERS,
        'Content-Type': contentTypeOf(format, negotiateEscaping(request.headers.get('accept') ?? undefined)),
        Vary: 'Accept, Accept-Encoding',
      };
      if (gzip) headers['Content-Encoding'] = 'gzip';
      if (method === 'HEAD') return [new Response(null, { status: 200, headers }), ok(format, 0, gzip)];
      const parts: Uint8Array[] = [];
      const [job, release] = coalescer.acquire(format, resolved.createdSamples);
      let body: Uint8Array<ArrayBuffer>;
      try {
        try {
          for await (const chunk of job.body.read()) parts.push(chunk);
        } catch {
          // The coalescer has already logged the failure once for every scrape that shared the render.
          const [response, outcome] = plain(method, 503, format);
          return [response, { ...outcome, error: 'render_failed' }];
        }
        // Both copy the chunks into a body of their own.
        body = gzip ? await gzipped(parts) : await bytesOf(parts);
      } finally {
        release();
      }
      headers['Content-Length'] = String(body.byteLength);
      // `encodeBody: 'manual'` tells a Worker the body is already compressed (it would gzip it again); other
      // runtimes ignore the key.
      const init = { status: 200, headers, encodeBody: 'manual' } as ResponseInit;
      return [new Response(body, init), ok(format, body.byteLength, gzip)];
    } finally {
      inFlight--;
    }
  };

  return async (request) => {
    const method = request.method;
    const started = monotonicTime();
    execute(resolved.startEvent, { system_time: systemTime(), monotonic_time: started }, { method });
    let answer: [Response, Outcome];
    try {
      answer = await serve(request, method);
    } catch (error) {
      log.error({ err: error }, 'telemeter/server: unexpected error while answering a scrape');
      answer = plain(method, 500, undefined);
    }
    const [response, outcome] = answer;
    const now = monotonicTime();
    execute(
      resolved.stopEvent,
      { duration: now - started, monotonic_time: now, bytes: outcome.bytes },
      { method, ...outcome },
    );
    return response;
  };
}

function ok(format: WireFormat, bytes: number, compressed: boolean): Outcome {
  return { status: 200, format, bytes, compressed };
}

/**
 * The bare reason phrase of `status` (`Unauthorized`, ...), as `sendStatus` answers on Node: an error never
 * reveals a metric, a credential or the configuration.
 */
function plain(
  method: string,
  status: number,
  format: WireFormat | undefined,
  extraHeaders: readonly (readonly [string, string])[] = [],
): [Response, Outcome] {
  const body = new TextEncoder().encode(`${STATUS_CODES[status] ?? 'Error'}\n`);
  const headers = new Headers(BASE_HEADERS);
  for (const [name, value] of extraHeaders) headers.append(name, value);
  headers.set('Content-Type', 'text/plain; charset=utf-8');
  headers.set('Content-Length', String(body.byteLength));
  const response = new Response(method === 'HEAD' ? null : body, { status, headers });
  return [response, { status, format, bytes: method === 'HEAD' ? 0 : body.byteLength, compressed: false }];
}

/** The body's chunks in one byte array of its own. */
async function bytesOf(parts: readonly Uint8Array[]): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await new Blob(parts as unknown as BlobPart[]).arrayBuffer());
}

/** The body compressed with gzip by the platform's `CompressionStream` (Node, Bun, Deno and Workers all have it). */
async function gzipped(parts: readonly Uint8Array[]): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob(parts as unknown as BlobPart[]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
