import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { counter, distribution, execute, summary, Telemeter } from '../../src/index.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const EVENTS = 1_000_000;

/** Heap bytes allocated per event (upper bound) and garbage collections seen while running `fn`. */
async function measure(fn: () => void): Promise<{ bytesPerEvent: number; collections: number }> {
  let collections = 0;
  const observer = new PerformanceObserver((list) => {
    collections += list.getEntries().length;
  });
  gc();
  observer.observe({ entryTypes: ['gc'] });
  const before = process.memoryUsage().heapUsed;
  fn();
  const after = process.memoryUsage().heapUsed;
  await new Promise((r) => setTimeout(r, 50));
  observer.disconnect();
  return { bytesPerEvent: (after - before) / EVENTS, collections };
}

describe('hot path allocations for an existing series', () => {
  it('execute into a counter, a classic and a native distribution and a summary with 3 tags allocates nothing per event', async () => {
    const telemeter = new Telemeter({
      metrics: [
        counter('alloc.request.count', {
          eventName: 'alloc.request.stop',
          measurement: 'duration',
          tags: ['route', 'method', 'status'],
        }),
        distribution('alloc.request.stop.duration', {
          unit: ['native', 'millisecond'],
          tags: ['route', 'method', 'status'],
        }),
        // Native buckets: the index computation and the window store inline into the generated recorder.
        distribution('alloc.request.native', {
          eventName: 'alloc.request.stop',
          measurement: 'duration',
          unit: ['native', 'millisecond'],
          tags: ['route', 'method', 'status'],
          reporterOptions: { histogram: 'both' },
        }),
        // A summary next to them once boxed a third of the values on their way into its store.
        summary('alloc.request.latency', {
          eventName: 'alloc.request.stop',
          measurement: 'duration',
          unit: ['native', 'millisecond'],
          tags: ['route', 'method', 'status'],
        }),
      ],
    });
    try {
      const measurements = [{ duration: 1_200_000 }, { duration: 45_000_000 }, { duration: 3_000_000_000 }];
      const metadata = [
        { route: '/cart', method: 'GET', status: 200 },
        { route: '/cart', method: 'POST', status: 201 },
        { route: '/products/:id', method: 'GET', status: 404 },
      ];
      const loop = (n: number) => {
        for (let i = 0; i < n; i++) execute('alloc.request.stop', measurements[i % 3], metadata[i % 3]);
      };
      // The optimizing compiler runs on a background thread: on a busy machine it can finish after any fixed
      // warm-up, and unoptimized code boxes every double it computes. So the test takes the best of a few rounds,
      // each after a fresh warm-up. An allocation made per event shows in every round; a late compiler in a few.
      let best = { bytesPerEvent: Number.POSITIVE_INFINITY, collections: Number.POSITIVE_INFINITY };
      let events = 0;
      for (let round = 0; round < 5 && !(best.bytesPerEvent < 0.5 && best.collections === 0); round++) {
        loop(1_000_000); // warm up: create the series, let the JIT settle
        const result = await measure(() => loop(EVENTS));
        events += 1_000_000 + EVENTS;
        if (result.bytesPerEvent < best.bytesPerEvent) best = result;
      }
      expect(best.bytesPerEvent).toBeLessThan(0.5);
      expect(best.collections).toBe(0);
      const body = telemeter.scrape();
      // Both loops start at index 0 and run a multiple of 1 000 000 events: index 0 mod 3 is GET /cart.
      expect(body).toContain(
        `alloc_request_count_total{method="GET",route="/cart",status="200"} ${(events / 1_000_000) * 333_334}`,
      );
      const native = telemeter.metricFamilies.find((f) => f.name === 'alloc_request_native');
      if (native?.kind !== 'histogram') throw new Error('no native family');
      // Each series saw one value: one populated native bucket holding all of its observations.
      for (let s = 0; s < native.seriesIdLimit; s++) {
        expect(native.nativeHistogram(s)?.positive.counts).toEqual([native.count(s)]);
      }
    } finally {
      telemeter.close();
    }
  });
});
