import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  attach,
  counter,
  detach,
  distribution,
  execute,
  lastValue,
  type MetricDefinition,
  setLogger,
  sum,
  summary,
  Telemeter,
  type TelemeterOptions,
} from '../../src/index.js';
import {
  STATSD_PACKET_ERROR_EVENT,
  STATSD_PACKET_SENT_EVENT,
  type StatsdOptions,
  type StatsdPush,
  startStatsd,
} from '../../src/statsd/index.js';
import { startStatsdOver } from '../../src/statsd/start-statsd.js';
import type { Transport } from '../../src/statsd/transport.js';
import {
  type Receiver,
  refusingUdpPort,
  StatsdParser,
  startUdpReceiver,
  startUnixReceiver,
} from './receiver.js';

const telemeters: Telemeter[] = [];
const pushes: StatsdPush[] = [];
const receivers: Receiver[] = [];
let sent = 0;
let failures: Array<{ reason: string; bytes: number }> = [];

function make(metrics: MetricDefinition[], options: Partial<TelemeterOptions> = {}): Telemeter {
  const t = new Telemeter({ metrics, selfMetrics: false, ...options });
  telemeters.push(t);
  return t;
}

async function udp(t: Telemeter, dialect: 'statsd' | 'datadog', options: StatsdOptions = {}) {
  const receiver = await startUdpReceiver(dialect);
  receivers.push(receiver);
  const push = startStatsd(t, { port: receiver.port, format: dialect, flushInterval: 3_600_000, ...options });
  pushes.push(push);
  return { receiver, push, parser: receiver.parser };
}

/** Flushes, then waits until the receiver has every packet the flush reported as sent. */
async function flush(push: StatsdPush, receiver: Receiver): Promise<void> {
  await push.flush();
  await receiver.waitForPackets(receiver.parser.packets.length + (sent - receivedBefore(receiver)));
  delivered.set(receiver, sent);
}
const delivered = new Map<Receiver, number>();
function receivedBefore(receiver: Receiver): number {
  return delivered.get(receiver) ?? 0;
}

beforeEach(() => {
  sent = 0;
  failures = [];
  delivered.clear();
  setLogger({ warn: () => {}, error: () => {} });
  attach('statsd-test:sent', STATSD_PACKET_SENT_EVENT, () => {
    sent++;
  });
  attach('statsd-test:error', STATSD_PACKET_ERROR_EVENT, (_e, m, md) => {
    failures.push({ reason: String(md.reason), bytes: Number(m.bytes) });
  });
});

afterEach(async () => {
  for (const p of pushes.splice(0)) await p.stop();
  for (const r of receivers.splice(0)) await r.close();
  for (const t of telemeters.splice(0)) t.close();
  detach('statsd-test:sent');
  detach('statsd-test:error');
  setLogger(null);
});

/** Polls `done` until it holds; throws after 10 s. A bounded wait for something expected. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A Logger that keeps its messages. */
function capturingLogger() {
  const messages: string[] = [];
  const keep = (_fields: unknown, message: string) => {
    messages.push(message);
  };
  return { messages, logger: { warn: keep, error: keep } };
}

/** Which bucket of `bounds` (inclusive upper bounds; `bounds.length` is the overflow) holds `x`. */
function bucketOf(bounds: number[], x: number): number {
  let b = 0;
  while (b < bounds.length && x > bounds[b]) b++;
  return b;
}

