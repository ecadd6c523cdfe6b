import type { MetricFamily } from '../reporter/index.js';

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
export function isShipped(family: MetricFamily): boolean {
  return !PROCESS_LOCAL_FAMILIES.has(family.name);
}
