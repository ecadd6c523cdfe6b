/**
 * Native histograms across processes, without a transport: worker Telemeters, their exporters, a JSON round trip
 * (what cluster IPC does) and the primary's appliers. Property: whatever the split of values over workers and the
 * flushes in between, the primary holds what one process recording every value holds, bucket for bucket, also
 * where the bucket limit lowered the resolution differently in each process.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { DeltaApplier, mergeTargetFor } from '../../src/cluster/delta-applier.js';
import { DeltaExporter } from '../../src/cluster/delta-exporter.js';
import { type ClusterAggregator, clusterTelemeter, startClusterPrimary } from '../../src/cluster/index.js';
import { decodeNative, encodeNative } from '../../src/cluster/native-codec.js';
import type { FamilyDelta } from '../../src/cluster/protocol.js';
import {
  distribution,
  type HistogramFamily,
  type MetricDefinition,
  setLogger,
  Telemeter,
} from '../../src/index.js';
import { nativeClusterMetrics, nativeRouteOf } from '../fixtures/cluster-metrics.js';
import { sample } from '../support/samples.js';

const BOOTSTRAP = fileURLToPath(new URL('../fixtures/thread-bootstrap.mjs', import.meta.url));
const ENTRY = pathToFileURL(
  fileURLToPath(new URL('../fixtures/cluster-native-worker.ts', import.meta.url)),
).href;
const WAIT_MS = 20_000;

const telemeters: Telemeter[] = [];
let aggregator: ClusterAggregator | undefined;
const threads: Worker[] = [];
afterEach(async () => {
  for (const t of telemeters.splice(0)) t.close();
  aggregator?.close();
  aggregator = undefined;
  await Promise.all(threads.splice(0).map((t) => t.terminate()));
  setLogger(null);
});

/** The next message `cmd` from `worker`; throws after WAIT_MS. */
function reply(worker: Worker, cmd: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${cmd} from thread ${worker.threadId}`)), WAIT_MS);
    const listener = (message: { cmd?: string }) => {
      if (message?.cmd !== cmd) return;
      clearTimeout(timer);
      worker.off('message', listener);
      resolve(message);
    };
    worker.on('message', listener);
  });
}

async function spawn(agg: ClusterAggregator): Promise<Worker> {
  const before = agg.workers;
  const worker = new Worker(BOOTSTRAP, { workerData: { entry: ENTRY } });
  agg.addWorkerThread(worker);
  threads.push(worker);
  await reply(worker, 'ready');
  const deadline = Date.now() + WAIT_MS;
  while (agg.workers <= before) {
    if (Date.now() > deadline) throw new Error('the thread did not connect');
    await new Promise((r) => setTimeout(r, 10));
  }
  return worker;
}

function telemeter(metrics: MetricDefinition[]): Telemeter {
  const t = new Telemeter({ metrics, selfMetrics: false });
  telemeters.push(t);
  return t;
}

function histogram(t: Telemeter, name: string): HistogramFamily {
  const family = t.metricFamilies.find((f) => f.name === name);
  if (family?.kind !== 'histogram') throw new Error(`no histogram ${name}`);
  return family;
}

function record(t: Telemeter, value: number): void {
  t.bind('shop.native.latency', { route: nativeRouteOf(value) }).record(value);
  t.bind('shop.both.latency').record(value);
}

function connect(primary: Telemeter, source: Telemeter, label: string) {
  const exporter = new DeltaExporter(source);
  exporter.resume();
  const applier = new DeltaApplier(
    mergeTargetFor(primary, 'worker', () => []),
    label,
    () => true,
  );
  return () => {
    for (const chunk of exporter.collect()) applier.apply(JSON.parse(JSON.stringify(chunk)) as FamilyDelta[]);
  };
}

/** Every series of both families as plain data, by label block: what a scrape of them shows. */
function contents(t: Telemeter) {
  const out: Record<string, unknown> = {};
  for (const name of ['shop_native_latency', 'shop_both_latency']) {
    const family = histogram(t, name);
    for (let s = 0; s < family.seriesIdLimit; s++) {
      if (!family.holds(s)) continue;
      const buckets = Array.from({ length: family.buckets }, (_, b) => family.bucketCount(s, b));
      out[`${name}{${family.labelBlock(s)}}`] = {
        native: family.nativeHistogram(s),
        count: family.count(s),
        sum: family.sum(s),
        buckets,
      };
    }
  }
  return out;
}

/** Dyadic values (exact sums in any order) over seven orders of magnitude, both signs, zeros. */
const value = fc.oneof(
  fc.integer({ min: -80_000, max: 80_000 }).map((n) => n / 64),
  fc.integer({ min: 1, max: 4096 }).map((n) => n / 2 ** 20),
  fc.constant(0),
);

describe('native histograms in the cluster', () => {
  it('merge to what one process recording every value holds, whatever the split and the flushes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, fc.integer({ min: 0, max: 2 }), fc.boolean()), { maxLength: 120 }),
        fc.integer({ min: 4, max: 40 }),
        (steps, maxBucketCount) => {
          const metrics = nativeClusterMetrics(maxBucketCount);
          const primary = clusterTelemeter({ metrics, selfMetrics: false });
          telemeters.push(primary);
          const single = telemeter(metrics);
          const workers = [telemeter(metrics), telemeter(metrics), telemeter(metrics)];
          const flushes = workers.map((w, i) => connect(primary, w, String(i)));
          for (const [v, w, flush] of steps) {
            record(workers[w], v);
            record(single, v);
            if (flush) flushes[w]();
          }
          for (const flush of flushes) flush();
          expect(contents(primary)).toEqual(contents(single));
          for (const t of telemeters.splice(0)) t.close();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('merges values hundreds of powers of two apart, at a very coarse schema', () => {
    const metrics = nativeClusterMetrics(4);
    const primary = clusterTelemeter({ metrics, selfMetrics: false });
    telemeters.push(primary);
    const single = telemeter(metrics);
    const workers = [telemeter(metrics), telemeter(metrics)];
    const flushes = workers.map((w, i) => connect(primary, w, String(i)));
    [1e-300, 1e300, 3, -1e-200, -1e200, 0, 2 ** -130, 7e50].forEach((v, i) => {
      record(workers[i % 2], v);
      record(single, v);
      flushes[i % 2]();
    });
    const merged = contents(primary);
    expect(merged).toEqual(contents(single));
    const native = (
      merged['shop_native_latency{route="/buy"}'] as { native: { schema: number; count: number } }
    ).native;
    expect(native.schema).toBeLessThan(0);
    expect(native.count).toBe(6);
  });

  it('refuses a family whose histogram layout differs between worker and primary, with one warning', () => {
    const warnings: string[] = [];
    const metrics = nativeClusterMetrics();
    const primary = clusterTelemeter({
      metrics,
      selfMetrics: false,
      logger: { warn: (_f, m) => warnings.push(m), error: (_f, m) => warnings.push(m) },
    });
    telemeters.push(primary);
    // The same name and bounds, classic in the worker: as many buckets, so only the layout tells them apart.
    const worker = telemeter([
      nativeClusterMetrics()[0],
      distribution('shop.both.latency', {
        eventName: 'shop.native',
        measurement: 'value',
        unit: 'unit',
        reporterOptions: { buckets: [-1, 0, 1, 10, 100] },
      }),
    ]);
    const flush = connect(primary, worker, '0');
    record(worker, 5);
    flush();
    expect(histogram(primary, 'shop_both_latency').count(0)).toBe(0);
    expect(histogram(primary, 'shop_native_latency').nativeHistogram(0)?.count).toBe(1);
    expect(warnings.filter((w) => w.includes('shop_both_latency'))).toHaveLength(1);
    expect(warnings[0]).toMatch(/histogram layout/);
  });
});

describe('native histograms over worker_threads', () => {
  it('the primary holds what one process recording every value holds', async () => {
    aggregator = startClusterPrimary(
      clusterTelemeter({ metrics: nativeClusterMetrics(), selfMetrics: false }),
      {
        cluster: false,
        timeoutMs: 10_000,
      },
    );
    const agg = aggregator;
    const single = telemeter(nativeClusterMetrics());
    const threadA = await spawn(agg);
    const threadB = await spawn(agg);
    // Values over many orders of magnitude, both signs and zero: every thread lowers its resolution on its own.
    const values = fc.sample(
      fc.oneof(
        fc.integer({ min: -80_000, max: 80_000 }).map((n) => n / 64),
        fc.integer({ min: 1, max: 4096 }).map((n) => n / 2 ** 20),
        fc.constant(0),
      ),
      { numRuns: 2000, seed: 16 },
    );
    // Recorded through handles: an event in this thread would reach the primary's Telemeter too.
    for (const value of values) record(single, value);
    // The threads get halves, in two rounds each, with a collect between.
    const rounds = [
      values.slice(0, 500),
      values.slice(500, 1000),
      values.slice(1000, 1500),
      values.slice(1500),
    ];
    for (const [i, part] of rounds.entries()) {
      const thread = i % 2 === 0 ? threadA : threadB;
      const answered = reply(thread, 'recorded');
      thread.postMessage({ cmd: 'record', values: part });
      await answered;
      if (i === 1) expect(await agg.collect()).toEqual({ workers: 2, answered: 2, timedOut: 0 });
    }
    expect(await agg.collect()).toEqual({ workers: 2, answered: 2, timedOut: 0 });
    const merged = contents(agg.telemeter);
    expect(merged).toEqual(contents(single));
    const buy = merged['shop_native_latency{route="/buy"}'] as { native: { schema: number } };
    expect(buy.native.schema).toBeLessThan(5);
    // The text formats read the same merged count.
    const body = await agg.scrape();
    expect(sample(body, 'shop_both_latency_count')).toBe(2000);

    // A stopped thread's observations stay.
    const stopped = reply(threadA, 'stopped');
    threadA.postMessage({ cmd: 'stop' });
    await stopped;
    await threadA.terminate();
    expect(contents(agg.telemeter)).toEqual(merged);
  });
});

describe('the native wire form', () => {
  it('round-trips through JSON, and refuses what the primary must not merge', () => {
    const data = {
      schema: 3,
      zeroThreshold: 2 ** -128,
      zeroCount: 2,
      count: 7,
      sum: 1.5,
      positive: { indices: [-26, -18, 5], counts: [1, 2, 1] },
      negative: { indices: [3], counts: [1] },
    };
    expect(decodeNative(JSON.parse(JSON.stringify(encodeNative(data))))).toEqual(data);
    const bad = (change: object) => decodeNative({ ...encodeNative(data), ...change });
    expect(bad({ s: 9 })).toBeUndefined();
    expect(bad({ s: 2.5 })).toBeUndefined();
    expect(bad({ t: -1 })).toBeUndefined();
    expect(bad({ c: 5 })).toBeUndefined(); // fewer than the buckets hold
    expect(bad({ p: [5, 1, -26, 1] })).toBeUndefined(); // not ascending
    expect(bad({ p: [1e9, 1] })).toBeUndefined(); // beyond the overflow bucket
    expect(bad({ p: [1, 0] })).toBeUndefined();
    expect(bad({ p: [1] })).toBeUndefined();
    expect(bad({ z: Number.NaN })).toBeUndefined();
    expect(decodeNative(null)).toBeUndefined();
  });
});
