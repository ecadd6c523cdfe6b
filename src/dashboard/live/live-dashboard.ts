import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzip } from 'node:zlib';
import { invalidOption } from '../../errors.js';
import { checkOptionKeys } from '../../options.js';
import type { MetricsServer, RouteHandler } from '../../server/metrics-server.js';
import { acceptsGzip } from '../../server/negotiation.js';
import { sendStatus } from '../../server/plain-responses.js';
import { type Asset, dashboardAssets } from './assets.js';
import { DashboardHistory, type DashboardSource, HISTORY_OPTIONS, type HistoryOptions } from './history.js';

/** Options of {@link liveDashboard} and {@link mountDashboard}. */
export interface LiveDashboardOptions extends HistoryOptions {
  /** Path the dashboard is served at; it must be the path it is mounted at. Default `/dashboard`. */
  readonly path?: string;
  /** Heading of the page. Default `telemeter`. */
  readonly title?: string;
}

/** A running live dashboard. */
export interface LiveDashboard {
  /** Serves the page, its files and its JSON API at `path` and below. Mount it behind your auth. */
  readonly handler: RouteHandler;
  /** The path the handler expects, e.g. `/dashboard`. */
  readonly path: string;
  /** The history the page is drawn from. */
  readonly history: DashboardHistory;
  /** Stops sampling. The handler keeps answering with the history it holds. Idempotent. */
  stop(): void;
}