describe('DogStatsD over UDP', () => {
  it('delivers exact counter, sum, gauge, distribution and summary totals, then only what changed', async () => {
    const bounds = [10, 100, 1000];
    const t = make(
      [
        counter('p1.request.count', {
          eventName: 'p1.request.stop',
          measurement: 'latency',
          tags: ['route'],
        }),
        sum('p1.request.bytes', { eventName: 'p1.request.stop', measurement: 'bytes', tags: ['route'] }),
        distribution('p1.request.stop.latency', {
          eventName: 'p1.request.stop',
          measurement: 'latency',
          tags: ['route'],
          reporterOptions: { buckets: bounds },
        }),
        lastValue('p1.queue.depth', { eventName: 'p1.queue', measurement: 'depth' }),
        sum('p1.account.balance', {
          eventName: 'p1.account',
          measurement: 'balance',
          reporterOptions: { prometheusType: 'gauge' },
        }),
        summary('p1.db.duration', { eventName: 'p1.db', measurement: 'duration' }),
      ],
      { globalTags: { service: 'shop' } },
    );
    const { receiver, push, parser } = await udp(t, 'datadog', { globalTags: { env: 'test' } });

    const latencies: Record<string, number[]> = { '/a': [], '/b': [] };
    const bytes: Record<string, number> = { '/a': 0, '/b': 0 };
    for (let i = 0; i < 500; i++) {
      const route = i % 3 === 0 ? '/b' : '/a';
      const latency = (i * 37) % 2500; // includes 0 and overflow values up to 2499
      latencies[route].push(latency);
      bytes[route] += i;
      execute('p1.request.stop', { latency, bytes: i }, { route });
    }
    execute('p1.queue', { depth: 0.004 }, {});
    execute('p1.account', { balance: 10 }, {});
    execute('p1.account', { balance: -22.5 }, {});
    const durations = Array.from({ length: 1000 }, (_, i) => i + 1);
    for (const d of durations) execute('p1.db', { duration: d }, {});

    await flush(push, receiver);
    expect(parser.errors).toEqual([]);
    const tags = (route: string) => `|#env:test,route:${route},service:shop`;
    for (const route of ['/a', '/b']) {
      expect(parser.counters.get(`p1.request.count${tags(route)}`)).toBe(latencies[route].length);
      expect(parser.counters.get(`p1.request.bytes${tags(route)}`)).toBe(bytes[route]);
      const dist = parser.distributions.get(`p1.request.stop.latency${tags(route)}`)!;
      expect(dist.count).toBe(latencies[route].length);
      const trueSum = latencies[route].reduce((a, b) => a + b, 0);
      expect(dist.sum).toBeCloseTo(trueSum, 6);
      // Every bucket holds exactly the observations that fell into it.
      const expected = new Array(bounds.length + 1).fill(0);
      for (const x of latencies[route]) expected[bucketOf(bounds, x)]++;
      const got = new Array(bounds.length + 1).fill(0);
      for (const { value, weight } of dist.values) got[bucketOf(bounds, value)] += weight;
      expect(got).toEqual(expected);
    }
    expect(parser.gauges.get('p1.queue.depth|#env:test,service:shop')).toBe(0.004);
    expect(parser.gauges.get('p1.account.balance|#env:test,service:shop')).toBe(-12.5);
    expect(parser.counters.get('p1.db.duration.count|#env:test,service:shop')).toBe(1000);
    expect(parser.counters.get('p1.db.duration.sum|#env:test,service:shop')).toBe(500_500);
    const p50 = parser.gauges.get('p1.db.duration.p50|#env:test,service:shop')!;
    expect(Math.abs(p50 - 500) / 500).toBeLessThanOrEqual(0.01);
    expect(parser.gauges.has('p1.db.duration.p99|#env:test,service:shop')).toBe(true);
    for (const line of parser.lines) expect(line).not.toMatch(/inf|nan/i);

    // Second flush: only /a changed; /b's counters and buckets are not resent, gauges are.
    const before = parser.lines.length;
    execute('p1.request.stop', { latency: 50, bytes: 7 }, { route: '/a' });
    execute('p1.request.stop', { latency: 50, bytes: 7 }, { route: '/a' });
    await flush(push, receiver);
    const second = parser.lines.slice(before);
    expect(second.filter((l) => l.includes('route:/b'))).toEqual([]);
    expect(second).toContain(`p1.request.count:2|c${tags('/a')}`);
    expect(second).toContain(`p1.request.stop.latency:50|d|@0.5${tags('/a')}`);
    expect(second).toContain('p1.queue.depth:0.004|g|#env:test,service:shop');
    expect(parser.counters.get(`p1.request.count${tags('/a')}`)).toBe(latencies['/a'].length + 2);
    expect(parser.counters.get(`p1.request.bytes${tags('/a')}`)).toBe(bytes['/a'] + 14);
    expect(parser.distributions.get(`p1.request.stop.latency${tags('/a')}`)!.count).toBe(
      latencies['/a'].length + 2,
    );
    expect(parser.errors).toEqual([]);
    expect(failures).toEqual([]);
  });

  it("counts 30 000 and 700 000 observations of one bucket exactly (Peep's @0.000033 and @0.000001)", async () => {
    const metric = distribution('p2.job.stop.duration', {
      eventName: 'p2.job.stop',
      measurement: 'duration',
      tags: ['queue'],
      reporterOptions: { buckets: [1, 10] },
    });
    const t = make([metric]);
    const { receiver, push, parser } = await udp(t, 'datadog');
    const counts: Record<string, number> = { a: 30_000, b: 700_000, c: 49, d: 2_000_000, e: 1 };
    for (const [queue, n] of Object.entries(counts)) {
      const series = t.bind(metric, { queue });
      for (let i = 0; i < n; i++) series.record(5);
    }
    await flush(push, receiver);
    expect(parser.errors).toEqual([]);
    for (const [queue, n] of Object.entries(counts)) {
      const dist = parser.distributions.get(`p2.job.stop.duration|#queue:${queue}`)!;
      expect(dist.count).toBe(n);
      expect(dist.sum).toBe(5 * n);
    }
    expect(parser.lines).toContain('p2.job.stop.duration:5|d|@0.000033333333333333335|#queue:a');
    expect(parser.lines).toContain('p2.job.stop.duration:5|d|#queue:e');
  });

  it('never sends an infinite value: the overflow bucket is sent as the mean of its observations', async () => {
    const t = make([
      distribution('p3.upload.size', {
        eventName: 'p3.upload',
        measurement: 'size',
        reporterOptions: { buckets: [1, 2] },
      }),
    ]);
    const { receiver, push, parser } = await udp(t, 'datadog');
    execute('p3.upload', { size: 1e6 }, {});
    execute('p3.upload', { size: 5e6 }, {});
    await flush(push, receiver);
    expect(parser.lines).toEqual(['p3.upload.size:3000000|d|@0.5']);
    for (const packet of parser.packets) expect(packet.toString()).not.toMatch(/inf/i);
  });

  it('writes no |# on untagged lines', async () => {
    const t = make([
      counter('p4.tick.count', { eventName: 'p4.tick', measurement: 'n' }),
      lastValue('p4.temp.value', { eventName: 'p4.temp' }),
    ]);
    const { receiver, push, parser } = await udp(t, 'datadog');
    execute('p4.tick', { n: 1 }, {});
    execute('p4.tick', { n: 1 }, {});
    execute('p4.temp', { value: 21.5 }, {});
    await flush(push, receiver);
    expect(parser.errors).toEqual([]);
    expect([...parser.lines].sort()).toEqual(['p4.temp.value:21.5|g', 'p4.tick.count:2|c']);
  });

  it('replaces separators in tag names and values, and keeps a colon inside a value', async () => {
    const t = make([
      counter('p5.hit.count', { eventName: 'p5.hit', measurement: 'n', tags: ['route', 'note'] }),
    ]);
    const { receiver, push, parser } = await udp(t, 'datadog', { globalTags: { 'bad:key|x': 'v,1' } });
    execute('p5.hit', { n: 1 }, { route: 'a|b,c#d:e\nf', note: 'x"y\\z' });
    await flush(push, receiver);
    expect(parser.errors).toEqual([]);
    expect(parser.lines).toEqual(['p5.hit.count:1|c|#bad_key_x:v_1,note:x"y\\z,route:a_b_c_d:e_f']);
  });
});

