/**
 * telemeter/runtime: a telemetry_poller for Node.js, the runtime measurements it polls, a GC observer, and
 * ready metric definitions with prom-client's default names.
 *
 * @packageDocumentation
 */
export { BUILTIN_MEASUREMENTS, type BuiltinMeasurementName } from './builtins.js';
export { type EventLoopMeasurementOptions, eventLoopMeasurement } from './event-loop.js';
export { RUNTIME_EVENTS } from './event-names.js';
export { type GcObserver, observeGc } from './gc-observer.js';
export {
  instrumentRuntime,
  type RuntimeInstrumentation,
  type RuntimeInstrumentationOptions,
} from './instrument.js';
export type { Measurement } from './measurement.js';
export { type MeasurementSpec, type Poller, type PollerOptions, startPoller } from './poller.js';
export { type RuntimeMetricsOptions, runtimeMetrics } from './runtime-metrics.js';
