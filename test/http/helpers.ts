/** Loopback servers, bounded request loops and scrape parsing shared by the telemeter/http suites. */
import { Agent, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { attach, detach, type Measurements, type Metadata } from '../../src/index.js';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample of a Prometheus text exposition, with parsed labels. */
export function parseSamples(body: string): Sample[] {
  const result: Sample[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (match === null) throw new Error(`unparsable sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(LABEL)) {
      labels[name] = value.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const raw = match[3];
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    result.push({ name: match[1], labels, value });
  }
  return result;
}

/** Samples named `name` whose labels include `where`. */
export function find(body: string, name: string, where: Record<string, string> = {}): Sample[] {
  return parseSamples(body).filter(
    (s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v),
  );
}

/** The value of the one sample named `name` with labels `where` (0 when absent); fails if several match. */
export function sampleValue(body: string, name: string, where: Record<string, string> = {}): number {
  const found = find(body, name, where);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(where)}`);
  return found[0]?.value ?? 0;
}

/** The sum of the samples named `name` whose labels include `where`. */
export function sumOf(body: string, name: string, where: Record<string, string> = {}): number {
  return find(body, name, where).reduce((sum, s) => sum + s.value, 0);
}

/** Listens on 127.0.0.1 and an ephemeral port; resolves with the port. */
export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Closes a server, cutting idle keep-alive connections so the close does not wait for them. */
export async function close(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export interface Reply {
  readonly status: number;
  readonly body: string;
}

/** One request with node:http; resolves with status and body. */
export function send(
  port: number,
  path: string,
  options: { method?: string; agent?: Agent; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: options.agent ?? false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`request ${path} timed out`)));
    req.end(options.body);
  });
}

/**
 * Sends every path, at most `concurrency` at a time over that many keep-alive connections, and returns the
 * count of replies per status. Bounded in count by `paths` and in time by each request's 10 s timeout.
 */
export async function sendAll(
  port: number,
  paths: readonly string[],
  concurrency = 16,
): Promise<Map<number, number>> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const path = paths[next++];
      const { status } = await send(port, path, { agent });
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return statuses;
}

/**
 * Requests `path` on a raw socket and destroys the socket as soon as the first bytes of the response arrive:
 * a client that goes away mid-response. Resolves once the socket is closed.
 */
export function abortMidResponse(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    });
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response bytes from ${path} within 10 s`));
    }, 10_000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      clearTimeout(timer);
      socket.destroy();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
  });
}

/** Polls `condition` every 10 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface RecordedEvent {
  readonly name: string;
  readonly measurements: Measurements;
  readonly metadata: Metadata;
}

let recorderSequence = 0;

/** Records every event of the given names until `stop()` is called. */
export function recordEvents(names: readonly string[]): { events: RecordedEvent[]; stop(): void } {
  const events: RecordedEvent[] = [];
  const ids = names.map((name) => {
    const id = `test-recorder-${++recorderSequence}`;
    attach(id, name, (eventName, measurements, metadata) => {
      events.push({ name: eventName, measurements, metadata });
    });
    return id;
  });
  return {
    events,
    stop: () => {
      for (const id of ids) detach(id);
    },
  };
}