describe('plain StatsD over UDP', () => {
  it('sends no tags, distributions as ms, and a negative gauge after a reset to 0', async () => {
    const t = make([
      counter('p6.request.count', { eventName: 'p6.request', measurement: 'latency', tags: ['route'] }),
      lastValue('p6.temp.value', { eventName: 'p6.temp' }),
      distribution('p6.request.latency', {
        eventName: 'p6.request',
        measurement: 'latency',
        tags: ['route'],
        reporterOptions: { buckets: [10, 100] },
      }),
    ]);
    const { receiver, push, parser } = await udp(t, 'statsd', { prefix: 'shop' });
    execute('p6.temp', { value: 5 }, {});
    execute('p6.request', { latency: 20 }, { route: '/a' });
    execute('p6.request', { latency: 40 }, { route: '/b' });
    await flush(push, receiver);
    execute('p6.temp', { value: -3.25 }, {});
    await flush(push, receiver);
    expect(parser.errors).toEqual([]);
    expect(parser.lines.some((l) => l.includes('#'))).toBe(false);
    // Series of one metric share its name: a server adds their counts and samples up.
    expect(parser.counters.get('shop.p6.request.count')).toBe(2);
    const dist = parser.distributions.get('shop.p6.request.latency')!;
    expect(dist.count).toBe(2);
    expect(dist.sum).toBe(60);
    expect(parser.lines).toContain('shop.p6.request.latency:20|ms');
    expect(parser.lines).toContain('shop.p6.temp.value:0|g');
    // Etsy's rule: "-3.25" alone would subtract from 5; after the reset the gauge reads -3.25.
    expect(parser.gauges.get('shop.p6.temp.value')).toBe(-3.25);
  });
});

