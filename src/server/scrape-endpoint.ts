import type { IncomingMessage, ServerResponse } from 'node:http';
import { execute, monotonicTime, systemTime } from '../events/index.js';
import { contentTypeOf, type WireFormat } from '../exposition/index.js';
import { AccessPolicy } from './access-policy.js';
import type { ChunkLog } from './chunk-log.js';
import { IncludedSources } from './included-sources.js';
import { acceptsGzip, negotiateEscaping, negotiateFormat } from './negotiation.js';
import type { ResolvedHandlerOptions } from './options.js';
import { BASE_HEADERS, sendStatus } from './plain-responses.js';
import { coalescerFor, logSinkOf, RenderCoalescer, type RenderSource } from './render-coalescer.js';

/** A Node request listener; what `metricsHandler` returns and what a mounted route implements. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** What the stop event reports in its metadata, besides `method`. */
interface Outcome {
  status: number;
  format: WireFormat | undefined;
  bytes: number;
  compressed: boolean;
  error?: 'render_failed' | 'client_closed';
}

const ALLOW = 'GET, HEAD';
/** The status reported (never sent) for a client that left before the answer began, as nginx logs it. */
const CLIENT_CLOSED = 499;

/** `?format=` on the request URL: a format, undefined when absent, or null when invalid. */
export function formatParameter(url: string | undefined): WireFormat | undefined | null {
  const query = url?.indexOf('?') ?? -1;
  if (url === undefined || query < 0) return undefined;
  const value = new URLSearchParams(url.slice(query + 1)).get('format');
  if (value === null) return undefined;
  return value === 'text' || value === 'openmetrics' || value === 'protobuf' ? value : null;
}

/**
 * Whether an endpoint of `source` may answer in protobuf: the source can encode it, and the endpoint includes no
 * other libraries (their expositions are text, parsed and re-rendered as text).
 */
export function offersProtobuf(source: RenderSource, options: ResolvedHandlerOptions): boolean {
  return options.include === undefined && typeof source.renderProtobuf === 'function';
}

/**
 * The format a request gets: `?format=`, else the `format` option, else negotiated from `Accept` (`forced` is
 * what {@link formatParameter} read; an invalid one counts as none, and the caller answers 400). Where protobuf
 * is not offered, a request forced to it gets text 0.0.4 (labelled so).
 */
export function requestFormat(
  forced: WireFormat | undefined | null,
  accept: string | undefined,
  options: ResolvedHandlerOptions,
  protobuf: boolean,
): WireFormat {
  const chosen =
    forced ?? (options.format === 'negotiate' ? negotiateFormat(accept, { protobuf }) : options.format);
  return chosen === 'protobuf' && !protobuf ? 'text' : chosen;
}

/** Resolves when `res` can take more data, or has closed (then nothing more will be written). */
function writable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * The metrics endpoint for one render source: access control, method check, in-flight limit,
 * content negotiation, coalesced rendering, gzip, streaming, and the scrape start/stop events.
 * The returned listener never throws; every request gets an answer.
 */
