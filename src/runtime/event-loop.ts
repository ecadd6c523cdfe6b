import { type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { invalidOption } from '../errors.js';
import { execute } from '../events/bus.js';
import { monotonicTime } from '../events/clock.js';
import { describe } from '../events/event-name.js';
import { checkOptionKeys } from '../options.js';
import { groupDelaySamples, type SampleGroup } from './delay-samples.js';
import { RUNTIME_EVENTS } from './event-names.js';
import type { Measurement } from './measurement.js';

/** Options of {@link eventLoopMeasurement}. */
export interface EventLoopMeasurementOptions {
  /** Sampling interval of `monitorEventLoopDelay`, in ms. Each sample is the time between two ticks of it. Default 10. */
  readonly resolution?: number;
  /** Extra bucket bounds, in seconds, at which `nodejs.eventloop.delay.sample` counts must be exact. */
  readonly exactAt?: readonly number[];
}

const DEFAULT_RESOLUTION = 10;
const KNOWN_OPTIONS = ['resolution', 'exactAt'];

// 1, 2, 2.5, 5 and 7.5 per decade from 1 µs to 100 s, in ns: every default bucket bound of prom-client,
// OpenTelemetry and telemeter is one of these, so those histograms get exact counts with no configuration.
const GRID: number[] = [];
for (let decade = 1e3; decade <= 1e11; decade *= 10) {
  for (const step of [1, 2, 2.5, 5, 7.5]) GRID.push(Math.round(step * decade));
}

const registeredCuts = new Set<number>(GRID);
let sortedCuts: number[] | undefined;

/**
 * Makes every event-loop measurement group its delay samples so that these bounds (in seconds) get exact counts.
 * `runtimeMetrics()` calls it with its `eventLoopDelayBuckets`.
 */
export function addExactDelayBounds(seconds: readonly number[]): void {
  for (const bound of seconds) {
    const ns = Math.round(bound * 1e9);
    if (ns > 0 && Number.isFinite(ns) && !registeredCuts.has(ns)) {
      registeredCuts.add(ns);
      sortedCuts = undefined;
    }
  }
}

function cuts(): number[] {
  sortedCuts ??= [...registeredCuts].sort((a, b) => a - b);
  return sortedCuts;
}

/**
 * The `event_loop` built-in. It keeps `perf_hooks.monitorEventLoopDelay` histograms and an `eventLoopUtilization`
 * baseline, and on every poll reports the period since the previous poll:
 *
 * - `nodejs.eventloop.delay` `{ min, max, mean, stddev, p50, p90, p99, count }` (ns), when the period has samples;
 * - `nodejs.eventloop.delay.sample` `{ delay }` (ns), once per sample of the period (see `groupDelaySamples`),
 *   so a distribution over it is the period's histogram, not one of percentiles;
 * - `nodejs.eventloop.utilization` `{ utilization, active, idle }` (ratio, ns, ns);
 * - `nodejs.eventloop.lag` `{ lag }` (ns): how long a `setImmediate` queued by the poll waited, emitted when it runs.
 *
 * Because the window is the poll period, two scrapers reading the same metrics see the same values.
 *
 * Why two monitors: `reset()` also forgets the monitor's previous tick, so the interval that spans a reset is
 * never recorded, and a block that starts right after a poll would vanish (prom-client resets on every scrape
 * and loses exactly that). The `window` monitor is reset every poll and gives the period's shape; the `total`
 * monitor is never reset, and its count and sum differences give the period's exact count and total delay, from
 * which the missing interval is recovered (within about one resolution step).
 *
 * @throws TelemeterTypeError naming the option: `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid key) or
 *   `ERR_TELEMETER_INVALID_OPTION`.
 */
export function eventLoopMeasurement(options: EventLoopMeasurementOptions = {}): Measurement {
  checkOptionKeys('telemeter: eventLoopMeasurement', options, KNOWN_OPTIONS);
  const { resolution = DEFAULT_RESOLUTION, exactAt = [] } = options;
  if (!(Number.isInteger(resolution) && resolution >= 1)) {
    invalidOption(
      `telemeter: eventLoopMeasurement: option resolution must be an integer number of milliseconds >= 1, got ${describe(resolution)}`,
    );
  }
  if (
    !Array.isArray(exactAt) ||
    exactAt.some((b) => typeof b !== 'number' || !(b > 0) || !Number.isFinite(b))
  ) {
    invalidOption('telemeter: eventLoopMeasurement: option exactAt must be an array of positive seconds');
  }
  addExactDelayBounds(exactAt);
  const window = monitorEventLoopDelay({ resolution });
  const total = monitorEventLoopDelay({ resolution });
  window.enable();
  total.enable();
  let seenCount = 0;
  let seenSum = 0;
  let utilizationBaseline = performance.eventLoopUtilization();
  let stopped = false;

  return {
    name: 'event_loop',
    measure() {
      if (stopped) return;
      const totalCount = total.count;
      const totalSum = totalCount > 0 ? total.mean * totalCount : 0;
      const periodCount = totalCount - seenCount;
      const periodSum = totalSum - seenSum;
      seenCount = totalCount;
      seenSum = totalSum;
      reportDelay(window, periodCount, periodSum);
      window.reset();

      const now = performance.eventLoopUtilization();
      const period = performance.eventLoopUtilization(now, utilizationBaseline);
      utilizationBaseline = now;
      // Bun and Deno implement eventLoopUtilization() as a stub that always reads zero: no time passed, active or
      // idle, over a whole poll period. That is no measurement, and is not reported as a utilization of 0.
      if (period.active + period.idle > 0 && Number.isFinite(period.utilization)) {
        execute(RUNTIME_EVENTS.eventLoopUtilization, {
          utilization: period.utilization,
          active: period.active * 1e6,
          idle: period.idle * 1e6,
        });
      }

      const queuedAt = monotonicTime();
      setImmediate(() => {
        if (!stopped) execute(RUNTIME_EVENTS.eventLoopLag, { lag: monotonicTime() - queuedAt });
      });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      window.disable();
      total.disable();
    },
  };
}

/**
 * Emits the period's samples and statistics: the window's samples, plus the intervals the window missed
 * (`periodCount − window.count` of them, `periodSum − window sum` in total). Normally one was missed, the one
 * spanning the last reset; when the two monitors' ticks are out of phase, the others are taken as typical
 * (the window's mean) and the remainder is the spanning one.
 */
function reportDelay(window: IntervalHistogram, periodCount: number, periodSum: number): void {
  const windowCount = window.count;
  // `mean` walks the whole HDR array, so it is read once.
  const windowMean = windowCount > 0 ? window.mean : 0;
  const windowSum = windowMean * windowCount;
  const snapshot = {
    count: windowCount,
    min: window.min,
    max: window.max,
    mean: windowMean,
    percentile: (p: number) => window.percentile(p),
  };
  const groups: SampleGroup[] = windowCount > 0 ? groupDelaySamples(snapshot, cuts()) : [];
  let min = windowCount > 0 ? snapshot.min : Number.POSITIVE_INFINITY;
  let max = windowCount > 0 ? snapshot.max : 0;
  const missed = periodCount - windowCount;
  const missedSum = periodSum - windowSum;
  if (missed >= 1 && missedSum > 0) {
    const typical = windowCount > 0 ? windowMean : missedSum / missed;
    const spanning = missedSum - (missed - 1) * typical;
    const extra: SampleGroup[] =
      spanning > 0
        ? [{ value: spanning, count: 1 }, ...(missed > 1 ? [{ value: typical, count: missed - 1 }] : [])]
        : [{ value: missedSum / missed, count: missed }];
    for (const group of extra) {
      groups.push(group);
      min = Math.min(min, group.value);
      max = Math.max(max, group.value);
    }
  }
  let count = 0;
  let sum = 0;
  for (const group of groups) {
    count += group.count;
    sum += group.value * group.count;
  }
  if (count === 0) return;
  const single = windowCount === 0 ? sum / count : undefined;
  execute(RUNTIME_EVENTS.eventLoopDelay, {
    min,
    max,
    mean: sum / count,
    stddev: windowCount > 1 ? window.stddev : 0,
    p50: single ?? window.percentile(50),
    p90: single ?? window.percentile(90),
    p99: single ?? window.percentile(99),
    count,
  });
  for (const group of groups) {
    const sample = Object.freeze({ delay: group.value });
    for (let i = 0; i < group.count; i++) execute(RUNTIME_EVENTS.eventLoopDelaySample, sample);
  }
}
