import { Counter, Histogram, Registry } from 'prom-client';
import { counter, distribution, execute, Telemeter } from 'telemeter';
import {
  cpuNs,
  logUniform,
  median,
  nowNs,
  type ProbeReading,
  StallProbe,
  seededRandom,
  settledBytes,
  sleep,
} from './measure.js';
import { otelPipeline } from './peers.js';
import { mib, ms, type SectionResult, type Table, times } from './report.js';
import { SERIES_TAGS, seriesSet } from './series-set.js';

/**
 * Section 2: producing the whole exposition for 1k–100k series of a 3-tag counter or a 3-tag histogram with each
 * library's default buckets: time to the full body, its size, the peak of live memory, and the longest
 * event-loop stall while it is produced.
 */

export interface ExportOptions {
  readonly quick: boolean;
  readonly progress: (message: string) => void;
}

type Kind = 'counter' | 'histogram';

const COUNTER_MARKER = 'bench_export_requests_total{';
const HISTOGRAM_MARKER = 'bench_export_request_duration_seconds_count{';

/** One way of producing the exposition; returns the body (held until measured) or, when streamed, its size. */
interface Variant {
  readonly name: string;
  produce(): Promise<string | number>;
}

interface Built {
  readonly variants: readonly Variant[];
  /** Throws unless the body holds exactly the expected series (run once per size, outside the timing). */
  check(variant: string, result: string | number): void;
  close(): Promise<void>;
}

interface Implementation {
  readonly name: string;
  /** Names of the variants `build` returns, in table order. */
  readonly variantNames: readonly string[];
  build(kind: Kind, size: number): Built;
  readonly buckets: number;
}

function countOccurrences(body: string, marker: string): number {
  let count = 0;
  for (let at = body.indexOf(marker); at >= 0; at = body.indexOf(marker, at + marker.length)) count++;
  return count;
}

function expectSeries(library: string, body: string, kind: Kind, size: number): void {
  const found = countOccurrences(body, kind === 'counter' ? COUNTER_MARKER : HISTOGRAM_MARKER);
  if (found !== size) throw new Error(`bench: ${library} exported ${found} ${kind} series, expected ${size}`);
  if (body.includes('otel_metric_overflow')) throw new Error(`bench: ${library} hit its cardinality limit`);
}

/** Each series gets 1–3 counter increments or 2 observations, so values are not all zero. */
function feed(
  size: number,
  record: (labels: Record<string, string>, value: number, step: number) => void,
): void {
  const random = seededRandom(size);
  seriesSet(size).forEach((labels, index) => {
    for (let step = 0; step < 1 + (index % 3); step++) record(labels, logUniform(random, 0.001, 20), step);
  });
}

const TM_SCRAPE = 'telemeter `scrape()` (one string)';
const TM_STREAMED = 'telemeter `render()` streamed (setImmediate between chunks)';
const PROM_METRICS = 'prom-client `registry.metrics()`';
const OTEL_SERIALIZE = 'OTel `collect()` + PrometheusSerializer';

const telemeterImpl: Implementation = {
  name: 'telemeter',
  variantNames: [TM_SCRAPE, TM_STREAMED],
  buckets: 15,
  build(kind, size) {
    const eventName = `bench.export.${kind}.${size}`;
    const definition =
      kind === 'counter'
        ? counter('bench.export.requests.total', { eventName, measurement: 'value', tags: SERIES_TAGS })
        : distribution('bench.export.request.duration.seconds', {
            eventName,
            measurement: 'value',
            unit: 'second',
            tags: SERIES_TAGS,
          });
    const telemeter = new Telemeter({ metrics: [definition], maxSeries: size * 2 });
    const measurements = { value: 0 };
    feed(size, (labels, value) => {
      measurements.value = value;
      execute(eventName, measurements, labels);
    });
    let syncBytes = 0;
    return {
      variants: [
        { name: TM_SCRAPE, produce: async () => telemeter.scrape() },
        {
          name: TM_STREAMED,
          produce: async () => {
            let bytes = 0;
            for (const chunk of telemeter.render()) {
              bytes += Buffer.byteLength(chunk);
              await new Promise((resolve) => setImmediate(resolve));
            }
            return bytes;
          },
        },
      ],
      check(variant, result) {
        if (typeof result === 'string') {
          expectSeries('telemeter', result, kind, size);
          syncBytes = result.length;
        } else if (result !== syncBytes) {
          throw new Error(`bench: ${variant} gave ${result} bytes, scrape() gave ${syncBytes}`);
        }
      },
      async close() {
        telemeter.close();
      },
    };
  },
};

