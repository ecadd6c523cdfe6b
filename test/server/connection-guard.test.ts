/**
 * The metrics port must not be a way to take the application down: connections beyond `maxConnections` and
 * peers outside `allow` are closed as they are accepted, and silent or idle connections are closed by the
 * timeouts. Every wait here is for an expected event (a close, a count reached), bounded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { attach, counter, detach, type Logger, type Metadata, Telemeter } from '../../src/index.js';
import {
  type MetricsServer,
  metricsHandler,
  type ServeMetricsOptions,
  serveMetrics,
} from '../../src/server/index.js';
import { DEFAULT_MAX_CONNECTIONS } from '../../src/server/options.js';
import { send } from './http-client.js';
import { captureLogs } from './telemeters.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A Telemeter whose own logger records its lines: the server must log through it, not the process logger. */
function telemeterWithLog(): { telemeter: Telemeter; lines: string[] } {
  const lines: string[] = [];
  const logger: Logger = {
    warn: (_fields, message) => lines.push(message),
    error: (_fields, message) => lines.push(message),
  };
  const telemeter = new Telemeter({
    metrics: [counter('guard.request.count', { eventName: 'guard.request.stop', measurement: 'duration' })],
    logger,
  });
  cleanups.push(() => telemeter.close());
  return { telemeter, lines };
}

async function start(telemeter: Telemeter, options: ServeMetricsOptions): Promise<MetricsServer> {
  const server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1', ...options });
  cleanups.push(() => server.close());
  return server;
}

function connections(server: MetricsServer): Promise<number> {
  return new Promise((resolve, reject) =>
    server.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

/** Waits (bounded) until the server counts `n` open connections. */
async function untilConnections(server: MetricsServer, n: number): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if ((await connections(server)) === n) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`the server never counted ${n} open connections (has ${await connections(server)})`);
}

interface RawConnection {
  readonly socket: Socket;
  /** Resolves when the server closed the connection, with every byte it sent. */
  readonly closed: Promise<Buffer>;
}

/** A raw connection to `port` that sends `request` (or nothing), from `localAddress` if given. */
function rawConnection(port: number, request?: string | Buffer, localAddress?: string): RawConnection {
  const socket = connect({ port, host: '127.0.0.1', localAddress }, () => {
    if (request !== undefined) socket.write(request);
  });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  cleanups.push(() => socket.destroy());
  const closed = new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server kept the connection open for 10 s')), 10_000);
    timer.unref();
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
  // A test that fails early leaves some of these unawaited: their timeout must not surface as unhandled.
  closed.catch(() => {});
  return { socket, closed };
}

/** Records `<prefix>.connection_refused` events until the test ends. */
function recordRefusals(prefix = 'telemeter.scrape'): Metadata[] {
  const seen: Metadata[] = [];
  const id = `guard-test-${Math.random()}`;
  attach(id, `${prefix}.connection_refused`, (_name, _measurements, metadata) => seen.push({ ...metadata }));
  cleanups.push(() => detach(id));
  return seen;
}

