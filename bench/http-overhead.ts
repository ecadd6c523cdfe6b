/**
 * What HTTP instrumentation costs, in throughput and in the server's own CPU time per request: autocannon
 * against the same tiny JSON endpoint served
 * bare by node:http, by node:http instrumented with telemeter (instrumentHttpServer + httpMetrics + a
 * Telemeter), and by Express 5 bare, with telemeter's expressMiddleware, and with express-prom-bundle; plus a
 * reference: bare node:http spinning a fixed few microseconds per request, to show what that much work costs here;
 * and a second reference: the least any request-duration metric does (two clock reads, one bucket), its floor.
 *
 * Each server runs in its own child process, so autocannon's load generation never shares the server's
 * event loop, pinned to a CPU of its own where there are two (see {@link HttpOverheadOptions.pin}); cases run
 * one after another on loopback, each after a short warm-up, first at saturation (a closed loop: throughput) and
 * then at a fixed offered rate (an open loop: CPU per request when few requests share an event-loop turn, where
 * work done once per turn costs each request the most).
 *
 *   npm run bench:one -- bench/http-overhead.ts [--duration 5] [--rounds 1] [--rate 2000] [--pipelining 1]
 *     [--cases node:http,express] [--no-pin]
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { floorHistogram } from './measure.js';

/** One load, as the server saw it. */
export interface LoadFigures {
  readonly requestsPerSecond: number;
  readonly latencyP99Ms: number;
  /**
   * Server CPU time (user + system) per request, in microseconds. Throughput on a shared 2-vCPU machine moves
   * with whatever else runs; the server's own CPU cost per request moves far less, so both are reported.
   */
  readonly cpuMicrosPerRequest: number;
}

export interface HttpOverheadResult {
  readonly id: string;
  readonly name: string;
  /** The bare server this case is compared with (itself for a bare case). */
  readonly baseline: string;
  /** Closed loop: as many requests as the server answers (the median round's figures). */
  readonly saturation: LoadFigures;
  /** Open loop at the fixed offered rate (the median round's figures). */
  readonly fixedRate: LoadFigures;
  /** Medians, over the rounds, of this case against its bare baseline of the same round. */
  readonly kept: {
    /** Saturation requests/s, as a share of the baseline's. */
    readonly throughput: number;
    /** Baseline CPU per request ÷ this case's, at saturation: 1 when instrumentation costs nothing. */
    readonly cpuAtSaturation: number;
    /** The same at the fixed offered rate, where fewer requests share an event-loop turn. */
    readonly cpuAtFixedRate: number;
  };
}

export interface HttpOverheadOptions {
  /** Measured seconds per case and load (after a 1 s warm-up). Default 5. */
  readonly durationSeconds?: number;
  /** Rounds over all cases; the order of the cases is reversed every other round. Default 1. */
  readonly rounds?: number;
  /** Concurrent keep-alive connections. Default 16. */
  readonly connections?: number;
  /**
   * Requests in flight per connection. Default 1, like real HTTP/1.1 clients. More makes the load generator
   * cheaper per request, so the server's own cost decides the throughput (a stricter test of overhead).
   */
  readonly pipelining?: number;
  /**
   * The fixed offered rate, in requests per second over all connections. Default 2000: well under what any case
   * serves here, so each event-loop turn handles a request or two and per-turn work shows at its full cost.
   */
  readonly rate?: number;
  /** Which cases to run, by id (`node:http`, `node:http+telemeter`, `express`, ...). Default all. */
  readonly cases?: readonly string[];
  /**
   * Runs each server alone on one CPU and autocannon on another (`taskset`), so that neither migrates or waits
   * for the other's core. Default true on a machine with two or more CPUs. It does not make runs agree: over the
   * runs that introduced it, the minimal reference row (which adds next to nothing) read 89% to 102% unpinned and
   * 93% to 111% pinned.
   */
  readonly pin?: boolean;
}

/**
 * The reference case spins this long in each request, with no instrumentation: how much throughput a known,
 * small amount of work per request costs on this machine, to read the telemeter rows against.
 */