const promImpl: Implementation = {
  name: 'prom-client',
  variantNames: [PROM_METRICS],
  buckets: 12,
  build(kind, size) {
    const registry = new Registry();
    const labelNames = [...SERIES_TAGS];
    if (kind === 'counter') {
      const c = new Counter({
        name: 'bench_export_requests_total',
        help: 'Requests.',
        labelNames,
        registers: [registry],
      });
      feed(size, (labels) => c.inc(labels));
    } else {
      const h = new Histogram({
        name: 'bench_export_request_duration_seconds',
        help: 'Request duration.',
        labelNames,
        registers: [registry],
      });
      feed(size, (labels, value) => h.observe(labels, value));
    }
    return {
      variants: [{ name: PROM_METRICS, produce: () => registry.metrics() }],
      check: (_variant, result) => expectSeries('prom-client', result as string, kind, size),
      async close() {
        registry.clear();
      },
    };
  },
};

const otelImpl: Implementation = {
  name: 'OTel',
  variantNames: [OTEL_SERIALIZE],
  buckets: 16,
  build(kind, size) {
    const pipeline = otelPipeline();
    const meter = pipeline.provider.getMeter('bench');
    if (kind === 'counter') {
      const c = meter.createCounter('bench_export_requests', { description: 'Requests.' });
      feed(size, (labels) => c.add(1, labels));
    } else {
      const h = meter.createHistogram('bench_export_request_duration_seconds', {
        description: 'Request duration.',
      });
      feed(size, (labels, value) => h.record(value, labels));
    }
    return {
      variants: [{ name: OTEL_SERIALIZE, produce: () => pipeline.scrape() }],
      check: (_variant, result) => expectSeries('OTel', result as string, kind, size),
      close: () => pipeline.shutdown(),
    };
  },
};

interface Measurement {
  readonly ms: number;
  /** Process CPU time (all threads) spent producing, which load from other processes does not inflate. */
  readonly cpuMs: number;
  readonly bytes: number;
  readonly peakBytes: number;
  readonly stallMs: number;
  readonly cpuStallMs: number;
}

async function measureOnce(variant: Variant, check: (result: string | number) => void): Promise<Measurement> {
  const baseline = await settledBytes();
  const probe = new StallProbe();
  probe.start();
  await sleep(5);
  const start = nowNs();
  const startCpu = cpuNs();
  let result: string | number | undefined = await variant.produce();
  // Writing a string to a socket flattens it and encodes it; byteLength does the flattening, for every producer.
  const bytes = typeof result === 'string' ? Buffer.byteLength(result) : result;
  const cpu = cpuNs() - startCpu;
  const elapsed = nowNs() - start;
  probe.sample();
  // One more tick after a synchronous producer records the gap it caused.
  await sleep(3);
  const reading: ProbeReading = probe.stop();
  check(result);
  result = undefined;
  return {
    ms: elapsed / 1e6,
    cpuMs: cpu / 1e6,
    bytes,
    peakBytes: reading.peakBytes - baseline,
    stallMs: reading.maxGapMs,
    cpuStallMs: reading.maxCpuGapMs,
  };
}