describe('serveMetrics: maxConnections', () => {
  it('closes connections over the cap as they are accepted, counts each, logs once through the Telemeter', async () => {
    const processLogs = captureLogs();
    cleanups.push(processLogs.restore);
    const { telemeter, lines } = telemeterWithLog();
    const refusals = recordRefusals();
    const server = await start(telemeter, {
      maxConnections: 2,
      headersTimeout: 60_000,
      requestTimeout: 60_000,
    });
    expect(server.server.maxConnections).toBe(2);
    const held = [rawConnection(server.port), rawConnection(server.port)];
    await untilConnections(server, 2);

    const excess = [
      rawConnection(server.port),
      rawConnection(server.port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'),
      rawConnection(server.port),
    ];
    for (const connection of excess) expect((await connection.closed).length).toBe(0);
    expect(server.refused).toEqual({ maxConnections: 3, notAllowed: 0 });
    expect(refusals.map((r) => r.reason)).toEqual(['max_connections', 'max_connections', 'max_connections']);
    expect(await connections(server)).toBe(2);
    expect(lines.filter((line) => /refused a connection/.test(line))).toHaveLength(1);
    expect(lines[0]).toMatch(/2 connections were open \(option maxConnections\)/);
    expect(processLogs.warnings).toEqual([]);

    for (const connection of held) connection.socket.destroy();
    await untilConnections(server, 0);
    const scrape = await send(server.url);
    expect(scrape.status).toBe(200);
    expect(scrape.text).toContain('guard_request_count');
  });

  it(`defaults to ${DEFAULT_MAX_CONNECTIONS}`, async () => {
    const server = await start(telemeterWithLog().telemeter, {});
    expect(server.server.maxConnections).toBe(DEFAULT_MAX_CONNECTIONS);
    expect(DEFAULT_MAX_CONNECTIONS).toBe(64);
  });
});

describe('serveMetrics: allow at connect', () => {
  it('closes a connection from a peer outside allow before reading it: no HTTP answer, not counted as open', async () => {
    const { telemeter, lines } = telemeterWithLog();
    const refusals = recordRefusals();
    // A peer that sends nothing would otherwise be held until headersTimeout, a minute here.
    const server = await start(telemeter, {
      allow: ['127.0.0.2/32'],
      headersTimeout: 60_000,
      requestTimeout: 60_000,
    });
    const allowed = rawConnection(server.port, undefined, '127.0.0.2');
    await untilConnections(server, 1);

    const silent = rawConnection(server.port);
    expect((await silent.closed).length).toBe(0);
    const asking = rawConnection(server.port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await asking.closed).length).toBe(0);

    expect(server.refused).toEqual({ maxConnections: 0, notAllowed: 2 });
    expect(refusals).toEqual([
      { reason: 'not_allowed', address: '127.0.0.1' },
      { reason: 'not_allowed', address: '127.0.0.1' },
    ]);
    expect(await connections(server)).toBe(1);
    expect(lines.filter((line) => /refused a connection/.test(line))).toHaveLength(1);
    expect(lines[0]).toMatch(/127\.0\.0\.1 is not in option allow/);

    // Clients learn at once: the refusal is a reset, which fails Node's fetch instead of leaving it waiting.
    const refusedFetch = await fetch(server.url, { signal: AbortSignal.timeout(10_000) }).then(
      () => 'answered',
      (error: Error) => (error.cause as { code?: string } | undefined)?.code ?? error.name,
    );
    expect(refusedFetch).toBe('ECONNRESET');

    // The allowed peer's connection is untouched and gets its scrape.
    allowed.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const answer = (await allowed.closed).toString('latin1');
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).toContain('guard_request_count');
  });

  it("metricsHandler answers 403 instead: the connection is the application's, and serves its other routes", async () => {
    const refusals = recordRefusals();
    const handler = metricsHandler(telemeterWithLog().telemeter, { allow: ['10.0.0.0/8'] });
    const app = createServer((req, res) => (req.url === '/metrics' ? handler(req, res) : res.end('app')));
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => app.close(resolve)));
    const base = `http://127.0.0.1:${(app.address() as { port: number }).port}`;
    const forbidden = await send(`${base}/metrics`);
    expect(forbidden.status).toBe(403);
    expect(forbidden.text).toBe('Forbidden\n');
    expect((await send(`${base}/other`)).text).toBe('app');
    expect(refusals).toEqual([]);
  });

  it('uses eventPrefix for the refusal event', async () => {
    const refusals = recordRefusals('ops.metrics');
    const defaults = recordRefusals();
    const server = await start(telemeterWithLog().telemeter, {
      allow: ['10.0.0.0/8'],
      eventPrefix: 'ops.metrics',
    });
    await rawConnection(server.port).closed;
    expect(refusals).toHaveLength(1);
    expect(defaults).toHaveLength(0);
  });
});

describe('serveMetrics: timeouts', () => {
  it('closes a connection that sends nothing after headersTimeout, with a 408', async () => {
    const server = await start(telemeterWithLog().telemeter, { headersTimeout: 200, requestTimeout: 300 });
    const silent = rawConnection(server.port);
    expect((await silent.closed).toString('latin1')).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(await connections(server)).toBe(0);
  });

  it('closes an idle keep-alive connection after keepAliveTimeout, once its answer is complete', async () => {
    const server = await start(telemeterWithLog().telemeter, { keepAliveTimeout: 100 });
    const scraper = rawConnection(server.port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    const answer = (await scraper.closed).toString('latin1');
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).toMatch(/\r\nKeep-Alive: timeout=0\r\n/);
    expect(answer).toContain('guard_request_count');
  });
});

