import { invalidOption } from '../errors.js';
import { execute } from '../events/bus.js';
import { monotonicTime, systemTime } from '../events/clock.js';
import { describe } from '../events/event-name.js';
import { processLog } from '../logger.js';
import { checkOptionKeys } from '../options.js';
import { BUILTIN_MEASUREMENTS, type BuiltinMeasurementName, createBuiltin } from './builtins.js';
import { RUNTIME_EVENTS } from './event-names.js';
import type { Measurement } from './measurement.js';

/** A measurement as given to {@link startPoller}: a built-in name, a function that calls `execute`, or an object. */
export type MeasurementSpec = BuiltinMeasurementName | (() => unknown) | Measurement;

/** Options of {@link startPoller}, after telemetry_poller. */
export interface PollerOptions {
  /** Milliseconds between the end of one run and the start of the next (fixed delay). Default 5000. */
  readonly period?: number;
  /** Milliseconds before the first run. Default 0 (the first run still happens after `startPoller` returns). */
  readonly initDelay?: number;
  /** What to measure on every run, in order. Default: none. */
  readonly measurements?: readonly MeasurementSpec[];
  /** Shown in logs and in failure events. Default `poller-<n>`. */
  readonly name?: string;
}

/** A running poller. */
export interface Poller {
  readonly name: string;
  readonly period: number;
  /** Names of the measurements still polled (the ones that have not failed). */
  listMeasurements(): string[];
  /** Runs every measurement once, now, outside the schedule. The next scheduled run stays where it was. */
  poll(): void;
  /** Stops the schedule and releases every measurement. Idempotent. */
  stop(): void;
  readonly stopped: boolean;
}

const MAX_TIMEOUT = 2_147_483_647;
const KNOWN_OPTIONS = new Set(['period', 'initDelay', 'measurements', 'name']);
let pollerSequence = 0;

/**
 * Starts a telemetry_poller: every `period` ms after the previous run finished (fixed delay, so a slow run
 * pushes the schedule back instead of piling runs up), runs each measurement, in order.
 *
 * A measurement that throws is removed permanently: the error is logged once through the process-wide logger
 * (`setLogger`) and a `telemeter.poller.measurement.failure` event is emitted with metadata `{ poller,
 * measurement, kind, reason, stacktrace }`; the other measurements keep running. The timer is `unref`ed, so a
 * poller never keeps the process alive.
 *
 * ```ts
 * import { execute, lastValue, Telemeter } from 'telemeter';
 * import { startPoller } from 'telemeter/runtime';
 *
 * const telemeter = new Telemeter({ metrics: [lastValue('shop.queue.length')] });
 * const queue = ['a', 'b', 'c'];
 * const poller = startPoller({
 *   period: 10_000,
 *   measurements: ['memory', () => execute('shop.queue', { length: queue.length })],
 * });
 * poller.poll(); // now, besides the schedule
 * console.log(telemeter.scrape().match(/^shop_queue_length .*$/m)?.[0]); //=> shop_queue_length 3
 * poller.stop();
 * ```
 *
 * @throws TelemeterTypeError naming the option: `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid key) or
 *   `ERR_TELEMETER_INVALID_OPTION`.
 */
export function startPoller(options: PollerOptions = {}): Poller {
  return new PeriodicPoller(options);
}

class PeriodicPoller implements Poller {
  readonly name: string;
  readonly period: number;
  private measurements: readonly Measurement[];
  private timer: NodeJS.Timeout | undefined;
  private stoppedFlag = false;