describe('packets', () => {
  it('packs lines greedily into packets of at most mtu UTF-8 bytes and delivers every line', async () => {
    const t = make([counter('p7.visit.count', { eventName: 'p7.visit', measurement: 'n', tags: ['page'] })]);
    const { receiver, push, parser } = await udp(t, 'datadog', { mtu: 512 });
    const pages = Array.from({ length: 300 }, (_, i) => `/ünïcödé/☕/${'é'.repeat(i % 40)}/${i}`);
    pages.forEach((page, i) => {
      for (let k = 0; k <= i % 3; k++) execute('p7.visit', { n: 1 }, { page });
    });
    await flush(push, receiver);
    expect(parser.errors).toEqual([]);
    expect(parser.packets.length).toBeGreaterThan(10);
    for (const packet of parser.packets) expect(packet.length).toBeLessThanOrEqual(512);
    // Multi-byte text: the packets are fuller in bytes than in JS characters, so bytes were counted.
    expect(parser.packets.some((p) => p.length > p.toString('utf8').length)).toBe(true);
    pages.forEach((page, i) => {
      expect(parser.counters.get(`p7.visit.count|#page:${page}`)).toBe((i % 3) + 1);
    });
    expect(parser.lines.length).toBe(300);
  });

  it('drops a line longer than mtu, reports it, and still sends the rest', async () => {
    const t = make([counter('p8.x.count', { eventName: 'p8.x', measurement: 'n', tags: ['id'] })]);
    const { receiver, push, parser } = await udp(t, 'datadog', { mtu: 512 });
    execute('p8.x', { n: 1 }, { id: 'short' });
    execute('p8.x', { n: 1 }, { id: 'l'.repeat(600) });
    await flush(push, receiver);
    expect(parser.lines).toEqual(['p8.x.count:1|c|#id:short']);
    expect(failures).toEqual([{ reason: 'line_too_long', bytes: 'p8.x.count:1|c|#id:'.length + 600 }]);
    // Dropped for good, not retried every flush.
    execute('p8.x', { n: 1 }, { id: 'short' });
    await flush(push, receiver);
    expect(failures).toHaveLength(1);
  });

  it('shrinks mtu when the kernel answers EMSGSIZE, and delivers everything once it fits', async () => {
    const t = make([counter('p9.item.count', { eventName: 'p9.item', measurement: 'n', tags: ['sku'] })]);
    // A UDP/IPv4 datagram carries at most 65 507 bytes; mtu 65 535 makes the kernel refuse the first packets.
    const { receiver, push, parser } = await udp(t, 'datadog', { mtu: 65_535 });
    const skus = Array.from({ length: 4000 }, (_, i) => `sku-${String(i).padStart(6, '0')}-abcdefghij`);
    for (const sku of skus) execute('p9.item', { n: 1 }, { sku });
    let flushes = 0;
    while (parser.lines.length < skus.length && flushes < 40) {
      await flush(push, receiver);
      flushes++;
    }
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((f) => f.reason === 'EMSGSIZE' && f.bytes > 65_507)).toBe(true);
    // Each refusal lowers the limit below the refused packet, so the next attempt is smaller.
    for (let i = 1; i < failures.length; i++) expect(failures[i].bytes).toBeLessThan(failures[i - 1].bytes);
    expect(push.mtu).toBeLessThan(failures[failures.length - 1].bytes);
    for (const packet of parser.packets) expect(packet.length).toBeLessThanOrEqual(65_507);
    expect(parser.errors).toEqual([]);
    for (const sku of skus) expect(parser.counters.get(`p9.item.count|#sku:${sku}`)).toBe(1);
  });

  it('commits only the packets that were sent, and retries the rest next flush', async () => {
    const parser = new StatsdParser('datadog');
    let calls = 0;
    const transport: Transport = {
      async send(payload) {
        calls++;
        if (calls === 2) throw Object.assign(new Error('injected'), { code: 'ECONNREFUSED' });
        parser.packet(payload);
      },
      reset() {},
      close() {},
    };
    const t = make([counter('p10.event.count', { eventName: 'p10.event', measurement: 'one', tags: ['n'] })]);
    const push = startStatsdOver(t, { format: 'datadog', mtu: 512, flushInterval: 3_600_000 }, transport);
    pushes.push(push);
    for (let n = 0; n < 100; n++) execute('p10.event', { one: 1 }, { n });
    await push.flush();
    const afterFirst = parser.packets.length;
    expect(afterFirst).toBe(1);
    expect(failures).toEqual([{ reason: 'ECONNREFUSED', bytes: expect.any(Number) }]);
    for (let n = 0; n < 100; n++) execute('p10.event', { one: 1 }, { n });
    await push.flush();
    // Series sent in the first packet get a delta of 1, the others their two events at once; none is lost or doubled.
    for (let n = 0; n < 100; n++) expect(parser.counters.get(`p10.event.count|#n:${n}`)).toBe(2);
    const firstPacketLines = parser.packets[0].toString().split('\n').length;
    expect(parser.lines.filter((l) => l.startsWith('p10.event.count:2|c')).length).toBe(
      100 - firstPacketLines,
    );
  });
});

