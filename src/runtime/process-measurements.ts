import { getHeapSpaceStatistics } from 'node:v8';
import { execute } from '../events/bus.js';
import type { Metadata } from '../events/types.js';
import { RUNTIME_EVENTS } from './event-names.js';
import type { Measurement } from './measurement.js';
import { countOpenFds, HAS_PROCFS, readMaxFds, readStatusMemory } from './proc.js';

/** The `cpu` built-in: cumulative user, system and total CPU time of the process, in nanoseconds. */
export function cpuMeasurement(): Measurement {
  return {
    name: 'cpu',
    measure() {
      const { user, system } = process.cpuUsage();
      execute(RUNTIME_EVENTS.cpu, {
        user: user * 1000,
        system: system * 1000,
        total: (user + system) * 1000,
      });
    },
  };
}

/** The `fds` built-in: open and maximum file descriptors. Linux only; elsewhere it emits nothing. */
export function fdsMeasurement(): Measurement {
  return {
    name: 'fds',
    measure() {
      if (!HAS_PROCFS) return;
      const open = countOpenFds();
      if (open === undefined) return;
      const max = readMaxFds();
      execute(RUNTIME_EVENTS.fds, max === undefined ? { open } : { open, max });
    },
  };
}

const [major, minor, patch] = process.version.slice(1).split('.').map(Number);
const VERSION_METADATA: Metadata = Object.freeze({ version: process.version, major, minor, patch });

/**
 * The `process_info` built-in: the process start time (ns since the epoch, from `performance.timeOrigin`) with
 * the Node.js version as metadata, and on Linux the virtual memory size and data segment size.
 */
export function processInfoMeasurement(): Measurement {
  const startTime = Math.round(performance.timeOrigin * 1e6);
  return {
    name: 'process_info',
    measure() {
      const memory = HAS_PROCFS ? readStatusMemory() : undefined;
      execute(
        RUNTIME_EVENTS.processInfo,
        memory === undefined
          ? { start_time: startTime }
          : { start_time: startTime, virtual_memory: memory.virtual, heap_memory: memory.data },
        VERSION_METADATA,
      );
    },
  };
}

/**
 * The `heap_spaces` built-in: one `nodejs.heap_space` event per V8 heap space, labelled like prom-client
 * (`old_space` → `old`).
 */
export function heapSpacesMeasurement(): Measurement {
  const metadataBySpace = new Map<string, Metadata>();
  return {
    name: 'heap_spaces',
    measure() {
      for (const space of getHeapSpaceStatistics()) {
        let metadata = metadataBySpace.get(space.space_name);
        if (metadata === undefined) {
          metadata = Object.freeze({ space: space.space_name.replace(/_space$/, '') });
          metadataBySpace.set(space.space_name, metadata);
        }
        execute(
          RUNTIME_EVENTS.heapSpace,
          {
            size: space.space_size,
            used: space.space_used_size,
            available: space.space_available_size,
            physical: space.physical_space_size,
          },
          metadata,
        );
      }
    },
  };
}