export async function runExport(options: ExportOptions): Promise<SectionResult> {
  const sizes = options.quick ? [1_000] : [1_000, 10_000, 100_000];
  const roundsFor = (size: number) => (options.quick ? 1 : size >= 100_000 ? 2 : size >= 10_000 ? 3 : 5);
  // Past this much time spent on one implementation and size, no further round starts.
  const budgetMs = 60_000;
  const implementations = [telemeterImpl, promImpl, otelImpl];

  // One unmeasured pass at a small size, so no producer is timed while its code is still being compiled.
  for (const kind of ['counter', 'histogram'] as const) {
    for (const impl of implementations) {
      const built = impl.build(kind, 1_000);
      for (const variant of built.variants) await variant.produce();
      await built.close();
    }
  }

  const tables: Table[] = [];
  const goalFigures = new Map<string, Measurement>();
  for (const kind of ['counter', 'histogram'] as const) {
    const rows: string[][] = [];
    for (const size of sizes) {
      const samples = new Map<string, Measurement[]>();
      const spent = new Map<string, number>();
      const rounds = roundsFor(size);
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < implementations.length; k++) {
          const impl = implementations[(k + round) % implementations.length];
          if ((spent.get(impl.name) ?? 0) > budgetMs && round > 0) continue;
          options.progress(`export: ${kind}, ${size} series, ${impl.name}, round ${round + 1}/${rounds}`);
          const started = performance.now();
          const built = impl.build(kind, size);
          try {
            for (const variant of built.variants) {
              const m = await measureOnce(variant, (result) => {
                if (round === 0) built.check(variant.name, result);
              });
              samples.set(variant.name, [...(samples.get(variant.name) ?? []), m]);
            }
          } finally {
            await built.close();
          }
          spent.set(impl.name, (spent.get(impl.name) ?? 0) + performance.now() - started);
        }
      }
      const summarize = (list: Measurement[]): Measurement => ({
        ms: median(list.map((m) => m.ms)),
        cpuMs: median(list.map((m) => m.cpuMs)),
        bytes: list[list.length - 1].bytes,
        peakBytes: Math.max(...list.map((m) => m.peakBytes)),
        stallMs: Math.max(...list.map((m) => m.stallMs)),
        cpuStallMs: Math.max(...list.map((m) => m.cpuStallMs)),
      });
      const order = implementations.flatMap((impl) => impl.variantNames);
      const reference = summarize(samples.get(order[0])!);
      for (const name of order) {
        const list = samples.get(name);
        if (list === undefined) continue;
        const m = summarize(list);
        goalFigures.set(`${kind}.${size}.${name}`, m);
        rows.push([
          size.toLocaleString('en-US'),
          name,
          ms(m.ms),
          ms(m.cpuMs),
          mib(m.bytes),
          mib(m.peakBytes),
          ms(m.stallMs),
          ms(m.cpuStallMs),
          times(m.cpuMs / reference.cpuMs),
          String(list.length),
        ]);
      }
    }
    tables.push({
      title:
        kind === 'counter'
          ? 'Export: a counter with 3 tags'
          : `Export: a histogram with 3 tags and each library's default buckets (telemeter ${telemeterImpl.buckets}, prom-client ${promImpl.buckets}, OTel ${otelImpl.buckets} buckets per series incl. +Inf)`,
      header: [
        'series',
        'producer',
        'time to full body ms (median)',
        'CPU ms (median)',
        'body MiB',
        'peak live memory above baseline MiB (max)',
        'longest event-loop stall ms (max)',
        'same, in CPU ms (max)',
        'CPU ÷ telemeter scrape() CPU (× slower)',
        'rounds',
      ],
      textColumns: 2,
      rows,
      notes: [
        'Each round builds one library’s metric alone (the others are not in memory), GCs, then produces the body; rounds rotate the library order.',
        'Stall: longest gap between ticks of a 1 ms interval timer while producing (≈1 ms when idle). Peak: V8 heap + external memory sampled at each tick and once at the end while the body is still held, minus the GC’d baseline; a synchronous producer is sampled only at the end.',
        'OTel: `exporter.collect()` then `new PrometheusSerializer().serialize()` — what its HTTP handler does; cardinality limit raised to 1M by a view. Its body includes `otel_scope_*` labels and `target_info`.',
        'Every producer’s output is measured with `Buffer.byteLength` inside the timing, which flattens the string as a socket write would. Telemeter’s streamed chunks are measured and dropped, as a server writes each chunk and drops it.',
        'CPU ms is process CPU time (all threads, GC helpers included) and is what the ratio column compares: on a loaded machine wall time and stalls also contain time the process spent preempted. The CPU stall is the CPU time used between two timer ticks (capped at their wall gap).',
      ],
    });
  }

  const largest = sizes[sizes.length - 1];
  const tm = goalFigures.get(`histogram.${largest}.${TM_SCRAPE}`);
  const tmStream = goalFigures.get(`histogram.${largest}.${TM_STREAMED}`);
  const prom = goalFigures.get(`histogram.${largest}.${PROM_METRICS}`);
  return {
    tables,
    goals:
      tm && tmStream && prom
        ? [
            {
              goal: `${largest.toLocaleString('en-US')} histogram series: export ≥ 10× faster than prom-client`,
              measured:
                `CPU: scrape() ${ms(tm.cpuMs)} ms (${times(prom.cpuMs / tm.cpuMs)}), streamed ${ms(tmStream.cpuMs)} ms (${times(prom.cpuMs / tmStream.cpuMs)}) vs ${ms(prom.cpuMs)} ms; ` +
                `wall: ${ms(tm.ms)} / ${ms(tmStream.ms)} vs ${ms(prom.ms)} ms`,
              met: prom.cpuMs / tmStream.cpuMs >= 10,
            },
            {
              goal: `${largest.toLocaleString('en-US')} histogram series streamed: no event-loop stall over 20 ms`,
              measured: `${ms(tmStream.cpuStallMs)} ms of CPU (${ms(tmStream.stallMs)} ms wall, preemption included)`,
              met: tmStream.cpuStallMs <= 20,
            },
          ]
        : [],
  };
}