describe('DogStatsD over a Unix stream socket', () => {
  it('keeps deltas while the socket is missing or drops, and delivers them once it is back', async () => {
    const path = join(tmpdir(), `telemeter-statsd-${randomUUID().slice(0, 8)}.sock`);
    const t = make([counter('p11.job.count', { eventName: 'p11.job', measurement: 'n' })]);
    const push = startStatsd(t, { socketPath: path, format: 'datadog', flushInterval: 3_600_000 });
    pushes.push(push);
    for (let i = 0; i < 5; i++) execute('p11.job', { n: 1 }, {});
    await push.flush();
    expect(failures.map((f) => f.reason)).toEqual(['ENOENT']);
    expect(sent).toBe(0);

    const receiver = await startUnixReceiver(path, 'datadog');
    receivers.push(receiver);
    for (let i = 0; i < 3; i++) execute('p11.job', { n: 1 }, {});
    await flush(push, receiver);
    expect(receiver.parser.counters.get('p11.job.count')).toBe(8);
    expect(receiver.parser.lines).toEqual(['p11.job.count:8|c']);

    receiver.dropConnections();
    for (let i = 0; i < 2; i++) execute('p11.job', { n: 1 }, {});
    for (let attempt = 0; attempt < 5 && receiver.parser.counters.get('p11.job.count') !== 10; attempt++) {
      await flush(push, receiver);
    }
    expect(receiver.parser.counters.get('p11.job.count')).toBe(10);
    expect(receiver.connections).toBe(2);
    expect(receiver.parser.errors).toEqual([]);
  });
});