  constructor(options: PollerOptions) {
    checkOptionKeys('telemeter: startPoller', options, KNOWN_OPTIONS);
    const { period = 5000, initDelay = 0, measurements = [] } = options;
    if (!(Number.isInteger(period) && period >= 1 && period <= MAX_TIMEOUT)) {
      invalidOption(
        `telemeter: startPoller: option period must be an integer number of milliseconds from 1 to ${MAX_TIMEOUT}, got ${describe(period)}`,
      );
    }
    if (!(Number.isInteger(initDelay) && initDelay >= 0 && initDelay <= MAX_TIMEOUT)) {
      invalidOption(
        `telemeter: startPoller: option initDelay must be an integer number of milliseconds from 0 to ${MAX_TIMEOUT}, got ${describe(initDelay)}`,
      );
    }
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) {
      invalidOption('telemeter: startPoller: option name must be a non-empty string');
    }
    if (!Array.isArray(measurements)) {
      invalidOption(
        'telemeter: startPoller: option measurements must be an array of built-in names, functions or { name, measure } objects',
      );
    }
    measurements.forEach(validateSpec);
    this.name = options.name ?? `poller-${++pollerSequence}`;
    this.period = period;
    // Built-ins start monitoring (event-loop histogram, ELU baseline) only now that every option is valid.
    this.measurements = measurements.map(toMeasurement);
    this.arm(initDelay);
  }

  get stopped(): boolean {
    return this.stoppedFlag;
  }

  listMeasurements(): string[] {
    return this.measurements.map((m) => m.name);
  }

  poll(): void {
    if (this.stoppedFlag) return;
    // A snapshot: a failing measurement replaces the list, it never mutates the one being walked.
    const current = this.measurements;
    for (let i = 0; i < current.length && !this.stoppedFlag; i++) {
      const measurement = current[i];
      try {
        const result = measurement.measure();
        if (isPromiseLike(result)) {
          result.then(undefined, (error: unknown) => this.remove(measurement, error));
        }
      } catch (error) {
        this.remove(measurement, error);
      }
    }
  }

  stop(): void {
    if (this.stoppedFlag) return;
    this.stoppedFlag = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const measurement of this.measurements) release(measurement);
  }

  private arm(delay: number): void {
    this.timer = setTimeout(this.tick, delay);
    this.timer.unref();
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    this.poll();
    // Re-armed after the run, not on a fixed grid: telemetry_poller's fixed delay.
    if (!this.stoppedFlag) this.arm(this.period);
  };

  private remove(measurement: Measurement, error: unknown): void {
    if (!this.measurements.includes(measurement)) return;
    this.measurements = this.measurements.filter((m) => m !== measurement);
    release(measurement);
    processLog.error(
      { err: error },
      `poller "${this.name}": measurement "${measurement.name}" failed and has been removed`,
    );
    execute(
      RUNTIME_EVENTS.measurementFailure,
      { monotonic_time: monotonicTime(), system_time: systemTime() },
      {
        poller: this.name,
        measurement: measurement.name,
        kind: error instanceof Error ? 'error' : 'throw',
        reason: error,
        stacktrace: error instanceof Error ? error.stack : undefined,
      },
    );
  }
}

function validateSpec(spec: unknown, index: number): void {
  const where = `telemeter: startPoller: option measurements[${index}]`;
  if (typeof spec === 'string') {
    if (spec === 'persistent_term') {
      invalidOption(`${where} is "persistent_term", which has no Node.js counterpart`);
    }
    if (!(BUILTIN_MEASUREMENTS as readonly string[]).includes(spec)) {
      invalidOption(
        `${where} is "${spec}", which is not a built-in measurement; built-ins are ${BUILTIN_MEASUREMENTS.join(', ')}`,
      );
    }
    return;
  }
  if (typeof spec === 'function') return;
  if (
    typeof spec === 'object' &&
    spec !== null &&
    typeof (spec as Measurement).name === 'string' &&
    (spec as Measurement).name !== '' &&
    typeof (spec as Measurement).measure === 'function'
  ) {
    return;
  }
  invalidOption(
    `${where} must be a built-in name, a function, or an object { name, measure() }, got ${describe(spec)}`,
  );
}

function toMeasurement(spec: MeasurementSpec, index: number): Measurement {
  if (typeof spec === 'string') return createBuiltin(spec);
  if (typeof spec === 'function') {
    return { name: spec.name === '' ? `measurements[${index}]` : spec.name, measure: spec };
  }
  return spec;
}

function release(measurement: Measurement): void {
  try {
    measurement.stop?.();
  } catch (error) {
    processLog.error({ err: error }, `measurement "${measurement.name}" failed to stop`);
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
