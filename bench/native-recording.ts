/**
 * Native histograms through a Telemeter, as users get them (`reporterOptions.histogram`): CPU ns per `execute()`
 * into an existing series of one distribution kept classic (the 15 default bounds in seconds), native (schema 3)
 * or both; bytes per series with each series holding a spread of latencies; and the CPU to encode a protobuf
 * scrape of many series, native against classic.
 *
 *   npm run bench:one -- bench/native-recording.ts [--quick] [--series 100000]
 *
 * Values are log-uniform over 1 ms … 20 s, over 180 series of 3 tags in a shuffled order (the hot-path section's
 * shape). bench/native-histogram.ts measures the stores alone.
 */
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { distribution, execute, Telemeter } from 'telemeter';
import {
  consume,
  type LoopCase,
  logUniform,
  pairedRatio,
  seededRandom,
  settledBytes,
  sinkValue,
  timeInterleaved,
} from './measure.js';
import { markdownTable, ms, ns, times } from './report.js';

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, series: { type: 'string', default: '100000' } },
});
const quick = args.quick === true;
const scrapeSeries = Number(args.series);

type Layout = 'classic' | 'native' | 'both';
const LAYOUTS: readonly Layout[] = ['classic', 'native', 'both'];

const POOL_SIZE = 4096;
const MASK = POOL_SIZE - 1;
const random = seededRandom(16);
const values = new Float64Array(POOL_SIZE);
const tagSets: Record<string, string>[] = [];
const routes = Array.from({ length: 10 }, (_, i) => `/route/${i}`);
const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD'];
const statuses = ['200', '404', '500'];
for (const route of routes)
  for (const method of methods) for (const status of statuses) tagSets.push({ route, method, status });
const tags = new Array<Record<string, string>>(POOL_SIZE);
for (let i = 0; i < POOL_SIZE; i++) {
  values[i] = logUniform(random, 0.001, 20);
  tags[i] = tagSets[Math.floor(random() * tagSets.length)];
}
const measurements = Array.from(values, (duration) => ({ duration }));

function telemeterOf(layout: Layout, event: string): Telemeter {
  return new Telemeter({
    selfMetrics: false,
    maxSeries: 10_000_000,
    metrics: [
      distribution(`${event}.duration`, {
        tags: ['route', 'method', 'status'],
        unit: 'second',
        reporterOptions: { histogram: layout, maxSeries: 10_000_000 },
      }),
    ],
  });
}

// Memory first, before the timed loops leave garbage and compiled code behind.
async function bytesPerSeries(layout: Layout): Promise<number> {
  const count = quick ? 2000 : 20_000;
  const event = `mem.${layout}`;
  await settledBytes();
  const before = getHeapStatistics();
  const telemeter = telemeterOf(layout, event);
  for (let s = 0; s < count; s++) {
    const metadata = { route: `/r/${s}`, method: 'GET', status: '200' };
    for (let k = 0; k < 200; k++) execute(event, measurements[(s * 200 + k) & MASK], metadata);
  }
  await settledBytes();
  const after = getHeapStatistics();
  consume(telemeter.metricFamilies.length);
  telemeter.close();
  return (
    (after.used_heap_size - before.used_heap_size + after.external_memory - before.external_memory) / count
  );
}
const memory = new Map<Layout, number>();
for (const layout of LAYOUTS) memory.set(layout, await bytesPerSeries(layout));

const recorders = LAYOUTS.map((layout) => {
  const event = `rec.${layout}`;
  const telemeter = telemeterOf(layout, event);
  for (let i = 0; i < POOL_SIZE * 8; i++) execute(event, measurements[i & MASK], tags[i & MASK]);
  return { layout, event, telemeter };
});
const cases: LoopCase[] = recorders.map(({ layout, event, telemeter }) => ({
  id: layout,
  run: (n) => {
    for (let i = 0; i < n; i++) execute(event, measurements[i & MASK], tags[i & MASK]);
    return telemeter.metricFamilies.length;
  },
}));
const timings = timeInterleaved(
  cases,
  quick ? { roundMs: 20, rounds: 5, warmupMs: 50 } : { roundMs: 100, rounds: 11, warmupMs: 300 },
);
for (const { telemeter } of recorders) telemeter.close();

/** CPU ms of one protobuf scrape of `series` series holding 20 observations each. */
function scrapes(layout: Layout): { cpuMs: number[]; bytes: number } {
  const event = `scrape.${layout}`;
  const telemeter = telemeterOf(layout, event);
  for (let s = 0; s < scrapeSeries; s++) {
    const metadata = {
      route: `/r/${s % 1000}`,
      method: methods[Math.floor(s / 1000) % 6],
      status: String(s),
    };
    for (let k = 0; k < 20; k++) execute(event, measurements[(s * 20 + k) & MASK], metadata);
  }
  const cpuMs: number[] = [];
  let bytes = 0;
  for (let round = 0; round < (quick ? 2 : 5); round++) {
    (globalThis as { gc?: () => void }).gc?.();
    const start = process.cpuUsage();
    bytes = 0;
    for (const chunk of telemeter.renderProtobuf()) bytes += chunk.length;
    const used = process.cpuUsage(start);
    cpuMs.push((used.user + used.system) / 1000);
  }
  consume(bytes);
  telemeter.close();
  return { cpuMs, bytes };
}
const scrapeRows = (['classic', 'native'] as const).map((layout) => {
  const { cpuMs, bytes } = scrapes(layout);
  const sorted = [...cpuMs].sort((a, b) => a - b);
  return [
    layout,
    ms(sorted[Math.floor(sorted.length / 2)]),
    `${ms(sorted[0])}–${ms(sorted[sorted.length - 1])}`,
    (bytes / 2 ** 20).toFixed(1),
  ];
});

const classic = timings.get('classic');
if (classic === undefined) throw new Error('bench: classic did not run');
console.log(
  markdownTable({
    title: `Recording through execute() into an existing series (180 series of 3 tags; CPU ns per event, median of ${classic.rounds} rounds)`,
    header: ['reporterOptions.histogram', 'ns per event', 'range', '÷ classic (paired)'],
    rows: LAYOUTS.map((layout) => {
      const timing = timings.get(layout)!;
      return [
        layout,
        ns(timing.nsPerOp),
        `${ns(timing.minNs)}–${ns(timing.maxNs)}`,
        times(pairedRatio(timing, classic)),
      ];
    }),
  }),
);
console.log(
  markdownTable({
    title:
      'Memory per series through a Telemeter, each series holding 200 observations (heap + ArrayBuffers)',
    header: ['reporterOptions.histogram', 'bytes per series'],
    rows: LAYOUTS.map((layout) => [layout, (memory.get(layout) ?? 0).toFixed(0)]),
    notes: ['Series table, label block and store together.'],
  }),
);
console.log(
  markdownTable({
    title: `Protobuf scrape of ${scrapeSeries.toLocaleString('en')} histogram series (20 observations each), renderProtobuf() in one process`,
    header: ['reporterOptions.histogram', 'CPU ms (median)', 'range', 'body MiB'],
    rows: scrapeRows,
  }),
);
console.error(`sink ${sinkValue()}`);