/**
 * The application of test/server/fixtures/guarded-app.ts, started under `ulimit -n 256`, and driven over its
 * stdin (status) and its own HTTP port (open files).
 */
interface GuardedApp {
  readonly metricsPort: number;
  readonly appPort: number;
  readonly lines: string[];
  status(): Promise<{ connections: number; dropped: number }>;
}

async function startGuardedApp(): Promise<GuardedApp> {
  const fixture = join(import.meta.dirname, 'fixtures', 'guarded-app.ts');
  const child: ChildProcess = spawn(
    'bash',
    ['-c', 'ulimit -n 256 && exec "$0" --import tsx "$1"', process.execPath, fixture],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  let stderr = '';
  const waiting = new Set<() => void>();
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiting) wake();
  });
  const next = (from: number, what: (line: string) => boolean): Promise<Record<string, number>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(check);
        reject(
          new Error(`the app never printed a ${what} line\nstdout:\n${lines.join('\n')}\nstderr:\n${stderr}`),
        );
      }, 30_000);
      const check = () => {
        const line = lines.slice(from).find(what);
        if (line === undefined) return;
        clearTimeout(timer);
        waiting.delete(check);
        resolve(JSON.parse(line));
      };
      waiting.add(check);
      check();
    });
  const ready = await next(0, (line) => line.includes('"ready"'));
  return {
    metricsPort: ready.metricsPort,
    appPort: ready.appPort,
    lines,
    async status() {
      const from = lines.length;
      child.stdin!.write('status\n');
      const reply = await next(from, (line) => line.includes('"reply":"status"'));
      return { connections: reply.connections, dropped: reply.dropped };
    },
  };
}

describe('serveMetrics under a descriptor limit', () => {
  it('300 connections held open leave the application (ulimit -n 256) able to open files and accept requests', async () => {
    const app = await startGuardedApp();
    const FLOOD = 300;
    const flood: Socket[] = [];
    for (let i = 0; i < FLOOD; i++) {
      const socket = connect(app.metricsPort, '127.0.0.1');
      socket.on('error', () => {});
      flood.push(socket);
    }
    cleanups.push(() => {
      for (const socket of flood) socket.destroy();
    });

    // Every flood connection is either held by the server or was refused as it was accepted.
    let status = await app.status();
    for (let i = 0; i < 400 && status.connections + status.dropped < FLOOD; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      status = await app.status();
    }
    expect(status).toEqual({
      connections: DEFAULT_MAX_CONNECTIONS,
      dropped: FLOOD - DEFAULT_MAX_CONNECTIONS,
    });

    // The application still accepts a request, and holds 100 files open at once while the flood is held.
    const opened = await send(`http://127.0.0.1:${app.appPort}/open?n=100`);
    expect(JSON.parse(opened.text)).toEqual({ opened: 100, errors: [] });
    // The metrics port is full: a scrape is refused as it is accepted, and the refusal is counted.
    await expect(send(`http://127.0.0.1:${app.metricsPort}/metrics`)).rejects.toThrow(
      /ECONNRESET|EPIPE|socket hang up/,
    );
    expect((await app.status()).dropped).toBe(FLOOD - DEFAULT_MAX_CONNECTIONS + 1);
    const refusalLogs = app.lines.filter((line) => line.includes('"log"') && line.includes('refused'));
    expect(refusalLogs).toHaveLength(1);
    expect(refusalLogs[0]).toMatch(/"log":"warn".*64 connections were open/);

    for (const socket of flood) socket.destroy();
    status = await app.status();
    for (let i = 0; i < 400 && status.connections > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      status = await app.status();
    }
    expect(status.connections).toBe(0);
    const scrape = await send(`http://127.0.0.1:${app.metricsPort}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.text).toContain('telemeter_scrapes_total');
  });
});
