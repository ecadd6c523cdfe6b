/**
 * telemeter's StatsD push judged by Etsy's statsd daemon (npm `statsd`), the reference server: it is run as a child
 * process on loopback with a backend that prints each flush, and its totals must equal the events recorded.
 *
 * The daemon is found as the `statsd` package (a devDependency) or at `TELEMETER_ETSY_STATSD` (path to its
 * `stats.js`). Missing: the suite skips on a developer machine and fails under CI=true.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  attach,
  counter,
  detach,
  distribution,
  execute,
  lastValue,
  setLogger,
  Telemeter,
} from '../../src/index.js';
import { STATSD_PACKET_SENT_EVENT, type StatsdPush, startStatsd } from '../../src/statsd/index.js';
import { freePort, isCI } from '../support/tools.js';

function findDaemon(): string | undefined {
  const fromEnv = process.env.TELEMETER_ETSY_STATSD;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  try {
    return createRequire(import.meta.url).resolve('statsd/stats.js');
  } catch {
    return undefined;
  }
}

const DAEMON = findDaemon();
if (DAEMON === undefined) {
  const message =
    "Etsy's statsd daemon is missing: install the npm package `statsd` as a devDependency, or set TELEMETER_ETSY_STATSD to its stats.js.";
  if (isCI()) throw new Error(`${message} CI=true, so this suite fails instead of skipping.`);
  console.warn(`[test] skipping: ${message}`);
}
const BACKEND = fileURLToPath(new URL('./etsy-capture-backend.cjs', import.meta.url));

/** The daemon, and the sum of everything it flushed to its backends. */
class EtsyDaemon {
  readonly counters = new Map<string, number>();
  readonly timerCounters = new Map<string, number>();
  readonly timers = new Map<string, number[]>();
  readonly gauges = new Map<string, number>();
  port = 0;
  private child: ChildProcess | undefined;
  private dir = '';
  private output = '';

  async start(): Promise<void> {
    this.port = await freeUdpPort();
    this.dir = mkdtempSync(join(tmpdir(), 'telemeter-etsy-'));
    const config = join(this.dir, 'config.js');
    const mgmtPort = await freePort();
    writeFileSync(
      config,
      JSON.stringify({
        port: this.port,
        address: '127.0.0.1',
        mgmt_port: mgmtPort,
        mgmt_address: '127.0.0.1',
        flushInterval: 100,
        backends: [BACKEND],
        automaticConfigReload: false,
      }),
    );
    const child = spawn(process.execPath, [DAEMON!, config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let up = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      let newline = this.output.indexOf('\n');
      while (newline >= 0) {
        const line = this.output.slice(0, newline);
        this.output = this.output.slice(newline + 1);
        if (line.includes('server is up')) up = true;
        if (line.startsWith('TELEMETER-CAPTURE ')) this.absorb(JSON.parse(line.slice(18)));
        newline = this.output.indexOf('\n');
      }
    });
    await this.until(() => up, 'the daemon to start');
    // "server is up" is printed before the UDP socket is bound (bind resolves its address on a later tick), and a
    // packet sent meanwhile is lost. The management port starts listening after the UDP bind was issued, so once
    // it accepts a connection the UDP port is bound.
    let listening = false;
    await this.until(
      () => listening,
      'the daemon to listen',
      async () => {
        listening = await accepts(mgmtPort);
      },
    );
  }

  private absorb(flush: {
    counters: Record<string, number>;
    gauges: Record<string, number>;
    timers: Record<string, number[]>;
    timerCounters: Record<string, number>;
  }): void {
    for (const [k, v] of Object.entries(flush.counters))
      this.counters.set(k, (this.counters.get(k) ?? 0) + v);
    for (const [k, v] of Object.entries(flush.timerCounters)) {
      this.timerCounters.set(k, (this.timerCounters.get(k) ?? 0) + v);
    }
    for (const [k, v] of Object.entries(flush.timers))
      this.timers.set(k, [...(this.timers.get(k) ?? []), ...v]);
    for (const [k, v] of Object.entries(flush.gauges)) this.gauges.set(k, v);
  }

  /** Waits until the daemon has flushed `packets` packets (its own `statsd.packets_received`). */
  received(packets: number): Promise<void> {
    return this.until(
      () => (this.counters.get('statsd.packets_received') ?? 0) >= packets,
      `${packets} packets`,
    );
  }

