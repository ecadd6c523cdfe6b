import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { distribution, execute, type HistogramFamily, Telemeter } from 'telemeter';
import { serveMetrics } from 'telemeter/server';
import { cpuNs, logUniform, median, StallProbe, seededRandom, settledBytes, sleep } from './measure.js';
import { goalsTable, markdownTable, mib, ms, type SectionResult, type Table, times } from './report.js';
import { SERIES_TAGS, seriesSet } from './series-set.js';

/**
 * Part of the export section: the protobuf exposition of a 3-tag histogram (1k–100k series) against text.
 *
 * 1. The encoder choice: telemeter's own protobuf writer against protobufjs (objects built from the read model,
 *    then `MetricFamily.encodeDelimited`), CPU to the whole body, in one process.
 * 2. The scrape as a scraper sees it: `serveMetrics` in this process, `curl` in another (as Prometheus is) asking
 *    for text 0.0.4 or for protobuf; curl's time to the last byte, and the longest event-loop stall here.
 */

export interface ScrapeWireOptions {
  readonly quick: boolean;
  readonly progress: (message: string) => void;
}

const PROTOBUF_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,text/plain;version=0.0.4;q=0.5';
const TEXT_ACCEPT = 'text/plain;version=0.0.4;q=1,*/*;q=0.1';
const PROTO_FILE = fileURLToPath(new URL('../test/fixtures/prometheus-metrics.proto', import.meta.url));

function histogramTelemeter(size: number): Telemeter {
  const eventName = `bench.wire.${size}`;
  const telemeter = new Telemeter({
    metrics: [
      distribution('bench.wire.request.duration.seconds', {
        eventName,
        measurement: 'value',
        unit: 'second',
        tags: SERIES_TAGS,
      }),
    ],
    maxSeries: size * 2,
    selfMetrics: false,
  });
  const random = seededRandom(size);
  const measurements = { value: 0 };
  seriesSet(size).forEach((labels, index) => {
    for (let step = 0; step < 1 + (index % 3); step++) {
      measurements.value = logUniform(random, 0.001, 20);
      execute(eventName, measurements, labels);
    }
  });
  return telemeter;
}

/** protobufjs the way its README shows: a plain object per message, then one encode per family. */
function protobufjsEncoder(): (telemeter: Telemeter) => Uint8Array[] {
  const root = new protobuf.Root().loadSync(PROTO_FILE, { keepCase: true });
  const MetricFamily = root.lookupType('io.prometheus.client.MetricFamily');
  return (telemeter) => {
    const out: Uint8Array[] = [];
    for (const family of telemeter.metricFamilies) {
      if (family.kind !== 'histogram') continue;
      const h = family as HistogramFamily;
      const metric: object[] = [];
      const order = h.seriesOrder();
      let step = order.next();
      while (!step.done) step = order.next();
      for (const s of step.value) {
        const label: { name: string; value: string }[] = [];
        h.forEachLabel(s, (name, value) => label.push({ name, value }));
        const bucket: { cumulative_count: number; upper_bound: number }[] = [];
        let cumulative = 0;
        for (let b = 0; b < h.bounds.length; b++) {
          cumulative += h.bucketCount(s, b);
          bucket.push({ cumulative_count: cumulative, upper_bound: h.bounds[b] });
        }
        const created = h.created(s);
        const seconds = Math.floor(created / 1000);
        metric.push({
          label,
          histogram: {
            sample_count: h.count(s),
            sample_sum: h.sum(s),
            bucket,
            created_timestamp: { seconds, nanos: (created - seconds * 1000) * 1e6 },
          },
        });
      }
      const message = { name: h.name, help: h.help, type: 4, metric };
      out.push(MetricFamily.encodeDelimited(message).finish());
    }
    return out;
  };
}

function byteCount(chunks: Iterable<Uint8Array | string>): number {
  let bytes = 0;
  for (const chunk of chunks) bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
  return bytes;
}

