import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Telemeter } from '../../src/index.js';
import { type DelayHistogramLike, groupDelaySamples } from '../../src/runtime/delay-samples.js';
import { eventLoopMeasurement, RUNTIME_EVENTS, runtimeMetrics } from '../../src/runtime/index.js';
import { afterQueuedImmediates, busyWait, capture, sampleValue, sleep, waitFor } from './helpers.js';

/** An HDR-like histogram over exact samples: percentile(100·k/n) is the k-th smallest, as in hdr_histogram. */
function exactHistogram(samples: number[]): DelayHistogramLike {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  return {
    count: n,
    min: sorted[0],
    max: sorted[n - 1],
    mean: sorted.reduce((a, b) => a + b, 0) / n,
    percentile: (p) => sorted[Math.min(n, Math.max(1, Math.floor((p / 100) * n + 0.5))) - 1],
  };
}

describe('groupDelaySamples', () => {
  it('keeps exact counts at every cut, also after conversion to seconds, and the exact sum', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 2_000_000_000 }), { minLength: 1, maxLength: 300 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 2_000_000_000 }), { maxLength: 12 }),
        (samples, rawCuts) => {
          const cuts = [...rawCuts].sort((a, b) => a - b);
          const groups = groupDelaySamples(exactHistogram(samples), cuts);
          expect(groups.reduce((a, g) => a + g.count, 0)).toBe(samples.length);
          for (const cut of cuts) {
            const expected = samples.filter((s) => s <= cut).length;
            const inNs = groups.filter((g) => g.value <= cut).reduce((a, g) => a + g.count, 0);
            const inSeconds = groups
              .filter((g) => g.value * 1e-9 <= cut * 1e-9)
              .reduce((a, g) => a + g.count, 0);
            expect(inNs).toBe(expected);
            expect(inSeconds).toBe(expected);
          }
          const total = samples.reduce((a, b) => a + b, 0);
          const grouped = groups.reduce((a, g) => a + g.value * g.count, 0);
          // Values stay 1 ns under a cut, so samples sitting exactly on a cut may cost 1 ns each.
          const onCuts = samples.filter((s) => cuts.includes(s)).length;
          expect(Math.abs(grouped - total)).toBeLessThanOrEqual(onCuts + total * 1e-12);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('returns nothing for an empty period', () => {
    expect(
      groupDelaySamples({ count: 0, min: 0, max: 0, mean: Number.NaN, percentile: () => 0 }, [1]),
    ).toEqual([]);
  });
});

