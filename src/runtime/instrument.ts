import { invalidOption } from '../errors.js';
import { describe } from '../events/event-name.js';
import { checkOptionKeys } from '../options.js';
import { BUILTIN_MEASUREMENTS } from './builtins.js';
import { type GcObserver, observeGc } from './gc-observer.js';
import { type MeasurementSpec, type Poller, startPoller } from './poller.js';

/** Options of {@link instrumentRuntime}. */
export interface RuntimeInstrumentationOptions {
  /** Poll period in ms (fixed delay). Default 5000. */
  readonly period?: number;
  /** Delay before the first poll in ms. Default 0. */
  readonly initDelay?: number;
  /** What to poll. Default: every built-in measurement. */
  readonly measurements?: readonly MeasurementSpec[];
  /** Observe garbage collections (`nodejs.gc` events). Default true. */
  readonly gc?: boolean;
}

const KNOWN_OPTIONS = ['period', 'initDelay', 'measurements', 'gc'];

/** What {@link instrumentRuntime} started. */
export interface RuntimeInstrumentation {
  readonly poller: Poller;
  /** The GC observer, or undefined with `gc: false`. */
  readonly gcObserver: GcObserver | undefined;
  /** Stops the poller and disconnects the GC observer. Idempotent. */
  stop(): void;
}

/**
 * Starts everything `runtimeMetrics()` reads: a poller with every built-in measurement and the GC observer.
 * Neither keeps the process alive.
 *
 * ```ts
 * import { Telemeter } from 'telemeter';
 * import { instrumentRuntime, runtimeMetrics } from 'telemeter/runtime';
 *
 * const telemeter = new Telemeter({ metrics: runtimeMetrics() });
 * const runtime = instrumentRuntime({ period: 10_000 });
 * runtime.poller.poll(); // now, besides the schedule
 * const cpuSeconds = Number(/^process_cpu_seconds_total (\S+)$/m.exec(telemeter.scrape())?.[1]);
 * console.log('CPU seconds > 0:', cpuSeconds > 0); //=> CPU seconds > 0: true
 * // ... on shutdown
 * runtime.stop();
 * ```
 *
 * @throws TelemeterTypeError naming the option: `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid key) or
 *   `ERR_TELEMETER_INVALID_OPTION`.
 */
export function instrumentRuntime(options: RuntimeInstrumentationOptions = {}): RuntimeInstrumentation {
  checkOptionKeys('telemeter: instrumentRuntime', options, KNOWN_OPTIONS);
  const { gc = true, measurements = BUILTIN_MEASUREMENTS, period, initDelay } = options;
  if (typeof gc !== 'boolean') {
    invalidOption(`telemeter: instrumentRuntime: option gc must be a boolean, got ${describe(gc)}`);
  }
  const poller = startPoller({ period, initDelay, measurements, name: 'runtime' });
  const gcObserver = gc ? observeGc() : undefined;
  return {
    poller,
    gcObserver,
    stop() {
      poller.stop();
      gcObserver?.stop();
    },
  };
}
