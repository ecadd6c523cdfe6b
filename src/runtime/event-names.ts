/**
 * The events the built-in measurements emit. Erlang VM names (`vm.*`) are kept so Phoenix-style definitions
 * such as `lastValue('vm.memory.total', { unit: ['byte', 'kilobyte'] })` work unchanged; Node-only facts get
 * `nodejs.*` and `process.*` names. Times are in the native unit (nanoseconds), sizes in bytes.
 */
export const RUNTIME_EVENTS = Object.freeze({
  /** `total` (RSS), `processes`, `processes_used`, `system`, `binary`, `heap_total`, `heap_used`, `external`, `array_buffers`, `rss`. */
  memory: 'vm.memory',
  /** `total` (in-flight libuv requests), `cpu` (always 0), `io` (= total − cpu). */
  runQueueLengths: 'vm.total_run_queue_lengths',
  /** `process_count` (active resources), `port_count` (I/O handles), `port_limit` (max fds, Linux). */
  systemCounts: 'vm.system_counts',
  /** One per poll: `min`, `max`, `mean`, `stddev`, `p50`, `p90`, `p99`, `count` of the period's delay samples. */
  eventLoopDelay: 'nodejs.eventloop.delay',
  /** One per delay sample of the period: `delay`. Feeds a distribution. */
  eventLoopDelaySample: 'nodejs.eventloop.delay.sample',
  /** One per poll: `utilization` (0–1), `active`, `idle` over the period. */
  eventLoopUtilization: 'nodejs.eventloop.utilization',
  /** `lag`: how long a `setImmediate` queued by the poll waited. */
  eventLoopLag: 'nodejs.eventloop.lag',
  /** One per garbage collection: `duration`; metadata `kind` (major, minor, incremental, weakcb). */
  gc: 'nodejs.gc',
  /** `total`, `handles`, `requests`, `timers`, `immediates`. */
  activeResources: 'nodejs.active_resources',
  /** One per resource type: `count`; metadata `type` and `kind` (handle, request, timer, immediate). */
  activeResourcesByType: 'nodejs.active_resources.type',
  /** One per V8 heap space: `size`, `used`, `available`, `physical`; metadata `space`. */
  heapSpace: 'nodejs.heap_space',
  /** Cumulative CPU time since the process started: `user`, `system`, `total`. */
  cpu: 'process.cpu',
  /** `open` and `max` file descriptors (Linux only). */
  fds: 'process.fds',
  /** `start_time` (ns since the epoch), Linux: `virtual_memory`, `heap_memory`; metadata `version`, `major`, `minor`, `patch`. */
  processInfo: 'process.info',
  /** A poller removed a measurement that threw. */
  measurementFailure: 'telemeter.poller.measurement.failure',
});
