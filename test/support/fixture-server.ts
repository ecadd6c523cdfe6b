/**
 * Tiny HTTP servers on 127.0.0.1 serving fixed or computed exposition bodies, as scrape targets
 * for a real Prometheus.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { assertLoopbackHost } from './tools.js';

export const CONTENT_TYPE_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
export const CONTENT_TYPE_OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

export interface Rendered {
  body: string | Buffer;
  contentType: string;
  status?: number;
  headers?: Record<string, string>;
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface FixtureServer {
  port: number;
  /** Origin, e.g. `http://127.0.0.1:41234` (no path). */
  url: string;
  /** `127.0.0.1:<port>`, ready for `ScrapeJob.targets`. */
  target: string;
  /** The most recent requests (at most 100), oldest first. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface ServeOptions {
  /** Loopback host to bind, default 127.0.0.1. */
  host?: string;
}

const MAX_RECORDED = 100;

async function listen(
  handler: (req: IncomingMessage) => Promise<Rendered | undefined>,
  opts: ServeOptions,
): Promise<FixtureServer> {
  const host = opts.host ?? '127.0.0.1';
  assertLoopbackHost(host);
  const requests: RecordedRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (requests.length > MAX_RECORDED) requests.shift();
    handler(req).then(
      (r) => {
        if (!r) {
          res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
          return;
        }
        const body = typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body;
        res.writeHead(r.status ?? 200, {
          ...(r.headers ?? {}),
          'content-type': r.contentType,
          'content-length': String(body.length),
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (e: unknown) => {
        res
          .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
          .end(`render failed: ${String(e)}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return {
    port,
    url: `http://${hostPart}:${port}`,
    target: `${hostPart}:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Serve `render()`'s result on every path. */
export function serveText(
  render: () => Rendered | Promise<Rendered>,
  opts: ServeOptions = {},
): Promise<FixtureServer> {
  return listen(async () => render(), opts);
}

export type ExpositionFormat = 'text' | 'openmetrics';

/**
 * Pick the format from the `Accept` header, the way a scrape endpoint should: OpenMetrics when
 * `application/openmetrics-text` is acceptable (q > 0) and ranked at least as high as text/plain.
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'text';
  let qOpenMetrics = 0;
  let qText = 0;
  for (const range of accept.split(',')) {
    const [type, ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    let q = 1;
    for (const p of params) {
      const m = /^q=([0-9.]+)$/.exec(p);
      if (m) q = Number(m[1]);
    }
    if (type === 'application/openmetrics-text') qOpenMetrics = Math.max(qOpenMetrics, q);
    else if (type === 'text/plain' || type === 'text/*' || type === '*/*') qText = Math.max(qText, q);
  }
  return qOpenMetrics > 0 && qOpenMetrics >= qText ? 'openmetrics' : 'text';
}

/**
 * Serve an exposition in the format the path/Accept header asks for:
 * - `/metrics`: OpenMetrics when the Accept header asks for it, else 0.0.4 text;
 * - `/metrics-text`: always 0.0.4 text;
 * - `/metrics-openmetrics`: always OpenMetrics;
 * - anything else: 404.
 * Query strings are ignored for routing.
 */
export function serveExposition(
  render: (format: ExpositionFormat) => string | Buffer | Promise<string | Buffer>,
  opts: ServeOptions = {},
): Promise<FixtureServer> {
  return listen(async (req) => {
    const path = (req.url ?? '/').split('?')[0];
    let format: ExpositionFormat;
    if (path === '/metrics') format = negotiateFormat(req.headers.accept);
    else if (path === '/metrics-text') format = 'text';
    else if (path === '/metrics-openmetrics') format = 'openmetrics';
    else return undefined;
    const body = await render(format);
    return { body, contentType: format === 'openmetrics' ? CONTENT_TYPE_OPENMETRICS : CONTENT_TYPE_TEXT };
  }, opts);
}
