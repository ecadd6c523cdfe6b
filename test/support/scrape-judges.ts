/**
 * The endpoint side and the VictoriaMetrics side of the tests where several real scrapers read one endpoint: a
 * server that notes what each scrape asked for and got, and Debian's VictoriaMetrics scraping it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild } from '../e2e/child-process.js';
import { freePort, requireTool } from './tools.js';

const VICTORIA_METRICS = '/usr/bin/victoria-metrics';

/** Whether VictoriaMetrics is installed; under CI=true a missing one fails the suite (see requireTool). */
export function requireVictoriaMetrics(): boolean {
  return requireTool(VICTORIA_METRICS, { name: 'victoria-metrics', debianPackage: 'victoria-metrics' });
}

/** One scrape as the endpoint answered it. */
export interface ScrapeSeen {
  /** The `scraper` query parameter of the scrape (each scraper's config sets its own), else its User-Agent. */
  readonly scraper: string;
  readonly accept: string;
  readonly contentType: string;
}

export interface NotingServer {
  readonly server: Server;
  /** `127.0.0.1:<port>`, as a scrape config's target. */
  readonly target: string;
  /** Every scrape so far, in order. */
  readonly seen: ScrapeSeen[];
  /** Scrapes so far by `scraper`. */
  count(scraper: string): number;
  close(): Promise<void>;
}

/**
 * Serves `handler` on a free loopback port and notes each scrape: the endpoint hands its headers to `writeHead`, so
 * the Content-Type it answered is read there.
 */
export async function serveNotingScrapes(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<NotingServer> {
  const seen: ScrapeSeen[] = [];
  const server = createServer((req, res) => {
    const scraper =
      new URLSearchParams(req.url?.split('?')[1] ?? '').get('scraper') ?? req.headers['user-agent'] ?? '';
    const writeHead = res.writeHead;
    res.writeHead = ((status: number, headers: Record<string, string>) => {
      seen.push({
        scraper: String(scraper),
        accept: req.headers.accept ?? '',
        contentType: headers['Content-Type'],
      });
      return writeHead.call(res, status, headers);
    }) as typeof res.writeHead;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    count: (scraper) => seen.filter((s) => s.scraper === scraper).length,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface VictoriaMetricsHandle {
  /** Its HTTP API, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Stops it and removes its data. */
  stop(): Promise<void>;
}

/**
 * VictoriaMetrics scraping `target` every second, as scraper `vm` (`?scraper=vm`), with its data in a temporary
 * directory. Queries see samples as soon as they are stored (`-search.latencyOffset=0s`).
 */
export async function startVictoriaMetrics(target: string): Promise<VictoriaMetricsHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'telemeter-vm-'));
  const config = join(dir, 'scrape.yml');
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s' },
      scrape_configs: [
        { job_name: 'vm', static_configs: [{ targets: [target] }], params: { scraper: ['vm'] } },
      ],
    }),
  );
  const port = await freePort();
  const child = startChild(
    VICTORIA_METRICS,
    [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${join(dir, 'data')}`,
      `-promscrape.config=${config}`,
      '-search.latencyOffset=0s',
      '-loggerLevel=WARN',
    ],
    { name: 'victoria-metrics' },
  );
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await child.stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
