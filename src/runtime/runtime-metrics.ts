import { invalidOption } from '../errors.js';
import { describe } from '../events/event-name.js';
import type { Measurements } from '../events/types.js';
import { type BucketSpec, resolveBuckets } from '../metrics/buckets.js';
import {
  distribution,
  lastValue,
  type MeasurementGetter,
  type MetricDefinition,
  sum,
} from '../metrics/definitions.js';
import { checkOptionKeys } from '../options.js';
import { addExactDelayBounds } from './event-loop.js';
import { RUNTIME_EVENTS as E } from './event-names.js';
import { HAS_PROCFS } from './proc.js';

/** Options of {@link runtimeMetrics}. */
export interface RuntimeMetricsOptions {
  /** Prepended to every name, e.g. `'shop_'` → `shop_process_cpu_seconds_total`. Default none. */
  readonly prefix?: string;
  /** Bounds of `nodejs_gc_duration_seconds`, in seconds. Default `[0.001, 0.01, 0.1, 1, 2, 5]` (prom-client's). */
  readonly gcDurationBuckets?: BucketSpec;
  /** Bounds of `nodejs_eventloop_delay_seconds`, in seconds. Default `[0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10]`. */
  readonly eventLoopDelayBuckets?: BucketSpec;
}

const DEFAULT_GC_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5];
// An idle loop's samples sit just above the 10 ms resolution, so the 0.01–0.02 bucket is "healthy".
const DEFAULT_DELAY_BUCKETS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];
const KNOWN_OPTIONS = new Set(['prefix', 'gcDurationBuckets', 'eventLoopDelayBuckets']);
const NATIVE_TO_SECOND = ['native', 'second'] as const;

/**
 * Metric definitions for the built-in measurements and the GC observer, under the names of prom-client's default
 * metrics so existing Node.js dashboards work (the few renamed ones are listed in docs/runtime.md). Pass them to a
 * `Telemeter` and start the measurements with `instrumentRuntime()` (or a poller and `observeGc()`).
 *
 * CPU times are counters whose value is the process's total CPU time (`process.cpuUsage()`): each definition
 * adds the increase since the last event it saw, starting from zero, so a Telemeter created late still exports the
 * total. Call `runtimeMetrics()` once per Telemeter. File-descriptor and /proc memory metrics exist on Linux only.
 *
 * @throws TelemeterTypeError naming the option: `ERR_TELEMETER_UNKNOWN_OPTION` (with the closest valid key) or
 *   `ERR_TELEMETER_INVALID_OPTION`.
 */