/**
 * The Content-Security-Policy of every dashboard response: scripts, styles and data from the server
 * itself only, no inline script or style, no framing, no form posts, no base URL changes. uPlot writes
 * styles through the CSSOM (`element.style.x = ...`), which `style-src` does not govern.
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': DASHBOARD_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Bodies smaller than this are sent as they are: gzip would not pay for its header. */
const GZIP_THRESHOLD = 1024;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(path: string, title: string): string {
  const base = escapeHtml(path);
  const heading = escapeHtml(title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${heading} · live dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}/assets/uPlot.min.css">
<link rel="stylesheet" href="${base}/assets/dashboard.css">
<script type="module" src="${base}/assets/app.js"></script>
</head>
<body>
<header class="top">
<h1>${heading} <span class="subtitle">live dashboard</span></h1>
<ul id="status" class="status" aria-live="polite"></ul>
</header>
<nav id="filters" class="filters" aria-label="Filter by tag"></nav>
<p id="notice" class="notice" hidden></p>
<main id="groups"></main>
<noscript><p class="notice">The live dashboard needs JavaScript.</p></noscript>
</body>
</html>
`;
}

const KNOWN_OPTIONS: readonly string[] = ['path', 'title', ...HISTORY_OPTIONS];

function validPath(path: unknown, where: string): string {
  if (typeof path !== 'string' || !/^\/[^\s?#]*[^/\s?#]$/.test(path)) {
    invalidOption(
      `${where}: option path must start with '/', not end with '/', and contain no spaces, '?' or '#', got ${JSON.stringify(path)}`,
    );
  }
  return path;
}

/** Tag filters from `tag.<name>=<value>` query parameters. */
function filterOf(query: URLSearchParams): Map<string, string> {
  const filter = new Map<string, string>();
  for (const [key, value] of query) if (key.startsWith('tag.')) filter.set(key.slice(4), value);
  return filter;
}

function sendBody(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  headers: Record<string, string>,
): void {
  const send = (payload: Buffer, encoded: boolean) => {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      ...headers,
      ...(encoded ? { 'Content-Encoding': 'gzip' } : {}),
      Vary: 'Accept-Encoding',
      'Content-Length': String(payload.length),
    });
    res.end(req.method === 'HEAD' ? undefined : payload);
  };
  if (body.length < GZIP_THRESHOLD || !acceptsGzip(req.headers['accept-encoding'] as string | undefined)) {
    send(body, false);
    return;
  }
  gzip(body, (error, zipped) => (error === null ? send(zipped, true) : send(body, false)));
}

function sendAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  const headers = { 'Content-Type': asset.contentType, 'Cache-Control': 'no-cache', ETag: asset.etag };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, { ...SECURITY_HEADERS, ...headers });
    res.end();
    return;
  }
  sendBody(req, res, asset.body, headers);
}

function sendJson(req: IncomingMessage, res: ServerResponse, value: unknown): void {
  sendBody(req, res, Buffer.from(JSON.stringify(value)), {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
  });
}

/**
 * The live dashboard of a Telemeter: a page with one chart per metric definition, fed by a history
 * that the server aggregates (see {@link DashboardHistory}), so the browser receives a few numbers per
 * series per second whatever the event rate, and a reload keeps the history. Sampling starts now.
 *
 * The handler answers, below `path`: the page (`GET path`), its files (`path/assets/...`, uPlot from
 * node_modules), the layout (`path/api/meta`) and the data (`path/api/data?since=<ms>&tag.<name>=<value>`),
 * each with a strict Content-Security-Policy. It does no authentication: mount it on `serveMetrics`
 * (see {@link mountDashboard}) or behind your own.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` when `telemeter` is not a Telemeter;
 *   `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid key) or `ERR_TELEMETER_INVALID_OPTION` naming the option.
 * @throws TelemeterError `ERR_TELEMETER_MISSING_DEPENDENCY` when uPlot is not installed.
 */
export function liveDashboard(telemeter: DashboardSource, options: LiveDashboardOptions = {}): LiveDashboard {
  return startDashboard(telemeter, options, 'telemeter/dashboard: liveDashboard');
}

function startDashboard(
  telemeter: DashboardSource,
  options: LiveDashboardOptions,
  where: string,
): LiveDashboard {
  checkOptionKeys(where, options, KNOWN_OPTIONS);
  const { path: pathOption = '/dashboard', title = 'telemeter', ...historyOptions } = options;
  const path = validPath(pathOption, where);
  if (typeof title !== 'string') invalidOption(`${where}: option title must be a string`);
  const history = new DashboardHistory(telemeter, historyOptions, where);
  const assets = dashboardAssets();
  const html = Buffer.from(page(path, title));

  const handler: RouteHandler = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const pathname = url.pathname;
    if (pathname !== path && !pathname.startsWith(`${path}/`)) {
      sendStatus(req, res, 404, SECURITY_HEADERS);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendStatus(req, res, 405, { ...SECURITY_HEADERS, Allow: 'GET, HEAD' });
      return;
    }
    const rest = pathname.slice(path.length);
    if (rest === '' || rest === '/') {
      sendBody(req, res, html, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      return;
    }
    if (rest === '/api/meta') {
      sendJson(req, res, history.meta());
      return;
    }
    if (rest === '/api/data') {
      const since = url.searchParams.get('since');
      const sinceMs = since === null || since === '' ? undefined : Number(since);
      sendJson(
        req,
        res,
        history.data(Number.isFinite(sinceMs) ? sinceMs : undefined, filterOf(url.searchParams)),
      );
      return;
    }
    const asset = rest.startsWith('/assets/') ? assets(rest.slice('/assets/'.length)) : undefined;
    if (asset === undefined) {
      sendStatus(req, res, 404, SECURITY_HEADERS);
      return;
    }
    sendAsset(req, res, asset);
  };

  history.start();
  return { handler, path, history, stop: () => history.stop() };
}

/**
 * Starts a {@link liveDashboard} and mounts it on a metrics server at `options.path` (default
 * `/dashboard`), behind the server's allowlist and auth, linked from its index page as "Live dashboard".
 * With a bearer token, open it once as `<path>?token=<token>` (see docs/dashboard.md).
 *
 * ```ts
 * import { randomUUID } from 'node:crypto';
 * import { Telemeter } from 'telemeter';
 * import { mountDashboard } from 'telemeter/dashboard';
 * import { serveMetrics } from 'telemeter/server';
 *
 * const telemeter = new Telemeter({ metrics: [] });
 * const token = process.env.METRICS_TOKEN ?? randomUUID();
 * const server = await serveMetrics(telemeter, { port: 9091, auth: { bearer: token } });
 * mountDashboard(server, telemeter);
 * const page = server.url.replace(/\/metrics$/, '/dashboard');
 * console.log(page); //=> http://[::1]:9091/dashboard
 * console.log((await fetch(`${page}?token=${token}`)).status); //=> 200
 * await server.close();
 * ```
 *
 * @throws the errors of {@link liveDashboard}, and the server's error when the path is already mounted.
 */
export function mountDashboard(
  server: MetricsServer,
  telemeter: DashboardSource,
  options: LiveDashboardOptions = {},
): LiveDashboard {
  const dashboard = startDashboard(telemeter, options, 'telemeter/dashboard: mountDashboard');
  try {
    server.mount(dashboard.path, dashboard.handler, { title: 'Live dashboard' });
  } catch (error) {
    dashboard.stop();
    throw error;
  }
  return dashboard;
}
