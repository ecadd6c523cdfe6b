import { Counter, Histogram, Registry, Summary } from 'prom-client';
import { counter, distribution, execute, summary, Telemeter } from 'telemeter';
import { consume, logUniform, seededRandom, settledBytes } from './measure.js';
import { otelPipeline, SUMMARY_QUANTILES } from './peers.js';
import { bytesPerUnit, type SectionResult, type Table, times } from './report.js';
import { SERIES_TAGS, seriesSet } from './series-set.js';

/**
 * Section 3: memory held per series, from live memory (heap + ArrayBuffers) after forced GCs, before and after
 * creating N series, divided by N. Measured both before the first scrape and after it, since a scrape may
 * build structures that stay (OpenTelemetry keeps its cumulative state from the first collection on).
 */

export interface MemoryOptions {
  readonly quick: boolean;
  readonly progress: (message: string) => void;
}

type Kind = 'counter' | 'histogram' | 'summary';

interface Subject {
  record(labels: Record<string, string>, value: number): void;
  scrape(): Promise<unknown>;
  close(): Promise<void>;
}

interface Library {
  readonly name: string;
  create(kind: Kind): Subject | undefined;
}

let sequence = 0;

const telemeterLibrary: Library = {
  name: 'telemeter',
  create(kind) {
    const eventName = `bench.memory.${kind}.${++sequence}`;
    const options = { eventName, measurement: 'value', tags: SERIES_TAGS };
    const definition =
      kind === 'counter'
        ? counter('bench.memory.requests.total', options)
        : kind === 'histogram'
          ? distribution('bench.memory.duration.seconds', { ...options, unit: 'second' })
          : summary('bench.memory.duration.seconds', { ...options, unit: 'second' });
    const telemeter = new Telemeter({ metrics: [definition], maxSeries: 1_000_000 });
    const measurements = { value: 0 };
    return {
      record(labels, value) {
        measurements.value = value;
        execute(eventName, measurements, labels);
      },
      async scrape() {
        return telemeter.scrape();
      },
      async close() {
        telemeter.close();
      },
    };
  },
};

const promLibrary: Library = {
  name: 'prom-client',
  create(kind) {
    const registry = new Registry();
    const common = { labelNames: [...SERIES_TAGS], registers: [registry] };
    let record: Subject['record'];
    if (kind === 'counter') {
      const c = new Counter({ name: 'bench_memory_requests_total', help: 'Requests.', ...common });
      record = (labels) => c.inc(labels);
    } else if (kind === 'histogram') {
      const h = new Histogram({ name: 'bench_memory_duration_seconds', help: 'Duration.', ...common });
      record = (labels, value) => h.observe(labels, value);
    } else {
      const s = new Summary({
        name: 'bench_memory_duration_seconds',
        help: 'Duration.',
        percentiles: SUMMARY_QUANTILES,
        ...common,
      });
      record = (labels, value) => s.observe(labels, value);
    }
    return {
      record,
      scrape: () => registry.metrics(),
      async close() {
        registry.clear();
      },
    };
  },
};

const otelLibrary: Library = {
  name: 'OTel',
  create(kind) {
    if (kind === 'summary') return undefined;
    const pipeline = otelPipeline();
    const meter = pipeline.provider.getMeter('bench');
    let record: Subject['record'];
    if (kind === 'counter') {
      const c = meter.createCounter('bench_memory_requests');
      record = (labels) => c.add(1, labels);
    } else {
      const h = meter.createHistogram('bench_memory_duration_seconds');
      record = (labels, value) => h.record(value, labels);
    }
    return { record, scrape: () => pipeline.scrape(), close: () => pipeline.shutdown() };
  },
};

interface PerSeries {
  readonly beforeScrape: number;
  readonly afterScrape: number;
}