interface EncodeReading {
  readonly cpuMs: number;
  readonly bytes: number;
}

function encodeOnce(encode: () => number): EncodeReading {
  const start = cpuNs();
  const bytes = encode();
  return { cpuMs: (cpuNs() - start) / 1e6, bytes };
}

interface WireReading {
  /** curl's time_total: from starting the connection to the last byte. */
  readonly totalMs: number;
  readonly bytes: number;
  readonly stallMs: number;
  readonly cpuStallMs: number;
}

function curl(url: string, accept: string): Promise<{ totalMs: number; bytes: number; contentType: string }> {
  return new Promise((resolve, reject) => {
    execFile(
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
        '%{time_total} %{size_download} %{content_type}',
        url,
      ],
      { timeout: 70_000 },
      (error, stdout) => {
        if (error) return reject(new Error(`bench: curl failed: ${error.message}`));
        const [total, bytes, ...type] = stdout.trim().split(' ');
        resolve({ totalMs: Number(total) * 1000, bytes: Number(bytes), contentType: type.join(' ') });
      },
    );
  });
}

async function scrapeOnce(url: string, accept: string, expectType: RegExp): Promise<WireReading> {
  await settledBytes();
  const probe = new StallProbe();
  probe.start();
  await sleep(5);
  const reading = await curl(url, accept);
  await sleep(3);
  const probed = probe.stop();
  if (!expectType.test(reading.contentType)) {
    throw new Error(`bench: asked ${accept}, got Content-Type ${reading.contentType}`);
  }
  return {
    totalMs: reading.totalMs,
    bytes: reading.bytes,
    stallMs: probed.maxGapMs,
    cpuStallMs: probed.maxCpuGapMs,
  };
}

