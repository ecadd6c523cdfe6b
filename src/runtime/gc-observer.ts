import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { execute } from '../events/bus.js';
import type { Metadata } from '../events/types.js';
import { RUNTIME_EVENTS } from './event-names.js';

/** A running GC observer. */
export interface GcObserver {
  /** Disconnects the `PerformanceObserver`. Idempotent. */
  stop(): void;
  readonly stopped: boolean;
}

const KIND_METADATA = new Map<number, Metadata>([
  [constants.NODE_PERFORMANCE_GC_MAJOR, Object.freeze({ kind: 'major' })],
  [constants.NODE_PERFORMANCE_GC_MINOR, Object.freeze({ kind: 'minor' })],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, Object.freeze({ kind: 'incremental' })],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, Object.freeze({ kind: 'weakcb' })],
]);
const UNKNOWN_KIND: Metadata = Object.freeze({ kind: 'unknown' });

/**
 * Emits one `nodejs.gc` event `{ duration }` (ns) with metadata `{ kind }` (`major`, `minor`, `incremental`,
 * `weakcb`) for every garbage collection V8 reports.
 *
 * Node delivers GC entries in batches; under allocation pressure one callback carries several, and every entry is
 * reported (prom-client records only the first of each batch). The observer holds no handle, so it never keeps the
 * process alive; call `stop()` to disconnect it, since a connected observer is never collected.
 */
export function observeGc(): GcObserver {
  let stopped = false;
  const observer = new PerformanceObserver((list) => {
    const entries = list.getEntries();
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      execute(RUNTIME_EVENTS.gc, { duration: entry.duration * 1e6 }, kindOf(entry));
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      observer.disconnect();
    },
    get stopped() {
      return stopped;
    },
  };
}

function kindOf(entry: PerformanceEntry): Metadata {
  const kind = ((entry as { detail?: unknown }).detail as { kind?: number } | null | undefined)?.kind;
  return (kind === undefined ? undefined : KIND_METADATA.get(kind)) ?? UNKNOWN_KIND;
}
