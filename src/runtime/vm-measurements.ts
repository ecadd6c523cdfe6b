import { execute } from '../events/bus.js';
import { resourceSnapshot } from './active-resources.js';
import { RUNTIME_EVENTS } from './event-names.js';
import type { Measurement } from './measurement.js';
import { HAS_PROCFS, readMaxFds } from './proc.js';

/**
 * The `memory` built-in: telemetry_poller's `[vm, memory]` with Node's numbers. `total` is the resident set
 * size, as the BEAM's total is all memory the VM holds. `processes`/`processes_used` (memory allocated/used by
 * Erlang processes) map to the V8 heap allocated/used, `system` to the rest of the RSS, and `binary`
 * (off-heap binaries) to ArrayBuffer memory. Node's own names are included too.
 */
export function memoryMeasurement(): Measurement {
  return {
    name: 'memory',
    measure() {
      const usage = process.memoryUsage();
      execute(RUNTIME_EVENTS.memory, {
        total: usage.rss,
        processes: usage.heapTotal,
        processes_used: usage.heapUsed,
        system: Math.max(0, usage.rss - usage.heapTotal),
        binary: usage.arrayBuffers,
        rss: usage.rss,
        heap_total: usage.heapTotal,
        heap_used: usage.heapUsed,
        external: usage.external,
        array_buffers: usage.arrayBuffers,
      });
    },
  };
}

/**
 * The `total_run_queue_lengths` built-in. The BEAM's run queues hold work waiting for a scheduler; Node's
 * nearest equivalent is work waiting on libuv: in-flight requests (fs calls and DNS lookups queued on the
 * thread pool, pending writes and connects). JavaScript itself runs on one thread with no observable queue, so
 * `cpu` is 0 and `io` equals `total`; the event-loop measurements answer the question `cpu` answers on the BEAM.
 */
export function runQueueMeasurement(): Measurement {
  return {
    name: 'total_run_queue_lengths',
    measure() {
      const total = resourceSnapshot().requests;
      execute(RUNTIME_EVENTS.runQueueLengths, { total, cpu: 0, io: total });
    },
  };
}

/**
 * The `system_counts` built-in: `process_count` is every active libuv resource (the units of concurrent work
 * Node tracks), `port_count` the I/O handles (sockets, servers, pipes, TTYs, child processes: what ports are
 * on the BEAM), `port_limit` the open-file limit (Linux only). Atoms and a process limit have no analogue and
 * are not reported.
 */
export function systemCountsMeasurement(): Measurement {
  return {
    name: 'system_counts',
    measure() {
      const snapshot = resourceSnapshot();
      const portLimit = HAS_PROCFS ? readMaxFds() : undefined;
      execute(
        RUNTIME_EVENTS.systemCounts,
        portLimit === undefined
          ? { process_count: snapshot.total, port_count: snapshot.io }
          : { process_count: snapshot.total, port_count: snapshot.io, port_limit: portLimit },
      );
    },
  };
}