describe('lifecycle', () => {
  it('flushes on its timer, and stop() flushes once more and closes', async () => {
    const t = make([counter('p12.beat.count', { eventName: 'p12.beat', measurement: 'n' })]);
    const { receiver, push, parser } = await udp(t, 'statsd', { flushInterval: 20 });
    execute('p12.beat', { n: 1 }, {});
    await receiver.waitForPackets(1);
    expect(parser.counters.get('p12.beat.count')).toBe(1);
    execute('p12.beat', { n: 1 }, {});
    execute('p12.beat', { n: 1 }, {});
    await push.stop();
    await receiver.waitForPackets(2);
    expect(parser.counters.get('p12.beat.count')).toBe(3);
    execute('p12.beat', { n: 1 }, {});
    await push.flush();
    await push.stop();
    expect(sent).toBe(2);
  });

  it('rejects invalid options at start-up with a code, naming the option and the closest valid key', () => {
    const t = make([counter('p13.x.count', { eventName: 'p13.x' })]);
    const invalid = 'ERR_TELEMETER_INVALID_OPTION';
    const unknown = 'ERR_TELEMETER_UNKNOWN_OPTION';
    const cases: Array<[unknown, string, RegExp]> = [
      [
        { port: 0 },
        invalid,
        /^telemeter\/statsd: startStatsd: option port must be an integer from 1 to 65535, got 0$/,
      ],
      [{ host: '' }, invalid, /option host/],
      [{ socketPath: '/tmp/x.sock', port: 8125 }, invalid, /option socketPath/],
      [{ socketPath: `/tmp/${'x'.repeat(120)}` }, invalid, /option socketPath/],
      [{ flushInterval: 0 }, invalid, /option flushInterval/],
      [{ mtu: 100 }, invalid, /option mtu/],
      [{ mtu: 70_000 }, invalid, /option mtu/],
      [{ format: 'graphite' }, invalid, /option format/],
      [{ prefix: 'a:b' }, invalid, /option prefix/],
      [{ globalTags: { env: 'x' } }, invalid, /option globalTags needs format: 'datadog'/],
      [{ format: 'datadog', globalTags: { env: {} } }, invalid, /option globalTags\.env/],
      [{ format: 'datadog', globalTags: ['env'] }, invalid, /option globalTags must be an object/],
      [{ distributionType: 'd' }, invalid, /option distributionType/],
      ['fast', invalid, /startStatsd: options must be an object/],
      [{ interval: 5 }, unknown, /startStatsd: option interval is unknown \(valid: host, port/],
      [{ flushIntervall: 5 }, unknown, /option flushIntervall is unknown \(did you mean flushInterval\?/],
      [{ globalTag: {} }, unknown, /did you mean globalTags\?/],
      [{ socketpath: '/tmp/x.sock' }, unknown, /did you mean socketPath\?/],
    ];
    for (const [options, code, message] of cases) {
      expect(() => startStatsd(t, options as StatsdOptions), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code, message: expect.stringMatching(message) }),
      );
    }
    expect(() => startStatsd({} as Telemeter)).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_INVALID_ARGUMENT',
        message: expect.stringMatching(/startStatsd needs a Telemeter/),
      }),
    );
  });
});