describe('event_loop measurement', () => {
  const stops: Array<() => void> = [];
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
  });

  it('puts a 200 ms block that starts right after a poll into the delay histogram, exactly per poll', async () => {
    const telemeter = new Telemeter({ metrics: runtimeMetrics(), selfMetrics: false });
    const measurement = eventLoopMeasurement();
    const stats = capture(RUNTIME_EVENTS.eventLoopDelay);
    stops.push(
      () => telemeter.close(),
      () => measurement.stop?.(),
      () => stats.stop(),
    );
    await sleep(50);
    measurement.measure();
    const firstCount = stats.events[0]?.measurements.count as number;

    busyWait(200);
    await sleep(50);
    measurement.measure();
    const body = telemeter.scrape();

    const count = sampleValue(body, 'nodejs_eventloop_delay_seconds_count')!;
    const upTo100ms = sampleValue(body, 'nodejs_eventloop_delay_seconds_bucket', { le: '0.1' })!;
    const sum = sampleValue(body, 'nodejs_eventloop_delay_seconds_sum')!;
    expect(count - upTo100ms).toBeGreaterThanOrEqual(1);
    expect(sum).toBeGreaterThanOrEqual(0.2);
    expect(sampleValue(body, 'nodejs_eventloop_lag_max_seconds')).toBeGreaterThanOrEqual(0.2);

    // The histogram holds exactly the samples of the two periods, and its sum is their total delay.
    expect(stats.events).toHaveLength(2);
    const second = stats.events[1].measurements as Record<string, number>;
    expect(count).toBe(firstCount + second.count);
    const first = stats.events[0].measurements as Record<string, number>;
    const expectedSum = (first.mean * first.count + second.mean * second.count) / 1e9;
    expect(sum).toBeCloseTo(expectedSum, 6);
  });

  it('reports utilization per period and the setImmediate lag', async () => {
    const events = capture(RUNTIME_EVENTS.eventLoopUtilization, RUNTIME_EVENTS.eventLoopLag);
    const measurement = eventLoopMeasurement({ resolution: 5 });
    stops.push(
      () => measurement.stop?.(),
      () => events.stop(),
    );
    busyWait(50);
    await sleep(50);
    measurement.measure();
    await waitFor(() => events.events.some((e) => e.name === RUNTIME_EVENTS.eventLoopLag), 'the lag event');
    const utilization = events.events.find((e) => e.name === RUNTIME_EVENTS.eventLoopUtilization)!;
    const lag = events.events.find((e) => e.name === RUNTIME_EVENTS.eventLoopLag)!;
    const u = utilization.measurements as Record<string, number>;
    expect(u.utilization).toBeGreaterThan(0);
    expect(u.utilization).toBeLessThanOrEqual(1);
    expect(u.active).toBeGreaterThanOrEqual(50e6);
    expect(u.utilization).toBeCloseTo(u.active / (u.active + u.idle), 6);
    expect(lag.measurements.lag).toBeGreaterThan(0);
  });

  it('reports no utilization where the runtime only has a stub that reads zero (Bun, Deno)', async () => {
    const stub = vi
      .spyOn(performance, 'eventLoopUtilization')
      .mockImplementation(() => ({ idle: 0, active: 0, utilization: 0 }));
    const events = capture(RUNTIME_EVENTS.eventLoopUtilization, RUNTIME_EVENTS.eventLoopLag);
    const measurement = eventLoopMeasurement({ resolution: 5 });
    stops.push(
      () => measurement.stop?.(),
      () => events.stop(),
      () => stub.mockRestore(),
    );
    await sleep(20);
    measurement.measure();
    await waitFor(() => events.events.some((e) => e.name === RUNTIME_EVENTS.eventLoopLag), 'the lag event');
    expect(stub).toHaveBeenCalled();
    expect(events.events.filter((e) => e.name === RUNTIME_EVENTS.eventLoopUtilization)).toEqual([]);
  });

  it('emits nothing once stopped, not even the lag of a poll just before', async () => {
    const events = capture(
      RUNTIME_EVENTS.eventLoopDelay,
      RUNTIME_EVENTS.eventLoopUtilization,
      RUNTIME_EVENTS.eventLoopLag,
    );
    stops.push(() => events.stop());
    const measurement = eventLoopMeasurement();
    await sleep(30);
    // The control: a poll while running reports, the lag after the setImmediate it queued.
    measurement.measure();
    await afterQueuedImmediates();
    expect(new Set(events.events.map((e) => e.name))).toContain(RUNTIME_EVENTS.eventLoopLag);
    // A poll just before stop() has queued its lag report, and a poll after it reports nothing: the check phase
    // that would run both queued setImmediates is over once a setImmediate queued after them has run.
    events.events.length = 0;
    measurement.measure();
    const polledBeforeStop = events.events.map((e) => e.name);
    measurement.stop?.();
    measurement.measure();
    await afterQueuedImmediates();
    expect(events.events.map((e) => e.name)).toEqual(polledBeforeStop);
    expect(polledBeforeStop).not.toContain(RUNTIME_EVENTS.eventLoopLag);
  });

  it('validates its options', () => {
    expect(() => eventLoopMeasurement({ resolution: 0 })).toThrow(/option resolution/);
    expect(() => eventLoopMeasurement({ exactAt: [-1] })).toThrow(/option exactAt/);
  });
});