export async function runScrapeWire(options: ScrapeWireOptions): Promise<SectionResult> {
  const sizes = options.quick ? [1_000] : [1_000, 10_000, 100_000];
  const encodeRounds = options.quick ? 1 : 5;
  const wireRounds = options.quick ? 1 : 5;
  const encodeRows: string[][] = [];
  const wireRows: string[][] = [];
  const goals: SectionResult['goals'][number][] = [];
  const pbjs = protobufjsEncoder();

  for (const size of sizes) {
    options.progress(`export: protobuf, ${size} histogram series`);
    const telemeter = histogramTelemeter(size);
    try {
      // Sorts the series once, and compiles every encoder before anything is timed.
      byteCount(telemeter.render());
      byteCount(telemeter.renderProtobuf());
      byteCount(pbjs(telemeter));

      const encoders: [string, () => number][] = [
        ['telemeter text `render()`', () => byteCount(telemeter.render())],
        ['telemeter protobuf `renderProtobuf()` (own writer)', () => byteCount(telemeter.renderProtobuf())],
        ['protobufjs `encodeDelimited` from the read model', () => byteCount(pbjs(telemeter))],
      ];
      const readings = new Map<string, EncodeReading[]>();
      for (let round = 0; round < encodeRounds; round++) {
        for (let k = 0; k < encoders.length; k++) {
          const [name, encode] = encoders[(k + round) % encoders.length];
          (globalThis as { gc?: () => void }).gc?.();
          readings.set(name, [...(readings.get(name) ?? []), encodeOnce(encode)]);
        }
      }
      const ownCpu = median(readings.get(encoders[1][0])!.map((r) => r.cpuMs));
      for (const [name] of encoders) {
        const list = readings.get(name)!;
        const cpu = median(list.map((r) => r.cpuMs));
        encodeRows.push([
          size.toLocaleString('en-US'),
          name,
          ms(cpu),
          mib(list[0].bytes),
          times(cpu / ownCpu),
          String(list.length),
        ]);
      }
      const pbjsCpu = median(readings.get(encoders[2][0])!.map((r) => r.cpuMs));
      if (size === sizes[sizes.length - 1]) {
        goals.push({
          goal: `${size.toLocaleString('en-US')} histogram series: protobuf encoder chosen by measurement`,
          measured: `own writer ${ms(ownCpu)} ms CPU, protobufjs ${ms(pbjsCpu)} ms (${times(pbjsCpu / ownCpu)})`,
          met: ownCpu <= pbjsCpu,
        });
      }

      const server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1', compression: false });
      try {
        const formats: [string, string, RegExp][] = [
          ['text 0.0.4', TEXT_ACCEPT, /^text\/plain/],
          ['protobuf', PROTOBUF_ACCEPT, /^application\/vnd\.google\.protobuf/],
        ];
        const wire = new Map<string, WireReading[]>();
        for (const [, accept, type] of formats) await scrapeOnce(server.url, accept, type);
        for (let round = 0; round < wireRounds; round++) {
          for (let k = 0; k < formats.length; k++) {
            const [name, accept, type] = formats[(k + round) % formats.length];
            wire.set(name, [...(wire.get(name) ?? []), await scrapeOnce(server.url, accept, type)]);
          }
        }
        const textMs = median(wire.get('text 0.0.4')!.map((r) => r.totalMs));
        for (const [name] of formats) {
          const list = wire.get(name)!;
          const total = median(list.map((r) => r.totalMs));
          const stall = Math.max(...list.map((r) => r.stallMs));
          const cpuStall = Math.max(...list.map((r) => r.cpuStallMs));
          wireRows.push([
            size.toLocaleString('en-US'),
            name,
            ms(total),
            mib(list[0].bytes),
            ms(stall),
            ms(cpuStall),
            times(total / textMs),
            String(list.length),
          ]);
          if (size === sizes[sizes.length - 1] && name === 'protobuf') {
            goals.push({
              goal: `${size.toLocaleString('en-US')} histogram series over protobuf: no event-loop stall over 20 ms`,
              measured: `${ms(cpuStall)} ms of CPU (${ms(stall)} ms wall, preemption included); last byte at ${ms(total)} ms (text ${ms(textMs)} ms)`,
              met: cpuStall <= 20,
            });
          }
        }
      } finally {
        await server.close();
      }
    } finally {
      telemeter.close();
    }
  }

  const tables: Table[] = [
    {
      title: 'Protobuf encoder choice: a histogram with 3 tags (15 buckets), the whole body in one process',
      header: ['series', 'encoder', 'CPU ms (median)', 'body MiB', 'CPU ÷ own writer', 'rounds'],
      textColumns: 2,
      rows: encodeRows,
      notes: [
        'Each encoder walks the read model for the whole body and hands out its bytes (counted, then dropped); rounds rotate the order, with a forced GC before each.',
        'protobufjs builds one plain object per series, bucket and label, and encodes each family with `encodeDelimited`, as its README shows; the schema is test/fixtures/prometheus-metrics.proto.',
      ],
    },
    {
      title: 'The scrape as the scraper sees it: curl in another process, serveMetrics here (no gzip)',
      header: [
        'series',
        'format',
        'time to last byte ms (median, curl)',
        'body MiB',
        'longest event-loop stall ms (max)',
        'same, in CPU ms (max)',
        '÷ text',
        'rounds',
      ],
      textColumns: 2,
      rows: wireRows,
      notes: [
        'curl `time_total` on loopback, with `Accept` as VictoriaMetrics sends it (text) or protobuf first as a Prometheus with native histograms sends it. One unmeasured scrape of each format first.',
        'The stall is measured in the serving process by a 1 ms interval timer, as in the export table.',
      ],
    },
  ];
  return { tables, goals };
}

// `npm run bench:one -- bench/scrape-wire.ts [--quick]`: this part of the export section alone.
if (process.argv[1] !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runScrapeWire({
    quick: process.argv.includes('--quick'),
    progress: (message) => process.stderr.write(`[bench] ${message}\n`),
  });
  for (const table of result.tables) process.stdout.write(`${markdownTable(table)}\n`);
  process.stdout.write(`${markdownTable(goalsTable(result.goals))}\n`);
}
