/**
 * What HTTP instrumentation costs in throughput: autocannon against the same tiny JSON endpoint served
 * bare by node:http, by node:http instrumented with telemeter (instrumentHttpServer + httpMetrics + a
 * Telemeter), and by Express 5 bare, with telemeter's expressMetrics, and with express-prom-bundle; plus a
 * reference: bare node:http spinning a fixed few microseconds per request, to show what that much work costs here.
 *
 * Each server runs in its own child process, so autocannon's load generation never shares the server's
 * event loop; cases run one after another on loopback, each after a short warm-up.
 *
 *   node --import tsx bench/http-overhead.ts [--duration 5] [--rounds 1] [--pipelining 1] [--cases node:http,express]
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

export interface HttpOverheadResult {
  readonly name: string;
  readonly requestsPerSecond: number;
  readonly latencyP99Ms: number;
  /**
   * Server CPU time (user + system) per request, in microseconds. Throughput on a shared 2-vCPU machine moves
   * with whatever else runs; the server's own CPU cost per request moves far less, so both are reported.
   */
  readonly serverCpuMicrosPerRequest: number;
}

export interface HttpOverheadOptions {
  /** Measured seconds per case (after a 1 s warm-up). Default 5. */
  readonly durationSeconds?: number;
  /** Rounds over all cases; each case reports its median round. Default 1. */
  readonly rounds?: number;
  /** Concurrent keep-alive connections. Default 16. */
  readonly connections?: number;
  /**
   * Requests in flight per connection. Default 1, like real HTTP/1.1 clients. More makes the load generator
   * cheaper per request, so the server's own cost decides the throughput (a stricter test of overhead).
   */
  readonly pipelining?: number;
  /** Which cases to run, by id (`node:http`, `node:http+telemeter`, `express`, ...). Default all. */
  readonly cases?: readonly string[];
}

/**
 * The reference case spins this long in each request, with no instrumentation: how much throughput a known,
 * small amount of work per request costs on this machine, to read the telemeter rows against.
 */
const BUSY_MICROS = 3;

const CASES = {
  'node:http': 'bare node:http',
  'node:http+telemeter': 'node:http + telemeter (instrumentHttpServer, httpMetrics)',
  'node:http+busy': `bare node:http + ${BUSY_MICROS} µs of busy work per request (reference)`,
  express: 'Express 5',
  'express+telemeter': 'Express 5 + telemeter (expressMetrics, httpMetrics)',
  'express+prom-bundle': 'Express 5 + express-prom-bundle 8 (method, path, status)',
} as const;
type CaseId = keyof typeof CASES;

const CHILD_ENV = 'TELEMETER_HTTP_BENCH_CASE';
const PATH = '/users/42';
const BODY = JSON.stringify({ id: 42, name: 'Ada Lovelace' });

/** Runs every case and returns requests per second and p99 latency, in case order. */
export async function runHttpOverhead(options: HttpOverheadOptions = {}): Promise<HttpOverheadResult[]> {
  const durationSeconds = options.durationSeconds ?? 5;
  const rounds = options.rounds ?? 1;
  const connections = options.connections ?? 16;
  const pipelining = options.pipelining ?? 1;
  const ids = (options.cases ?? Object.keys(CASES)) as CaseId[];
  for (const id of ids) {
    if (!Object.hasOwn(CASES, id)) throw new TypeError(`http-overhead: unknown case "${id}"`);
  }
  const samples = new Map<CaseId, HttpOverheadResult[]>();
  for (let round = 0; round < rounds; round++) {
    for (const id of ids) {
      const child = await startChild(id);
      try {
        await load(child.port, 1, connections, pipelining);
        const cpuBefore = await child.cpu();
        const result = await load(child.port, durationSeconds, connections, pipelining);
        const cpu = (await child.cpu()) - cpuBefore;
        const { total, ...rest } = result;
        const list = samples.get(id) ?? [];
        list.push({ name: CASES[id], ...rest, serverCpuMicrosPerRequest: cpu / total });
        samples.set(id, list);
      } finally {
        await child.stop();
      }
    }
  }
  return ids.map((id) => {
    const list = [...(samples.get(id) ?? [])].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
    return list[Math.floor((list.length - 1) / 2)];
  });
}

async function load(
  port: number,
  durationSeconds: number,
  connections: number,
  pipelining: number,
): Promise<{ requestsPerSecond: number; latencyP99Ms: number; total: number }> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${PATH}`,
    connections,
    pipelining,
    duration: durationSeconds,
  });
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(`http-overhead: ${result.errors} errors and ${result.non2xx} non-2xx responses`);
  }
  return {
    requestsPerSecond: result.requests.average,
    latencyP99Ms: result.latency.p99,
    total: result.requests.total,
  };
}

interface Child {
  readonly port: number;
  /** The server process's CPU time so far (user + system), in microseconds. */
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

async function startChild(id: CaseId): Promise<Child> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, [CHILD_ENV]: id },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
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
  if (id === 'node:http' || id === 'node:http+telemeter') {
    const server = createServer(respond);
    if (id === 'node:http+telemeter') {
      const { Telemeter } = await import('../src/index.js');
      const { httpMetrics, instrumentHttpServer } = await import('../src/http/index.js');
      new Telemeter({ metrics: httpMetrics() });
      instrumentHttpServer(server, { route: ['/users/:id'] });
    }
    return server;
  }
  const { default: express } = await import('express');
  const app = express();
  if (id === 'express+telemeter') {
    const { Telemeter } = await import('../src/index.js');
    const { expressMetrics, httpMetrics } = await import('../src/http/index.js');
    new Telemeter({ metrics: httpMetrics() });
    app.use(expressMetrics());
  } else if (id === 'express+prom-bundle') {
    const { default: promBundle } = await import('express-prom-bundle');
    app.use(promBundle({ includeMethod: true, includePath: true }));
  }
  app.get('/users/:id', (_req, res) => {
    res.json({ id: 42, name: 'Ada Lovelace' });
  });
  return createServer(app);
}

function formatTable(results: readonly HttpOverheadResult[]): string {
  const baseline = (name: string) => results.find((r) => r.name === name) ?? results[0];
  const nodeBare = baseline(CASES['node:http']);
  const expressBare = baseline(CASES.express);
  const lines = [
    '| server | requests/s | vs its bare baseline | p99 latency (ms) | server CPU µs/request | CPU vs bare |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const base = r.name.startsWith('Express') ? expressBare : nodeBare;
    const rps = (100 * r.requestsPerSecond) / base.requestsPerSecond;
    const cpu = r.serverCpuMicrosPerRequest;
    const cpuDelta = cpu - base.serverCpuMicrosPerRequest;
    lines.push(
      `| ${r.name} | ${Math.round(r.requestsPerSecond)} | ${rps.toFixed(1)}% | ${r.latencyP99Ms} | ${cpu.toFixed(1)} | ${cpuDelta >= 0 ? '+' : ''}${cpuDelta.toFixed(1)} |`,
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
    cases: argument('cases')?.split(','),
  });
  console.log(formatTable(results));
}
