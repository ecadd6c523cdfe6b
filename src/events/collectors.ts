import { processLog } from '../logger.js';

/**
 * Functions that emit the current value of a state (requests in flight, a pool's connections) right before the
 * metrics are read, instead of an event at every change of it.
 *
 * A gauge is only ever seen at the moment it is read (a scrape, a StatsD flush, a cluster delta), and its last
 * value then is the state's value then, whether it was reported at every change or just before the read. The
 * changes happen on the hot path (twice per HTTP request, two or three times per pooled query); the reads happen
 * a few times a minute. Each registration is kept with the key its failure is logged under, once.
 */
const collectors = new Set<{ readonly collect: () => void; readonly logKey: string }>();
let registrations = 0;

/**
 * Registers `collect`, which {@link runCollectors} calls before each read of the metrics; returns the function
 * that unregisters it. `collect` should emit events and nothing else.
 */
export function addCollector(collect: () => void): () => void {
  // An entry per registration, so that registering one function twice gives two independent registrations.
  const entry = { collect, logKey: `collector:${++registrations}` };
  collectors.add(entry);
  return () => {
    collectors.delete(entry);
  };
}

/**
 * Calls every registered collector. Never throws: a failing collector is logged (once per registration) and the
 * others still run.
 */
export function runCollectors(): void {
  for (const { collect, logKey } of collectors) {
    try {
      collect();
    } catch (error) {
      processLog.errorOnce(
        logKey,
        { err: error },
        'telemeter: a collector failed while reading the current value of a gauge',
      );
    }
  }
}
