import { activeResourcesMeasurement } from './active-resources.js';
import { eventLoopMeasurement } from './event-loop.js';
import type { Measurement } from './measurement.js';
import {
  cpuMeasurement,
  fdsMeasurement,
  heapSpacesMeasurement,
  processInfoMeasurement,
} from './process-measurements.js';
import { memoryMeasurement, runQueueMeasurement, systemCountsMeasurement } from './vm-measurements.js';

/** The built-in measurements, by the name a poller accepts. */
export const BUILTIN_MEASUREMENTS = [
  'memory',
  'total_run_queue_lengths',
  'system_counts',
  'event_loop',
  'cpu',
  'fds',
  'heap_spaces',
  'active_resources',
  'process_info',
] as const;

export type BuiltinMeasurementName = (typeof BUILTIN_MEASUREMENTS)[number];

const FACTORIES: Record<BuiltinMeasurementName, () => Measurement> = {
  memory: memoryMeasurement,
  total_run_queue_lengths: runQueueMeasurement,
  system_counts: systemCountsMeasurement,
  event_loop: () => eventLoopMeasurement(),
  cpu: cpuMeasurement,
  fds: fdsMeasurement,
  heap_spaces: heapSpacesMeasurement,
  active_resources: activeResourcesMeasurement,
  process_info: processInfoMeasurement,
};

/** A fresh instance of a built-in (each poller gets its own event-loop histogram and baselines). */
export function createBuiltin(name: BuiltinMeasurementName): Measurement {
  return FACTORIES[name]();
}
