import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { Telemeter } from '../../src/index.js';
import { observeGc, RUNTIME_EVENTS, runtimeMetrics } from '../../src/runtime/index.js';
import { capture, sampleValue, waitFor } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Counts the GC entries Node delivers, and the largest batch one callback received. */
function referenceObserver() {
  const counts = { entries: 0, callbacks: 0, largestBatch: 0 };
  const observer = new PerformanceObserver((list) => {
    const n = list.getEntries().length;
    counts.entries += n;
    counts.callbacks += 1;
    counts.largestBatch = Math.max(counts.largestBatch, n);
  });
  observer.observe({ entryTypes: ['gc'] });
  return { counts, stop: () => observer.disconnect() };
}

function gcCount(body: string): number {
  let total = 0;
  for (const kind of ['major', 'minor', 'incremental', 'weakcb', 'unknown']) {
    total += sampleValue(body, 'nodejs_gc_duration_seconds_count', { kind }) ?? 0;
  }
  return total;
}

describe('observeGc', () => {
  const stops: Array<() => void> = [];
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
  });

  it('counts every GC, including several delivered in one batch', async () => {
    const telemeter = new Telemeter({ metrics: runtimeMetrics(), selfMetrics: false });
    const observer = observeGc();
    const reference = referenceObserver();
    stops.push(() => telemeter.close());

    const forced = 25;
    for (let i = 0; i < forced; i++) gc();
    // Allocation pressure adds scavenges of their own.
    let keep: object[] = [];
    for (let i = 0; i < 300_000; i++) {
      keep.push({ i });
      if (keep.length > 50_000) keep = [];
    }
    // Node delivers to every observer in one setImmediate, so once the reference has the forced collections,
    // the observer under test has had the same deliveries.
    await waitFor(() => reference.counts.entries >= forced, 'the forced collections delivered');
    observer.stop();
    reference.stop();

    const body = telemeter.scrape();
    const recorded = gcCount(body);
    expect(reference.counts.largestBatch).toBeGreaterThan(1);
    expect(recorded).toBeGreaterThanOrEqual(forced);
    expect(recorded).toBe(reference.counts.entries);
    expect(sampleValue(body, 'nodejs_gc_duration_seconds_count', { kind: 'major' })).toBeGreaterThanOrEqual(
      forced,
    );
    expect(sampleValue(body, 'nodejs_gc_duration_seconds_sum', { kind: 'major' })).toBeGreaterThan(0);

    // Disconnected: later collections are not reported. A connected observer receives them in the same
    // delivery as the stopped one would, so once it has them all, that delivery is over.
    const after = referenceObserver();
    stops.push(() => after.stop());
    for (let i = 0; i < 5; i++) gc();
    await waitFor(() => after.counts.entries >= 5, 'the later collections delivered');
    expect(gcCount(telemeter.scrape())).toBe(recorded);
  });

  it('reports the kind and the duration in nanoseconds', async () => {
    const events = capture(RUNTIME_EVENTS.gc);
    const observer = observeGc();
    stops.push(
      () => observer.stop(),
      () => events.stop(),
    );
    gc();
    await waitFor(() => events.events.some((e) => e.metadata.kind === 'major'), 'a major collection');
    const major = events.events.find((e) => e.metadata.kind === 'major');
    expect(major).toBeDefined();
    expect(major!.measurements.duration).toBeGreaterThan(0);
    expect(major!.measurements.duration).toBeLessThan(10e9);
    expect(observer.stopped).toBe(false);
    observer.stop();
    observer.stop();
    expect(observer.stopped).toBe(true);
  });
});