export function runtimeMetrics(options: RuntimeMetricsOptions = {}): MetricDefinition[] {
  checkOptionKeys('telemeter: runtimeMetrics', options, KNOWN_OPTIONS);
  const { prefix = '' } = options;
  if (typeof prefix !== 'string' || !/^([a-zA-Z_][a-zA-Z0-9_]*)?$/.test(prefix)) {
    invalidOption(
      `telemeter: runtimeMetrics: option prefix must be empty or a valid metric name start ([a-zA-Z_][a-zA-Z0-9_]*), got ${describe(prefix)}`,
    );
  }
  const p = (name: string) => `${prefix}${name}`;
  const delayBuckets = resolveBuckets(
    options.eventLoopDelayBuckets ?? DEFAULT_DELAY_BUCKETS,
    'second',
    p('nodejs_eventloop_delay_seconds'),
  );
  const gcBuckets = resolveBuckets(
    options.gcDurationBuckets ?? DEFAULT_GC_BUCKETS,
    'second',
    p('nodejs_gc_duration_seconds'),
  );
  addExactDelayBounds(delayBuckets);

  const gauge = (
    name: string,
    eventName: string,
    measurement: MeasurementGetter,
    description: string,
    extra: {
      unit?: 'byte' | typeof NATIVE_TO_SECOND;
      tags?: readonly string[];
      keep?: (m: any) => boolean;
    } = {},
  ) =>
    lastValue(p(name), {
      eventName,
      measurement,
      description,
      ...(extra.unit === undefined ? {} : { unit: extra.unit }),
      ...(extra.tags === undefined ? {} : { tags: extra.tags }),
      ...(extra.keep === undefined ? {} : { keep: extra.keep }),
    });
  const cpuCounter = (name: string, key: string, description: string) =>
    sum(p(name), { eventName: E.cpu, measurement: increase(key), unit: NATIVE_TO_SECOND, description });
  const lagGauge = (stat: string, description: string) =>
    gauge(`nodejs_eventloop_lag_${stat}_seconds`, E.eventLoopDelay, stat, description, {
      unit: NATIVE_TO_SECOND,
    });
  const ofKind = (kind: string) => (metadata: { kind?: unknown }) => metadata.kind === kind;

  const definitions: MetricDefinition[] = [
    cpuCounter('process_cpu_user_seconds_total', 'user', 'User CPU time spent by the process, in seconds.'),
    cpuCounter(
      'process_cpu_system_seconds_total',
      'system',
      'System CPU time spent by the process, in seconds.',
    ),
    cpuCounter(
      'process_cpu_seconds_total',
      'total',
      'User and system CPU time spent by the process, in seconds.',
    ),
    gauge(
      'process_start_time_seconds',
      E.processInfo,
      'start_time',
      'Start time of the process since the Unix epoch, in seconds.',
      { unit: NATIVE_TO_SECOND },
    ),
    gauge('process_resident_memory_bytes', E.memory, 'total', 'Resident memory size (RSS), in bytes.', {
      unit: 'byte',
    }),
  ];
  if (HAS_PROCFS) {
    definitions.push(
      gauge(
        'process_virtual_memory_bytes',
        E.processInfo,
        'virtual_memory',
        'Virtual memory size, in bytes.',
        {
          unit: 'byte',
        },
      ),
      gauge(
        'process_heap_bytes',
        E.processInfo,
        'heap_memory',
        'Process data segment (heap) size, in bytes.',
        {
          unit: 'byte',
        },
      ),
      gauge('process_open_fds', E.fds, 'open', 'Open file descriptors.'),
      gauge('process_max_fds', E.fds, 'max', 'Maximum number of open file descriptors (soft limit).'),
    );
  }
  definitions.push(
    gauge(
      'nodejs_eventloop_lag_seconds',
      E.eventLoopLag,
      'lag',
      'Time a setImmediate queued by the last poll waited to run, in seconds.',
      { unit: NATIVE_TO_SECOND },
    ),
    lagGauge('min', 'Smallest event-loop delay sample of the last poll period, in seconds.'),
    lagGauge('max', 'Largest event-loop delay sample of the last poll period, in seconds.'),
    lagGauge('mean', 'Mean event-loop delay of the last poll period, in seconds.'),
    lagGauge('stddev', 'Standard deviation of the event-loop delay over the last poll period, in seconds.'),
    lagGauge('p50', 'Median event-loop delay of the last poll period, in seconds.'),
    lagGauge('p90', '90th percentile of the event-loop delay over the last poll period, in seconds.'),
    lagGauge('p99', '99th percentile of the event-loop delay over the last poll period, in seconds.'),
    distribution(p('nodejs_eventloop_delay_seconds'), {
      eventName: E.eventLoopDelaySample,
      measurement: 'delay',
      unit: NATIVE_TO_SECOND,
      description:
        'Event-loop delay samples (time between two ticks of the monitor timer, resolution included), in seconds.',
      reporterOptions: { buckets: delayBuckets },
    }),
    gauge(
      'nodejs_eventloop_utilization_ratio',
      E.eventLoopUtilization,
      'utilization',
      'Share of the last poll period the event loop spent running callbacks rather than waiting (0 to 1).',
    ),
    gauge(
      'nodejs_active_resources',
      E.activeResourcesByType,
      'count',
      'Active libuv resources keeping the event loop alive, by type.',
      { tags: ['type'] },
    ),
    gauge(
      'nodejs_active_resources_all',
      E.activeResources,
      'total',
      'Active libuv resources keeping the event loop alive (prom-client: nodejs_active_resources_total).',
    ),
    gauge('nodejs_active_handles', E.activeResourcesByType, 'count', 'Active libuv handles, by type.', {
      tags: ['type'],
      keep: ofKind('handle'),
    }),
    gauge(
      'nodejs_active_handles_all',
      E.activeResources,
      'handles',
      'Active libuv handles (prom-client: nodejs_active_handles_total).',
    ),
    gauge('nodejs_active_requests', E.activeResourcesByType, 'count', 'In-flight libuv requests, by type.', {
      tags: ['type'],
      keep: ofKind('request'),
    }),
    gauge(
      'nodejs_active_requests_all',
      E.activeResources,
      'requests',
      'In-flight libuv requests (prom-client: nodejs_active_requests_total).',
    ),
    gauge('nodejs_heap_size_total_bytes', E.memory, 'heap_total', 'V8 heap allocated, in bytes.', {
      unit: 'byte',
    }),
    gauge('nodejs_heap_size_used_bytes', E.memory, 'heap_used', 'V8 heap in use, in bytes.', {
      unit: 'byte',
    }),
    gauge(
      'nodejs_external_memory_bytes',
      E.memory,
      'external',
      'Memory of C++ objects bound to JavaScript objects, in bytes.',
      { unit: 'byte' },
    ),
    gauge('nodejs_heap_space_size_total_bytes', E.heapSpace, 'size', 'V8 heap space size, in bytes.', {
      unit: 'byte',
      tags: ['space'],
    }),
    gauge('nodejs_heap_space_size_used_bytes', E.heapSpace, 'used', 'V8 heap space in use, in bytes.', {
      unit: 'byte',
      tags: ['space'],
    }),
    gauge(
      'nodejs_heap_space_size_available_bytes',
      E.heapSpace,
      'available',
      'V8 heap space still available, in bytes.',
      { unit: 'byte', tags: ['space'] },
    ),
    gauge(
      'nodejs_version_info',
      E.processInfo,
      () => 1,
      'Node.js version, as labels; the value is always 1.',
      {
        tags: ['version', 'major', 'minor', 'patch'],
      },
    ),
    distribution(p('nodejs_gc_duration_seconds'), {
      eventName: E.gc,
      measurement: 'duration',
      unit: NATIVE_TO_SECOND,
      tags: ['kind'],
      description: 'Garbage collection pauses by kind (major, minor, incremental, weakcb), in seconds.',
      reporterOptions: { buckets: gcBuckets },
    }),
  );
  return definitions;
}

/**
 * A measurement getter that turns a cumulative measurement into increases, so a `sum` of it equals the total.
 * The first event it sees adds the whole total. When two Telemeters share the definition, both read the same
 * event object in turn, and both get the same increase.
 */
function increase(key: string): MeasurementGetter {
  let previous = 0;
  let lastEvent: Measurements | undefined;
  let lastIncrease = 0;
  return (measurements) => {
    if (measurements === lastEvent) return lastIncrease;
    const value = measurements[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
    lastEvent = measurements;
    lastIncrease = value > previous ? value - previous : 0;
    previous = Math.max(previous, value);
    return lastIncrease;
  };
}
