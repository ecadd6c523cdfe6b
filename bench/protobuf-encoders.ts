import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { distribution, execute, type HistogramFamily, Telemeter } from 'telemeter';
import { cpuNs, logUniform, median, seededRandom } from './measure.js';
import { goalsTable, markdownTable, mib, ms, type SectionResult, type Table, times } from './report.js';
import { SERIES_TAGS, seriesSet } from './series-set.js';

/**
 * Part of the export section: the encoder choice for the protobuf exposition. A 3-tag histogram (1k–100k series)
 * encoded whole by telemeter's own writer (`renderProtobuf()`), by protobufjs (objects built from the read model,
 * then `MetricFamily.encodeDelimited`), and as text for scale: CPU to the whole body, in one process. The scrape
 * of the same body over the wire is in the scrape section (scrape-wall.ts).
 */

export interface ProtobufEncodersOptions {
  readonly quick: boolean;
  readonly progress: (message: string) => void;
}

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

export async function runProtobufEncoders(options: ProtobufEncodersOptions): Promise<SectionResult> {
  const sizes = options.quick ? [1_000] : [1_000, 10_000, 100_000];
  const encodeRounds = options.quick ? 1 : 5;
  const encodeRows: string[][] = [];
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
  ];
  return { tables, goals };
}

// `npm run bench:one -- bench/protobuf-encoders.ts [--quick]`: this part of the export section alone.
if (process.argv[1] !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runProtobufEncoders({
    quick: process.argv.includes('--quick'),
    progress: (message) => process.stderr.write(`[bench] ${message}\n`),
  });
  for (const table of result.tables) process.stdout.write(`${markdownTable(table)}\n`);
  process.stdout.write(`${markdownTable(goalsTable(result.goals))}\n`);
}