const BUSY_MICROS = 3;
/** The minimal reference case's histogram bounds, in milliseconds (OpenTelemetry's defaults, scaled). */
const BUCKETS_MS = [5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

const CASES = {
  'node:http': 'bare node:http',
  'node:http+telemeter': 'node:http + telemeter (instrumentHttpServer, httpMetrics)',
  'node:http+busy': `bare node:http + ${BUSY_MICROS} µs of busy work per request (reference)`,
  'node:http+minimal':
    'bare node:http + the least a duration histogram needs: two clock reads and one bucket (reference)',
  express: 'Express 5',
  'express+telemeter': 'Express 5 + telemeter (expressMiddleware, httpMetrics)',
  'express+prom-bundle': 'Express 5 + express-prom-bundle 8 (method, path, status)',
} as const;
type CaseId = keyof typeof CASES;

const baselineOf = (id: CaseId): CaseId => (id.startsWith('express') ? 'express' : 'node:http');

const CHILD_ENV = 'TELEMETER_HTTP_BENCH_CASE';
const PATH = '/users/42';
const BODY = JSON.stringify({ id: 42, name: 'Ada Lovelace' });

interface RoundFigures {
  readonly saturation: LoadFigures;
  readonly fixedRate: LoadFigures;
}

/** The CPU each side runs on when pinned: the server alone on one, autocannon on another. */
const SERVER_CPU = 1;
const LOAD_CPU = 0;

/**
 * Binds every thread of `pid` to one CPU with `taskset`; false (with a note on stderr) where that is not possible,
 * and the run goes on unpinned.
 */
function pin(pid: number, cpu: number | string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch (error) {
    process.stderr.write(`http-overhead: not pinned (taskset: ${(error as Error).message})\n`);
    return false;
  }
}

/**
 * Runs every case at saturation and at the fixed rate, in interleaved rounds, and returns each case's median
 * figures and the medians of its per-round ratios to its bare baseline, in case order.
 */
export async function runHttpOverhead(options: HttpOverheadOptions = {}): Promise<HttpOverheadResult[]> {
  const cpus = availableParallelism();
  const pinned = (options.pin ?? cpus >= 2) && pin(process.pid, LOAD_CPU);
  try {
    return await runCases(options, pinned);
  } finally {
    // The rest of `npm run bench` runs in this process, on every CPU again.
    if (pinned) pin(process.pid, `0-${cpus - 1}`);
  }
}

async function runCases(options: HttpOverheadOptions, pinned: boolean): Promise<HttpOverheadResult[]> {
  const durationSeconds = options.durationSeconds ?? 5;
  const rounds = options.rounds ?? 1;
  const connections = options.connections ?? 16;
  const pipelining = options.pipelining ?? 1;
  const rate = options.rate ?? 2000;
  const ids = (options.cases ?? Object.keys(CASES)) as CaseId[];
  for (const id of ids) {
    if (!Object.hasOwn(CASES, id)) throw new TypeError(`http-overhead: unknown case "${id}"`);
  }
  const perRound: Array<Map<CaseId, RoundFigures>> = [];
  for (let round = 0; round < rounds; round++) {
    const figures = new Map<CaseId, RoundFigures>();
    // Reversed every other round, so that a machine speeding up or slowing down over a round favours no case.
    for (const id of round % 2 === 0 ? ids : [...ids].reverse()) {
      const child = await startChild(id, pinned);
      try {
        await load(child, 1, connections, pipelining, 0);
        const saturation = await load(child, durationSeconds, connections, pipelining, 0);
        const fixedRate = await load(child, durationSeconds, connections, 1, rate);
        figures.set(id, { saturation, fixedRate });
      } finally {
        await child.stop();
      }
    }
    perRound.push(figures);
  }
  return ids.map((id) => {
    const baseline = baselineOf(id);
    const ratios = (of: (own: RoundFigures, base: RoundFigures) => number) =>
      median(perRound.flatMap((r) => (r.has(baseline) ? [of(r.get(id)!, r.get(baseline)!)] : [])));
    const medianRound = (pick: (r: RoundFigures) => LoadFigures) => {
      const list = perRound
        .map((r) => pick(r.get(id)!))
        .sort((a, b) => a.cpuMicrosPerRequest - b.cpuMicrosPerRequest);
      return list[Math.floor((list.length - 1) / 2)];
    };
    return {
      id,
      name: CASES[id],
      baseline: CASES[baseline],
      saturation: medianRound((r) => r.saturation),
      fixedRate: medianRound((r) => r.fixedRate),
      kept: {
        throughput: ratios(
          (own, base) => own.saturation.requestsPerSecond / base.saturation.requestsPerSecond,
        ),
        cpuAtSaturation: ratios(
          (own, base) => base.saturation.cpuMicrosPerRequest / own.saturation.cpuMicrosPerRequest,
        ),
        cpuAtFixedRate: ratios(
          (own, base) => base.fixedRate.cpuMicrosPerRequest / own.fixedRate.cpuMicrosPerRequest,
        ),
      },
    };
  });
}

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** One load: closed loop when `rate` is 0, else open loop at `rate` requests/s over all connections. */
async function load(
  child: Child,
  durationSeconds: number,
  connections: number,
  pipelining: number,
  rate: number,
): Promise<LoadFigures> {
  const cpuBefore = await child.cpu();
  const result = await autocannon({
    url: `http://127.0.0.1:${child.port}${PATH}`,
    connections,
    pipelining,
    duration: durationSeconds,
    ...(rate > 0 ? { overallRate: rate } : {}),
  });
  const cpu = (await child.cpu()) - cpuBefore;
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(`http-overhead: ${result.errors} errors and ${result.non2xx} non-2xx responses`);
  }
  return {
    requestsPerSecond: result.requests.average,
    latencyP99Ms: result.latency.p99,
    cpuMicrosPerRequest: cpu / result.requests.total,
  };
}