export function createScrapeEndpoint(source: RenderSource, options: ResolvedHandlerOptions): RequestHandler {
  const access = new AccessPolicy(options.allowlist, options.credentials);
  const log = logSinkOf(source);
  // An endpoint with included sources renders something no other endpoint of the source does: its own coalescer.
  const coalescer =
    options.include === undefined
      ? coalescerFor(source)
      : new RenderCoalescer(source, new IncludedSources(options.include, options.includeTimeout, log));
  let inFlight = 0;
  const protobuf = offersProtobuf(source, options);

  /** Answers `req`; returns the outcome when answered at once, undefined when a stream reports it later. */
  const serve = (
    req: IncomingMessage,
    res: ServerResponse,
    finish: (outcome: Outcome) => void,
  ): Outcome | undefined => {
    const forced = formatParameter(req.url);
    const format = requestFormat(forced, req.headers.accept, options, protobuf);
    const refusal = access.check(req);
    if (refusal !== 0) {
      const bytes = access.refuse(req, res, refusal);
      return { status: refusal, format, bytes, compressed: false };
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const bytes = sendStatus(req, res, 405, { Allow: ALLOW });
      return { status: 405, format, bytes, compressed: false };
    }
    if (forced === null) {
      const bytes = sendStatus(req, res, 400);
      return { status: 400, format: undefined, bytes, compressed: false };
    }
    if (inFlight >= options.maxInFlight) {
      const bytes = sendStatus(req, res, 503);
      return { status: 503, format, bytes, compressed: false };
    }
    inFlight++;
    res.once('close', () => inFlight--);

    const gzip = options.compression && acceptsGzip(req.headers['accept-encoding']);
    const headers: Record<string, string> = {
      ...BASE_HEADERS,
      'Content-Type': contentTypeOf(format, negotiateEscaping(req.headers.accept)),
      Vary: 'Accept, Accept-Encoding',
    };
    if (gzip) headers['Content-Encoding'] = 'gzip';
    if (req.method === 'HEAD') {
      res.writeHead(200, headers);
      return { status: 200, format, bytes: 0, compressed: gzip };
    }
    const [job, release] = coalescer.acquire(format, options.createdSamples);
    // Closed means sent or abandoned, with every write of the body's chunks done or cancelled.
    res.once('close', release);
    const body: ChunkLog<Uint8Array> = gzip ? job.gzip() : job.body;
    void stream(res, body, headers, (status, bytes, error) => {
      const outcome: Outcome = { status, format, bytes, compressed: gzip && status === 200 };
      if (error !== undefined) outcome.error = error;
      finish(outcome);
    });
    return undefined;
  };

  return (req, res) => {
    const started = monotonicTime();
    const startMetadata = { method: req.method };
    execute(options.startEvent, { system_time: systemTime(), monotonic_time: started }, startMetadata);
    let finished = false;
    // Emitted in the same tick as the answer's last write, before the server reads another request,
    // so a client that reads the answer and scrapes again always finds this scrape counted.
    const finish = (outcome: Outcome): void => {
      if (finished) return;
      finished = true;
      const now = monotonicTime();
      execute(
        options.stopEvent,
        { duration: now - started, monotonic_time: now, bytes: outcome.bytes },
        { ...startMetadata, ...outcome },
      );
    };
    res.once('close', () => {
      if (!finished) {
        const status = res.headersSent ? res.statusCode : CLIENT_CLOSED;
        finish({ status, format: undefined, bytes: 0, compressed: false, error: 'client_closed' });
      }
    });
    try {
      const outcome = serve(req, res, finish);
      if (outcome !== undefined) {
        finish(outcome);
        if (!res.writableEnded) res.end();
      }
    } catch (error) {
      log.error({ err: error }, 'telemeter/server: unexpected error while answering a scrape');
      const bytes = sendStatus(req, res, 500);
      finish({ status: 500, format: undefined, bytes, compressed: false });
    }
  };
}

/**
 * Writes `body` to `res` as it is produced, honouring backpressure. The status line waits for the
 * first chunk, so a render that fails early is an honest 503; one that fails after bytes went out
 * destroys the response, so the scraper sees a failed scrape, never a truncated body that parses.
 */
async function stream(
  res: ServerResponse,
  body: ChunkLog<Uint8Array>,
  headers: Record<string, string>,
  finish: (status: number, bytes: number, error?: 'render_failed' | 'client_closed') => void,
): Promise<void> {
  const reader = body.read();
  let bytes = 0;
  let started = false;
  try {
    for (;;) {
      const step = await reader.next();
      if (res.destroyed) {
        finish(res.headersSent ? 200 : CLIENT_CLOSED, bytes, 'client_closed');
        await reader.return();
        return;
      }
      if (!started) {
        started = true;
        // A body that is already complete (small, or joined late) gets a length instead of chunking.
        if (body.complete) {
          let length = 0;
          for (const chunk of body.available) length += chunk.length;
          headers['Content-Length'] = String(length);
        }
        res.writeHead(200, headers);
      }
      if (step.done) break;
      bytes += step.value.length;
      if (!res.write(step.value)) await writable(res);
    }
  } catch {
    // The coalescer has already logged the failure once for every scrape that shared the render.
    if (!started && !res.destroyed) {
      const sent = sendStatus(res.req, res, 503);
      finish(503, sent, 'render_failed');
    } else {
      finish(200, bytes, 'render_failed');
      res.destroy();
    }
    return;
  }
  finish(200, bytes);
  res.end();
}
