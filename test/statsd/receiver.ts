/**
 * A StatsD / DogStatsD server for tests: real sockets on loopback (UDP, or a Unix stream socket with 4-byte
 * little-endian length frames) and a strict parser of the line protocol that aggregates like a server does:
 * a line with sample rate `@r` counts `1/r` times.
 *
 * Strict means: positional decimals only (no exponent, no `inf`/`nan`, no `+`), known types only, a sample rate
 * in (0, 1], tags only in the `datadog` dialect and never an empty `|#`. Anything else is recorded in `errors`.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';

export type Dialect = 'statsd' | 'datadog';

export interface Distribution {
  /** Sum of 1/rate over its lines: the number of observations the server believes in. */
  count: number;
  /** Sum of value/rate. */
  sum: number;
  values: Array<{ value: number; weight: number }>;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;
const RATE = /^(0\.\d*[1-9]\d*|1(\.0+)?)$/;
const NAME = /^[^:|@#,\s]+$/;
const TAG = /^[^:|,#\r\n]+:[^|,#\r\n]*$/;

export class StatsdParser {
  readonly counters = new Map<string, number>();
  readonly gauges = new Map<string, number>();
  readonly distributions = new Map<string, Distribution>();
  /** Every line, as received, and the type it carried. */
  readonly lines: string[] = [];
  readonly types = new Map<string, string>();
  readonly packets: Buffer[] = [];
  readonly errors: string[] = [];

  constructor(readonly dialect: Dialect) {}

  packet(payload: Buffer): void {
    this.packets.push(payload);
    const text = payload.toString('utf8');
    if (text.endsWith('\n'))
      this.errors.push(`packet ends with a newline: ${JSON.stringify(text.slice(-40))}`);
    for (const line of text.split('\n')) this.line(line);
  }

  /** Parses and aggregates one line; false (with the reason in `errors`) when it breaks the protocol. */
  private line(line: string): boolean {
    this.lines.push(line);
    const fail = (why: string) => {
      this.errors.push(`${why}: ${JSON.stringify(line)}`);
      return false;
    };
    const colon = line.indexOf(':');
    if (colon <= 0) return fail('no name');
    const name = line.slice(0, colon);
    if (!NAME.test(name)) return fail('bad name');
    const fields = line.slice(colon + 1).split('|');
    if (fields.length < 2) return fail('no type');
    const [rawValue, type, ...rest] = fields;
    if (!DECIMAL.test(rawValue)) return fail('value is not a positional decimal');
    const value = Number(rawValue);
    if (!['c', 'g', 'ms', 'h', 'd'].includes(type)) return fail(`unknown type ${type}`);
    let rate = 1;
    let tags = '';
    for (let i = 0; i < rest.length; i++) {
      const field = rest[i];
      if (field.startsWith('@') && i === 0 && tags === '') {
        if (!RATE.test(field.slice(1))) return fail('bad sample rate');
        rate = Number(field.slice(1));
      } else if (field.startsWith('#') && i === rest.length - 1) {
        if (this.dialect !== 'datadog') return fail('tags in plain statsd');
        const list = field.slice(1);
        if (list === '') return fail('empty tag field');
        const parts = list.split(',');
        if (parts.some((t) => !TAG.test(t))) return fail('bad tag');
        tags = [...parts].sort().join(',');
      } else {
        return fail(`unexpected field ${field}`);
      }
    }
    const key = tags === '' ? name : `${name}|#${tags}`;
    const previousType = this.types.get(key);
    const kind = type === 'c' ? 'c' : type === 'g' ? 'g' : 'dist';
    if (previousType !== undefined && previousType !== kind) return fail(`type changed from ${previousType}`);
    this.types.set(key, kind);
    const weight = 1 / rate;
    if (type === 'c') {
      this.counters.set(key, (this.counters.get(key) ?? 0) + value * weight);
    } else if (type === 'g') {
      if (rate !== 1) return fail('sampled gauge');
      // Plain StatsD: a signed value changes an existing gauge (Etsy's rule).
      const relative = this.dialect === 'statsd' && rawValue.startsWith('-') && this.gauges.has(key);
      this.gauges.set(key, relative ? this.gauges.get(key)! + value : value);
    } else {
      let dist = this.distributions.get(key);
      if (dist === undefined) {
        dist = { count: 0, sum: 0, values: [] };
        this.distributions.set(key, dist);
      }
      dist.count += weight;
      dist.sum += value * weight;
      dist.values.push({ value, weight });
    }
    return true;
  }
}

export interface Receiver {
  readonly parser: StatsdParser;
  /** Resolves once `count` packets have arrived; rejects after `timeoutMs`. */
  waitForPackets(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function waiter(parser: StatsdParser) {
  return async (count: number, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    while (parser.packets.length < count) {
      if (Date.now() > deadline) {
        throw new Error(`expected ${count} packets, received ${parser.packets.length}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  };
}

/** A UDP receiver on loopback, on `port` (0: any free port). */
export async function startUdpReceiver(dialect: Dialect, port = 0): Promise<Receiver & { port: number }> {
  const parser = new StatsdParser(dialect);
  const socket: UdpSocket = createSocket('udp4');
  socket.on('message', (message) => parser.packet(message));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return {
    parser,
    port: socket.address().port,
    waitForPackets: waiter(parser),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

/**
 * A loopback UDP port where nothing listens: bound once to learn a free port, then closed, so datagrams sent
 * to it come back as ICMP "port unreachable" (`ECONNREFUSED` on a connected socket).
 */
export async function refusingUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

/** A DogStatsD `unix` (stream) listener: each packet is a 4-byte little-endian length and that many bytes. */
export async function startUnixReceiver(
  path: string,
  dialect: Dialect,
): Promise<Receiver & { connections: number; dropConnections(): void }> {
  rmSync(path, { force: true });
  const parser = new StatsdParser(dialect);
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const length = pending.readUInt32LE(0);
        if (pending.length < 4 + length) break;
        parser.packet(pending.subarray(4, 4 + length));
        pending = pending.subarray(4 + length);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    parser,
    get connections() {
      return connections;
    },
    dropConnections() {
      for (const socket of sockets) socket.destroy();
    },
    waitForPackets: waiter(parser),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