  async until(done: () => boolean, what: string, poll?: () => Promise<void>): Promise<void> {
    for (let i = 0; i < 1000 && !done(); i++) {
      await new Promise((r) => setTimeout(r, 10));
      await poll?.();
    }
    if (!done()) throw new Error(`timed out waiting for ${what}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether a TCP connection to `port` on loopback is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

describe.skipIf(DAEMON === undefined)("Etsy's statsd daemon", () => {
  let daemon: EtsyDaemon;
  let sent = 0;
  const cleanup: Array<() => unknown> = [];

  beforeEach(async () => {
    sent = 0;
    setLogger({ warn: () => {}, error: () => {} });
    attach('statsd-etsy:sent', STATSD_PACKET_SENT_EVENT, () => {
      sent++;
    });
    daemon = new EtsyDaemon();
    await daemon.start();
  });

  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
    detach('statsd-etsy:sent');
    await daemon.stop();
    setLogger(null);
  });

  function push(t: Telemeter, options: Parameters<typeof startStatsd>[1]): StatsdPush {
    const p = startStatsd(t, { port: daemon.port, flushInterval: 3_600_000, ...options });
    cleanup.push(
      () => t.close(),
      () => p.stop(),
    );
    return p;
  }

  it('counts exactly what was recorded: counters, gauges, and 30 000 / 700 000 / 49 timer samples', async () => {
    const small = distribution('e1.small.duration', {
      eventName: 'e1.small',
      measurement: 'duration',
      reporterOptions: { buckets: [1, 10] },
    });
    const large = distribution('e1.large.duration', {
      eventName: 'e1.large',
      measurement: 'duration',
      reporterOptions: { buckets: [1, 10] },
    });
    const odd = distribution('e1.odd.duration', {
      eventName: 'e1.odd',
      measurement: 'duration',
      reporterOptions: { buckets: [1, 10] },
    });
    const t = new Telemeter({
      metrics: [
        counter('e1.request.count', { eventName: 'e1.request', measurement: 'n', tags: ['route'] }),
        lastValue('e1.temp.value', { eventName: 'e1.temp' }),
        lastValue('e1.ratio.value', { eventName: 'e1.ratio' }),
        small,
        large,
        odd,
      ],
      selfMetrics: false,
    });
    const p = push(t, { format: 'statsd', prefix: 'app' });
    for (let i = 0; i < 1234; i++) execute('e1.request', { n: 1 }, { route: `/r${i % 7}` });
    execute('e1.temp', { value: 5 }, {});
    execute('e1.ratio', { value: 0.004 }, {});
    for (const [metric, n] of [
      [small, 30_000],
      [large, 700_000],
      [odd, 49],
    ] as const) {
      const series = t.bind(metric);
      for (let i = 0; i < n; i++) series.record(5);
    }
    await p.flush();
    await daemon.received(sent);
    execute('e1.temp', { value: -3.25 }, {});
    await p.flush();
    await daemon.received(sent);

    expect(daemon.counters.get('statsd.bad_lines_seen')).toBe(0);
    // Series of a metric share its name in plain StatsD, so the daemon adds the seven routes up.
    expect(daemon.counters.get('app.e1.request.count')).toBe(1234);
    expect(daemon.timerCounters.get('app.e1.small.duration')).toBe(30_000);
    expect(daemon.timerCounters.get('app.e1.large.duration')).toBe(700_000);
    expect(daemon.timerCounters.get('app.e1.odd.duration')).toBe(49);
    expect(daemon.timers.get('app.e1.small.duration')).toEqual([5]);
    expect(daemon.gauges.get('app.e1.ratio.value')).toBe(0.004);
    expect(daemon.gauges.get('app.e1.temp.value')).toBe(-3.25);
  });

  it('reads DogStatsD tags into its keys and keeps every series apart', async () => {
    const t = new Telemeter({
      metrics: [
        counter('e2.hit.count', { eventName: 'e2.hit', measurement: 'n', tags: ['route'] }),
        distribution('e2.hit.latency', {
          eventName: 'e2.hit',
          measurement: 'latency',
          tags: ['route'],
          reporterOptions: { buckets: [10, 100] },
        }),
      ],
      selfMetrics: false,
    });
    const p = push(t, { format: 'datadog', distributionType: 'ms' });
    for (let i = 0; i < 300; i++) {
      const route = i % 2 === 0 ? 'a' : 'b';
      const latency = (i * 13) % 400;
      execute('e2.hit', { n: 1, latency }, { route });
    }
    await p.flush();
    await daemon.received(sent);
    expect(daemon.counters.get('statsd.bad_lines_seen')).toBe(0);
    for (const route of ['a', 'b']) {
      expect(daemon.counters.get(`e2.hit.count;route=${route}`)).toBe(150);
      expect(daemon.timerCounters.get(`e2.hit.latency;route=${route}`)).toBe(150);
      const values = daemon.timers.get(`e2.hit.latency;route=${route}`)!;
      // One value per grown bucket, each inside it; the overflow bucket is sent as a finite value, never `inf`.
      expect(values.filter((v) => v > 0 && v <= 10)).toHaveLength(1);
      expect(values.filter((v) => v > 10 && v <= 100)).toHaveLength(1);
      expect(values.filter((v) => v > 100)).toHaveLength(1);
      expect(values.every(Number.isFinite)).toBe(true);
    }
  });
});
