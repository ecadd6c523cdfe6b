import { counter, distribution, type MetricDefinition } from '../metrics/definitions.js';

/** The event a metrics server emits after each scrape; `telemeter/server` uses this prefix by default. */
export const SCRAPE_STOP_EVENT = 'telemeter.scrape.stop';

/**
 * Telemeter's own scrape metrics, defined like any user metric over the server's `telemeter.scrape.stop`
 * event, so a scrape is measured by the same pipeline that it reads.
 */
export function scrapeDefinitions(): MetricDefinition[] {
  return [
    counter('telemeter.scrapes_total', {
      eventName: SCRAPE_STOP_EVENT,
      measurement: 'duration',
      tags: ['status'],
      description: 'Scrapes answered by the metrics endpoint, by HTTP status.',
    }),
    distribution('telemeter.scrape_duration_seconds', {
      eventName: SCRAPE_STOP_EVENT,
      measurement: 'duration',
      unit: ['native', 'second'],
      description: 'Time to render and send one scrape.',
      reporterOptions: {
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      },
    }),
  ];
}
