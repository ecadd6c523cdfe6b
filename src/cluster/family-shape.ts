import type { Family } from '../reporter/family.js';
import type { FamilyShape } from './protocol.js';

/**
 * Families that describe one process and are not shipped: `telemeter_series` is recomputed by whoever
 * renders, and the scrape metrics measure the primary's own endpoint, not the workers'.
 */
const PROCESS_LOCAL_FAMILIES = new Set([
  'telemeter_series',
  'telemeter_scrapes_total',
  'telemeter_scrape_duration_seconds',
]);

/** Whether a worker ships this family to the primary. */
export function isShipped(family: Family): boolean {
  return !PROCESS_LOCAL_FAMILIES.has(family.name);
}

/**
 * How a family merges. A `sum` exported as a gauge still adds (its store adds), so it merges by adding;
 * only last values (`set` stores) need a gauge aggregation rule.
 */
export function shapeOf(family: Family): FamilyShape {
  switch (family.kind) {
    case 'histogram':
      return 'histogram';
    case 'summary':
      return 'summary';
    default:
      return family.store.mode === 'set' ? 'set' : 'add';
  }
}

/** The layout both sides must agree on: histogram slots, summary accuracy, 0 otherwise. */
export function layoutOf(family: Family): number {
  if (family.kind === 'histogram') return family.store.slots;
  if (family.kind === 'summary') return family.store.relativeAccuracy;
  return 0;
}
