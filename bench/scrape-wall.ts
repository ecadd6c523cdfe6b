/**
 * The scrape as the scraper sees it: the time from sending `GET /metrics` to the last byte of the body, measured by
 * curl in a process of its own (as Prometheus scrapes: another process, over loopback), against 100k histogram
 * series served by telemeter's `serveMetrics` and by prom-client served as its README shows (`http.createServer`
 * answering `await register.metrics()`), and over protobuf with native buckets in place of the classic ones.
 * telemeter's default bounds for seconds are 14 to prom-client's 11, so its default body is larger; one case gives
 * it prom-client's bounds, for the same lines. Each server runs in a child process of its own, which also reports the
 * longest gap between two ticks of a 1 ms timer during the scrape (its longest event-loop stall). Rounds
 * alternate the cases; figures are medians.
 *
 *   npm run bench:one -- bench/scrape-wall.ts [--series 100000] [--rounds 7]
 */
import { execFile, fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { logUniform, seededRandom } from './measure.js';
import { PROM_DEFAULT_BUCKETS } from './peers.js';
import type { SectionResult, Table } from './report.js';
import { SERIES_TAGS, seriesSet } from './series-set.js';

const CASES = {
  telemeter: 'telemeter `serveMetrics` (text 0.0.4, streamed)',
  'telemeter-11-bounds': "telemeter `serveMetrics` (text 0.0.4, streamed), prom-client's 11 bounds",
  'telemeter-openmetrics': 'telemeter `serveMetrics` (OpenMetrics, streamed)',
  'telemeter-protobuf': 'telemeter `serveMetrics` (protobuf, streamed)',
  'telemeter-protobuf-native': "telemeter `serveMetrics` (protobuf, streamed), histogram: 'native'",
  'prom-client': 'prom-client `register.metrics()` behind `http.createServer`',
} as const;
type CaseId = keyof typeof CASES;

/** What Prometheus 2.42 sends without native histograms, for the text cases. */
const TEXT_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
/** What Prometheus 2.42 sends with --enable-feature=native-histograms. */
const PROTOBUF_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const ACCEPT: Record<CaseId, string> = {
  telemeter: 'text/plain;version=0.0.4',
  'telemeter-11-bounds': 'text/plain;version=0.0.4',
  'telemeter-openmetrics': TEXT_ACCEPT,
  'telemeter-protobuf': PROTOBUF_ACCEPT,
  'telemeter-protobuf-native': PROTOBUF_ACCEPT,
  'prom-client': TEXT_ACCEPT,
};

const CHILD_ENV = 'TELEMETER_SCRAPE_WALL_CASE';
const SERIES_ENV = 'TELEMETER_SCRAPE_WALL_SERIES';

export interface ScrapeWallOptions {
  readonly series?: number;
  readonly rounds?: number;
  readonly progress?: (message: string) => void;
}

export interface ScrapeWallFigures {
  readonly id: CaseId;
  readonly name: string;
  /** Median time to the last byte, in milliseconds, as curl saw it. */
  readonly lastByteMs: number;
  readonly bytes: number;
  /** The longest event-loop stall of the server over all rounds, in milliseconds. */
  readonly longestStallMs: number;
}

/** Each series gets 1 to 3 observations, as in the export section. */
function feed(size: number, observe: (labels: Record<string, string>, value: number) => void): void {
  const random = seededRandom(size);
  seriesSet(size).forEach((labels, index) => {
    for (let step = 0; step < 1 + (index % 3); step++) observe(labels, logUniform(random, 0.001, 20));
  });
}

async function serveCase(id: CaseId, size: number): Promise<number> {
  if (id === 'prom-client') {
    const { Histogram, Registry } = await import('prom-client');
    const register = new Registry();
    const histogram = new Histogram({
      name: 'bench_export_request_duration_seconds',
      help: 'bench',
      labelNames: [...SERIES_TAGS],
      registers: [register],
    });
    feed(size, (labels, value) => histogram.observe(labels, value));
    const server = createServer(async (_req, res) => {
      res.setHeader('Content-Type', register.contentType);
      res.end(await register.metrics());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }
  const { distribution, execute, Telemeter } = await import('telemeter');
  const { serveMetrics } = await import('telemeter/server');
  const eventName = 'bench.scrape.request';
  const telemeter = new Telemeter({
    metrics: [
      distribution('bench.export.request.duration.seconds', {
        eventName,
        measurement: 'value',
        unit: 'second',
        tags: SERIES_TAGS,
        // Native buckets (schema 3) instead of the 15 classic ones: what a native-histogram Prometheus reads. And
        // prom-client's 11 bounds instead of telemeter's 14 for seconds, so the two write the same lines.
        reporterOptions:
          id === 'telemeter-protobuf-native'
            ? { histogram: 'native' }
            : id === 'telemeter-11-bounds'
              ? { buckets: PROM_DEFAULT_BUCKETS }
              : {},
      }),
    ],
    maxSeries: size * 2,
    selfMetrics: false,
  });
  const measurements = { value: 0 };
  feed(size, (labels, value) => {
    measurements.value = value;
    execute(eventName, measurements, labels);
  });
  const server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1' });
  return server.port;
}

/** The longest gap between ticks of a 1 ms timer since the last reset, in milliseconds. */
function watchStalls(): { reset(): void; longest(): number } {
  let last = performance.now();
  let longest = 0;
  setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1).unref();
  return {
    reset() {
      last = performance.now();
      longest = 0;
    },
    longest: () => longest,
  };
}

interface Child {
  readonly port: number;
  request(message: 'reset' | 'stall'): Promise<number>;
  stop(): void;
}

async function startChild(id: CaseId, size: number): Promise<Child> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, [CHILD_ENV]: id, [SERIES_ENV]: String(size) },
    execArgv: process.execArgv.filter((arg) => arg !== '--expose-gc'),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`scrape-wall: ${id} did not start in 120 s`)), 120_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve((message as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`scrape-wall: ${id} exited with ${code}`)));
  });
  return {
    port,
    request: (message) =>
      new Promise<number>((resolve) => {
        child.once('message', (reply) => resolve((reply as { value: number }).value));
        child.send(message);
      }),
    stop: () => child.kill('SIGTERM'),
  };
}

