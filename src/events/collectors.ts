import { processLog } from '../logger.js';

/**
 * Functions that emit the current value of a state (requests in flight, a pool's connections) right before the
 * metrics are read, instead of an event at every change of it.
 *
 * A gauge is only ever seen at the moment it is read (a scrape, a StatsD flush, a cluster delta), and its last
 * value then is the state's value then, whether it was reported at every change or just before the read. The
 * changes happen on the hot path (twice per HTTP request, two or three times per pooled query); the reads happen
 * a few times a minute.
 */
const collectors = new Set<() => void>();

/**
 * Registers `collect`, which {@link runCollectors} calls before each read of the metrics; returns the function
 * that unregisters it. `collect` should emit events and nothing else.
 */
export function addCollector(collect: () => void): () => void {
  // A wrapper per registration, so that registering one function twice gives two independent registrations.
  const registered = () => collect();
  collectors.add(registered);
  return () => {
    collectors.delete(registered);
  };
}

/**
 * Calls every registered collector. Never throws: a failing collector is logged (once per collector) and the
 * others still run.
 */
export function runCollectors(): void {
  for (const collect of collectors) {
    try {
      collect();
    } catch (error) {
      processLog.errorOnce(
        `collector:${collectorIds.get(collect) ?? assignId(collect)}`,
        { err: error },
        'telemeter: a collector failed while reading the current value of a gauge',
      );
    }
  }
}

const collectorIds = new WeakMap<() => void, number>();
let lastId = 0;

function assignId(collect: () => void): number {
  const id = ++lastId;
  collectorIds.set(collect, id);
  return id;
}