describe('a StatsD server that is down', () => {
  it('over UDP: keeps every count while the port refuses, reports it, and delivers each count once when back', async () => {
    const port = await refusingUdpPort();
    const { messages, logger } = capturingLogger();
    const t = make([counter('o1.job.count', { eventName: 'o1.job', measurement: 'n' })], { logger });
    const push = startStatsd(t, { port, format: 'statsd', flushInterval: 3_600_000 });
    pushes.push(push);
    for (let flush = 1; flush <= 5; flush++) {
      for (let i = 0; i < 100; i++) execute('o1.job', { n: 1 }, {});
      await push.flush();
      // The socket accepts the datagram; the refusal (ICMP port unreachable) comes back after it.
      await until(() => failures.length === flush, `the refusal of flush ${flush}`);
    }
    expect(failures.map((f) => f.reason)).toEqual(Array(5).fill('ECONNREFUSED'));
    // Each refusal names the bytes that will be sent again: the one packet of its flush.
    expect(failures.every((f) => f.bytes > 0)).toBe(true);
    expect(messages).toEqual([expect.stringMatching(/refused packets \(ECONNREFUSED\)/)]);

    const receiver = await startUdpReceiver('statsd', port);
    receivers.push(receiver);
    for (let i = 0; i < 100; i++) execute('o1.job', { n: 1 }, {});
    await push.flush();
    await receiver.waitForPackets(1);
    expect(receiver.parser.counters.get('o1.job.count')).toBe(600);
    // Delivered, so committed: the next flush sends only what is new.
    for (let i = 0; i < 100; i++) execute('o1.job', { n: 1 }, {});
    await push.flush();
    await receiver.waitForPackets(2);
    expect(receiver.parser.lines).toEqual(['o1.job.count:600|c', 'o1.job.count:100|c']);
    expect(failures).toHaveLength(5);
  });

  it('over a Unix socket: keeps every count while the socket is missing, logs once, and delivers each once', async () => {
    const path = join(tmpdir(), `telemeter-statsd-${randomUUID().slice(0, 8)}.sock`);
    const { messages, logger } = capturingLogger();
    const t = make([counter('o2.job.count', { eventName: 'o2.job', measurement: 'n' })], { logger });
    const push = startStatsd(t, { socketPath: path, format: 'datadog', flushInterval: 3_600_000 });
    pushes.push(push);
    for (let flush = 1; flush <= 5; flush++) {
      for (let i = 0; i < 100; i++) execute('o2.job', { n: 1 }, {});
      await push.flush();
    }
    expect(failures.map((f) => f.reason)).toEqual(Array(5).fill('ENOENT'));
    expect(messages).toEqual([expect.stringMatching(/send failed \(ENOENT\)/)]);

    const receiver = await startUnixReceiver(path, 'datadog');
    receivers.push(receiver);
    for (let i = 0; i < 100; i++) execute('o2.job', { n: 1 }, {});
    await push.flush();
    await receiver.waitForPackets(1);
    for (let i = 0; i < 100; i++) execute('o2.job', { n: 1 }, {});
    await push.flush();
    await receiver.waitForPackets(2);
    expect(receiver.parser.lines).toEqual(['o2.job.count:600|c', 'o2.job.count:100|c']);
  });

  it('a refusal sends again what was accepted since the previous flush began, and nothing older', async () => {
    const parser = new StatsdParser('statsd');
    const transport: Transport = {
      async send(payload) {
        parser.packet(payload);
      },
      reset() {},
      close() {},
    };
    const t = make([sum('o3.job.total', { eventName: 'o3.job', measurement: 'n' })]);
    const push = startStatsdOver(t, { format: 'statsd', flushInterval: 3_600_000 }, transport);
    pushes.push(push);
    execute('o3.job', { n: 1 }, {});
    await push.flush(); // sends 1
    execute('o3.job', { n: 2 }, {});
    await push.flush(); // commits the 1, sends 2
    // The server was down for that last packet, as far as the transport can tell.
    transport.onRefused?.(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
    execute('o3.job', { n: 4 }, {});
    await push.flush(); // the 2 again, with the 4
    await push.flush(); // commits; nothing new
    expect(parser.lines).toEqual(['o3.job.total:1|c', 'o3.job.total:2|c', 'o3.job.total:6|c']);
    expect(failures).toEqual([{ reason: 'ECONNREFUSED', bytes: 'o3.job.total:2|c'.length }]);
  });
});