const run = promisify(execFile);

/** One scrape by curl: seconds to the last byte, and the body's size. */
async function curlScrape(port: number, accept: string): Promise<{ seconds: number; bytes: number }> {
  const { stdout } = await run(
    'curl',
    [
      '-s',
      '-o',
      '/dev/null',
      '--max-time',
      '60',
      '-H',
      `Accept: ${accept}`,
      '-w',
      '%{time_total} %{size_download} %{http_code}',
      `http://127.0.0.1:${port}/metrics`,
    ],
    { timeout: 70_000 },
  );
  const [seconds, bytes, status] = stdout.trim().split(' ').map(Number);
  if (status !== 200) throw new Error(`scrape-wall: the scrape answered ${status}`);
  return { seconds, bytes };
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

export async function runScrapeWall(options: ScrapeWallOptions = {}): Promise<ScrapeWallFigures[]> {
  const size = options.series ?? 100_000;
  const rounds = options.rounds ?? 7;
  const ids = Object.keys(CASES) as CaseId[];
  const children = new Map<CaseId, Child>();
  const times = new Map<CaseId, number[]>(ids.map((id) => [id, []]));
  const bytes = new Map<CaseId, number>();
  const stalls = new Map<CaseId, number>(ids.map((id) => [id, 0]));
  try {
    for (const id of ids) {
      options.progress?.(`scrape-wall: starting ${id} with ${size} series`);
      children.set(id, await startChild(id, size));
      await curlScrape(children.get(id)!.port, ACCEPT[id]); // warm-up
    }
    for (let round = 0; round < rounds; round++) {
      for (const id of round % 2 === 0 ? ids : [...ids].reverse()) {
        const child = children.get(id)!;
        await child.request('reset');
        const scrape = await curlScrape(child.port, ACCEPT[id]);
        times.get(id)!.push(scrape.seconds * 1000);
        bytes.set(id, scrape.bytes);
        stalls.set(id, Math.max(stalls.get(id)!, await child.request('stall')));
      }
    }
  } finally {
    for (const child of children.values()) child.stop();
  }
  return ids.map((id) => ({
    id,
    name: CASES[id],
    lastByteMs: median(times.get(id)!),
    bytes: bytes.get(id) ?? 0,
    longestStallMs: stalls.get(id)!,
  }));
}

/** The figures as the suite's table. */
export function scrapeWallTable(figures: readonly ScrapeWallFigures[], series: number): Table {
  const prom = figures.find((f) => f.id === 'prom-client');
  return {
    title: `Scrape as the scraper sees it: ${series.toLocaleString('en-US')} histogram series, curl in another process`,
    header: ['server', 'time to last byte ms (median)', 'body MiB', 'prom-client ÷ this', 'longest stall ms'],
    textColumns: 1,
    rows: figures.map((f) => [
      f.name,
      f.lastByteMs.toFixed(0),
      (f.bytes / 2 ** 20).toFixed(1),
      prom === undefined ? '–' : `${(prom.lastByteMs / f.lastByteMs).toFixed(1)}×`,
      f.longestStallMs.toFixed(1),
    ]),
  };
}

/** The `scrape` section of `npm run bench`. */
export async function runScrapeSection(options: {
  readonly quick: boolean;
  readonly progress: (message: string) => void;
}): Promise<SectionResult> {
  const series = options.quick ? 10_000 : 100_000;
  const figures = await runScrapeWall({ series, rounds: options.quick ? 3 : 7, progress: options.progress });
  const telemeter = figures.find((f) => f.id === 'telemeter')!;
  const protobuf = figures.find((f) => f.id === 'telemeter-protobuf')!;
  const prom = figures.find((f) => f.id === 'prom-client')!;
  return {
    tables: [scrapeWallTable(figures, series)],
    goals: [
      {
        goal: `${series.toLocaleString('en-US')} histogram series, time to the last byte seen by curl: >= 10× faster than prom-client`,
        measured: `${(prom.lastByteMs / telemeter.lastByteMs).toFixed(1)}×`,
        met: prom.lastByteMs / telemeter.lastByteMs >= 10,
      },
      {
        goal: 'the same scrape: longest event-loop stall of the server <= 20 ms',
        measured: `${telemeter.longestStallMs.toFixed(1)} ms`,
        met: telemeter.longestStallMs <= 20,
      },
      {
        goal: `${series.toLocaleString('en-US')} histogram series over protobuf: >= 10× faster than prom-client, stall <= 20 ms`,
        measured: `${(prom.lastByteMs / protobuf.lastByteMs).toFixed(1)}×, ${protobuf.longestStallMs.toFixed(1)} ms`,
        met: prom.lastByteMs / protobuf.lastByteMs >= 10 && protobuf.longestStallMs <= 20,
      },
    ],
  };
}

const childCase = process.env[CHILD_ENV] as CaseId | undefined;
if (childCase !== undefined) {
  const port = await serveCase(childCase, Number(process.env[SERIES_ENV]));
  const stalls = watchStalls();
  process.on('message', (message) => {
    if (message === 'reset') {
      stalls.reset();
      process.send?.({ value: 0 });
    } else process.send?.({ value: stalls.longest() });
  });
  process.on('SIGTERM', () => process.exit(0));
  process.send?.({ port });
} else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argument = (name: string) => {
    const index = process.argv.indexOf(`--${name}`);
    return index < 0 ? undefined : Number(process.argv[index + 1]);
  };
  const series = argument('series') ?? 100_000;
  const figures = await runScrapeWall({
    series,
    rounds: argument('rounds'),
    progress: (message) => process.stderr.write(`${message}\n`),
  });
  const table = scrapeWallTable(figures, series);
  console.log(`| ${table.header.join(' | ')} |`);
  console.log(`|${table.header.map(() => '---').join('|')}|`);
  for (const row of table.rows) console.log(`| ${row.join(' | ')} |`);
}