/** Records `observations` values into each of `size` new series and returns bytes held per series. */
async function bytesPerSeries(
  library: Library,
  kind: Kind,
  size: number,
  observations: number,
): Promise<PerSeries | undefined> {
  const warm = library.create(kind);
  if (warm === undefined) return undefined;
  // A throw-away instance first, so compiled code and one-off caches are not charged to the series.
  const random = seededRandom(size);
  seriesSet(Math.min(size, 2_000)).forEach((labels) => {
    for (let i = 0; i < observations; i++) warm.record(labels, logUniform(random, 0.005, 2));
  });
  await warm.scrape();
  await warm.close();

  const subject = library.create(kind)!;
  await subject.scrape();
  const set = seriesSet(size);
  const baseline = await settledBytes();
  // seriesSet makes each label object here and drops it after: a library that keeps it is charged for it.
  set.forEach((labels) => {
    for (let i = 0; i < observations; i++) subject.record(labels, logUniform(random, 0.005, 2));
  });
  const beforeScrape = ((await settledBytes()) - baseline) / size;
  consume(await scrapedLength(subject));
  const afterScrape = ((await settledBytes()) - baseline) / size;
  await subject.close();
  consume(set.size);
  return { beforeScrape, afterScrape };
}

/** Scrapes in its own frame, so the body is unreachable once it returns. */
async function scrapedLength(subject: Subject): Promise<number> {
  const body = await subject.scrape();
  return typeof body === 'string' ? body.length : 0;
}

export async function runMemory(options: MemoryOptions): Promise<SectionResult> {
  const size = options.quick ? 1_000 : 10_000;
  const libraries = [telemeterLibrary, promLibrary, otelLibrary];
  const cases: Array<{ label: string; kind: Kind; observations: number }> = [
    { label: 'counter', kind: 'counter', observations: 1 },
    { label: 'histogram, default buckets', kind: 'histogram', observations: 1 },
    { label: 'summary, 1 observation per series', kind: 'summary', observations: 1 },
    { label: 'summary, 100 observations per series', kind: 'summary', observations: 100 },
  ];
  const rows: string[][] = [];
  let histogram: Map<string, PerSeries> | undefined;
  for (const c of cases) {
    const results = new Map<string, PerSeries>();
    for (const library of libraries) {
      options.progress(`memory: ${c.label}, ${library.name}`);
      const result = await bytesPerSeries(library, c.kind, size, c.observations);
      if (result !== undefined) results.set(library.name, result);
    }
    if (c.kind === 'histogram') histogram = results;
    const cell = (name: string) => {
      const r = results.get(name);
      return r === undefined ? 'n/a' : `${bytesPerUnit(r.afterScrape)} (${bytesPerUnit(r.beforeScrape)})`;
    };
    const ratio = (name: string) => {
      const peer = results.get(name);
      const own = results.get('telemeter');
      return peer && own ? times(peer.afterScrape / own.afterScrape) : 'n/a';
    };
    rows.push([
      c.label,
      cell('telemeter'),
      cell('prom-client'),
      cell('OTel'),
      ratio('prom-client'),
      ratio('OTel'),
    ]);
  }

  const table: Table = {
    title: `Memory per series, ${size.toLocaleString('en-US')} series with 3 tags (bytes per series after the first scrape; before it in parentheses)`,
    header: [
      'metric',
      'telemeter B',
      'prom-client B',
      'OTel B',
      'prom-client ÷ telemeter (× more)',
      'OTel ÷ telemeter (× more)',
    ],
    rows,
    notes: [
      'Live memory = V8 heap used + external memory (ArrayBuffer backing stores: telemeter keeps values in typed arrays, outside the V8 heap), after forced GCs with pauses for the ArrayBuffer sweeper.',
      "Default buckets: telemeter 14 bounds (unit second), prom-client 11, OTel 15. Summaries: telemeter's 5-slot sliding window of sketches; prom-client's default t-digest (no window); OTel has none.",
      'Label values are shared strings made before the baseline; label objects are made per series and dropped, so a library that keeps them pays for them.',
      "telemeter's typed arrays grow by half again when full, so the figure depends on where N falls between two sizes.",
    ],
  };

  const tm = histogram?.get('telemeter');
  const prom = histogram?.get('prom-client');
  return {
    tables: [table],
    goals:
      tm && prom
        ? [
            {
              goal: 'histogram series: telemeter at most half of prom-client’s memory',
              measured: `${bytesPerUnit(tm.afterScrape)} B vs ${bytesPerUnit(prom.afterScrape)} B (prom-client holds ${times(prom.afterScrape / tm.afterScrape)} telemeter's)`,
              met: tm.afterScrape * 2 <= prom.afterScrape,
            },
          ]
        : [],
  };
}