interface Child {
  readonly port: number;
  /** The server process's CPU time so far (user + system), in microseconds. */
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

async function startChild(id: CaseId, pinned: boolean): Promise<Child> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, [CHILD_ENV]: id },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (pinned) pin(child.pid as number, SERVER_CPU);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`http-overhead: ${id} did not start in 30 s`)), 30_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve((message as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`http-overhead: ${id} exited with ${code}`)));
  });
  return {
    port,
    cpu: () =>
      new Promise<number>((resolve) => {
        child.once('message', (message) => resolve((message as { cpu: number }).cpu));
        child.send('cpu');
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function respond(_req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('content-type', 'application/json');
  res.end(BODY);
}

async function serveCase(id: CaseId): Promise<Server> {
  if (id === 'node:http+busy') {
    return createServer((req, res) => {
      const until = performance.now() + BUSY_MICROS / 1000;
      while (performance.now() < until);
      respond(req, res);
    });
  }
  if (id === 'node:http+minimal') {
    // The floor of any request-duration metric: a listener that stamps the arrival on the response, and Node's
    // finish channel reading the clock again into one unlabelled histogram. No route, status, method or sizes.
    const started = Symbol('started');
    const observe = floorHistogram(BUCKETS_MS);
    const server = createServer(respond);
    server.prependListener('request', (_req, res) => {
      (res as ServerResponse & { [started]?: number })[started] = performance.now();
    });
    diagnosticsChannel.subscribe('http.server.response.finish', (message) => {
      const { response } = message as { response: ServerResponse & { [started]?: number } };
      observe(performance.now() - (response[started] ?? 0));
    });
    return server;
  }
  if (id === 'node:http' || id === 'node:http+telemeter') {
    const server = createServer(respond);
    if (id === 'node:http+telemeter') {
      const { Telemeter } = await import('telemeter');
      const { httpMetrics, instrumentHttpServer } = await import('telemeter/http');
      new Telemeter({ metrics: httpMetrics() });
      instrumentHttpServer(server, { route: ['/users/:id'] });
    }
    return server;
  }
  const { default: express } = await import('express');
  const app = express();
  if (id === 'express+telemeter') {
    const { Telemeter } = await import('telemeter');
    const { expressMiddleware, httpMetrics } = await import('telemeter/http');
    new Telemeter({ metrics: httpMetrics() });
    app.use(expressMiddleware());
  } else if (id === 'express+prom-bundle') {
    const { default: promBundle } = await import('express-prom-bundle');
    app.use(promBundle({ includeMethod: true, includePath: true }));
  }
  app.get('/users/:id', (_req, res) => {
    res.json({ id: 42, name: 'Ada Lovelace' });
  });
  return createServer(app);
}

/** The results as a Markdown table, for the command line and BENCHMARKS.md. */
export function formatHttpOverhead(results: readonly HttpOverheadResult[], rate: number): string {
  const percent = (ratio: number) => (Number.isNaN(ratio) ? '–' : `${(100 * ratio).toFixed(1)}%`);
  const lines = [
    `| server | requests/s (saturation) | kept | CPU µs/request (saturation) | CPU kept | CPU µs/request at ${rate}/s | CPU kept |`,
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.name} | ${Math.round(r.saturation.requestsPerSecond)} | ${percent(r.kept.throughput)} | ${r.saturation.cpuMicrosPerRequest.toFixed(1)} | ${percent(r.kept.cpuAtSaturation)} | ${r.fixedRate.cpuMicrosPerRequest.toFixed(1)} | ${percent(r.kept.cpuAtFixedRate)} |`,
    );
  }
  return lines.join('\n');
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? undefined : process.argv[index + 1];
}

function numberArgument(name: string): number | undefined {
  const value = argument(name);
  return value === undefined ? undefined : Number(value);
}

const childCase = process.env[CHILD_ENV] as CaseId | undefined;
if (childCase !== undefined) {
  const server = await serveCase(childCase);
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('message', () => {
    const { user, system } = process.cpuUsage();
    process.send?.({ cpu: user + system });
  });
  process.on('SIGTERM', () => process.exit(0));
} else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await runHttpOverhead({
    durationSeconds: numberArgument('duration'),
    rounds: numberArgument('rounds'),
    pipelining: numberArgument('pipelining'),
    rate: numberArgument('rate'),
    cases: argument('cases')?.split(','),
    pin: !process.argv.includes('--no-pin'),
  });
  console.log(formatHttpOverhead(results, numberArgument('rate') ?? 2000));
}
