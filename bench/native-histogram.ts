/**
 * Native histograms against classic ones, at the store: ns per observation into an existing series of a
 * `NativeHistogramStore` (default options: schema 3, 160 buckets) and of the classic `HistogramStore` (the 15
 * default bounds of a distribution in seconds), and bytes per series once each series holds a spread of latencies.
 *
 *   npm run bench:one -- bench/native-histogram.ts [--quick]
 *
 * The stores are not exported by the package yet (the native one is not wired into definitions), so this reads them
 * from the build in dist/ that `bench:one` makes first. Values are log-uniform over 1 ms … 20 s (14 powers of two),
 * cycling through 180 series in a shuffled order, as the hot-path section's 3-tag histogram does.
 */
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import type { HistogramStore as HistogramStoreType } from '../src/reporter/histogram-store.js';
import type { NativeHistogramStore as NativeHistogramStoreType } from '../src/reporter/native-histogram.js';
import {
  consume,
  type LoopCase,
  logUniform,
  median,
  pairedRatio,
  seededRandom,
  settledBytes,
  sinkValue,
  timeInterleaved,
} from './measure.js';
import { markdownTable, ns, times } from './report.js';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const quick = args.quick === true;

const dist = new URL('../dist/', import.meta.url);
const { HistogramStore } = (await import(new URL('reporter/histogram-store.js', dist).href)) as {
  HistogramStore: typeof HistogramStoreType;
};
const { NativeHistogramStore } = (await import(new URL('reporter/native-histogram.js', dist).href)) as {
  NativeHistogramStore: typeof NativeHistogramStoreType;
};
const { defaultBuckets } = (await import(new URL('metrics/buckets.js', dist).href)) as {
  defaultBuckets: (unit: string) => readonly number[];
};

const POOL_SIZE = 4096;
const MASK = POOL_SIZE - 1;
const SERIES = 180;
const random = seededRandom(16);
const values = new Float64Array(POOL_SIZE);
const series = new Uint32Array(POOL_SIZE);
for (let i = 0; i < POOL_SIZE; i++) {
  values[i] = logUniform(random, 0.001, 20);
  series[i] = Math.floor(random() * SERIES);
}

const bounds = Float64Array.from(defaultBuckets('second'));

function classicStore(count: number): HistogramStoreType {
  const store = new HistogramStore(bounds);
  store.grow(count);
  return store;
}

function nativeStore(count: number): NativeHistogramStoreType {
  const store = new NativeHistogramStore();
  store.grow(count);
  return store;
}

// Memory first, before the timed loops leave garbage and compiled code behind that a later reading would net out.
/** Bytes per series of `count` series that each hold `perSeries` observations from the pool. */
async function bytesPerSeries(make: (count: number) => { observe(series: number, value: number): void }) {
  const count = quick ? 2000 : 20_000;
  const perSeries = 200;
  await settledBytes();
  const before = getHeapStatistics();
  const store = make(count);
  for (let s = 0; s < count; s++) {
    for (let k = 0; k < perSeries; k++) store.observe(s, values[(s * perSeries + k) & MASK]);
  }
  await settledBytes();
  const after = getHeapStatistics();
  consume(store === undefined ? 0 : 1);
  const heap = (after.used_heap_size - before.used_heap_size) / count;
  const external = (after.external_memory - before.external_memory) / count;
  return { bytes: heap + external, heap, external, store };
}

const classicMemory = await bytesPerSeries(classicStore);
const nativeMemory = await bytesPerSeries(nativeStore);
const classic = classicStore(SERIES);
const native = nativeStore(SERIES);
// Every series sees the whole value range first, so the timed loops measure recording, not window growth.
for (let i = 0; i < POOL_SIZE * 8; i++) {
  classic.observe(series[i & MASK], values[i & MASK]);
  native.observe(series[i & MASK], values[i & MASK]);
}

const cases: LoopCase[] = [
  {
    id: 'classic',
    run: (n) => {
      for (let i = 0; i < n; i++) classic.observe(series[i & MASK], values[i & MASK]);
      return classic.sums[0];
    },
  },
  {
    id: 'native',
    run: (n) => {
      for (let i = 0; i < n; i++) native.observe(series[i & MASK], values[i & MASK]);
      return native.sum(0);
    },
  },
];

const settings = quick
  ? { roundMs: 20, rounds: 5, warmupMs: 50 }
  : { roundMs: 100, rounds: 15, warmupMs: 300 };
const timings = timeInterleaved(cases, settings);
const classicTiming = timings.get('classic');
const nativeTiming = timings.get('native');
if (classicTiming === undefined || nativeTiming === undefined) throw new Error('bench: a case did not run');

const nativeHeld = nativeMemory.store as NativeHistogramStoreType;
const buckets: number[] = [];
for (let s = 0; s < 1000; s++) buckets.push(nativeHeld.bucketCount(s));

console.log(
  markdownTable({
    title: `Recording into an existing series (${SERIES} series, values log-uniform over 1 ms … 20 s; CPU ns per observation, median of ${nativeTiming.rounds} rounds)`,
    header: ['store', 'ns per observation', 'range', 'native / classic (paired)'],
    rows: [
      [
        'classic `HistogramStore`, 15 bounds',
        ns(classicTiming.nsPerOp),
        `${ns(classicTiming.minNs)}–${ns(classicTiming.maxNs)}`,
        '',
      ],
      [
        '`NativeHistogramStore`, schema 3',
        ns(nativeTiming.nsPerOp),
        `${ns(nativeTiming.minNs)}–${ns(nativeTiming.maxNs)}`,
        times(pairedRatio(nativeTiming, classicTiming)),
      ],
    ],
  }),
);
console.log(
  markdownTable({
    title:
      'Memory per series, each series holding 200 observations (V8 heap + ArrayBuffers, after forced GCs)',
    header: ['store', 'bytes per series', 'V8 heap', 'ArrayBuffers', 'populated buckets per series (median)'],
    rows: [
      [
        'classic `HistogramStore`, 15 bounds',
        classicMemory.bytes.toFixed(0),
        classicMemory.heap.toFixed(0),
        classicMemory.external.toFixed(0),
        '16 (fixed)',
      ],
      [
        '`NativeHistogramStore`, schema 3',
        nativeMemory.bytes.toFixed(0),
        nativeMemory.heap.toFixed(0),
        nativeMemory.external.toFixed(0),
        String(median(buckets)),
      ],
    ],
    notes: [
      'The store alone: a series also costs its entry in the series table and its label block (see the memory section).',
    ],
  }),
);
console.error(`sink ${sinkValue()}`);
