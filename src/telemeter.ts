import { invalidOption } from './errors.js';
import type { ExpositionFormat } from './exposition/content-types.js';
import { renderExposition } from './exposition/render.js';
import { checkOptionKeys } from './options.js';
import { Reporter, type ReporterConfig, TELEMETER_OPTIONS } from './reporter/index.js';

export { TELEMETER_OPTIONS };

/** Options of {@link Telemeter}. */
export type TelemeterOptions = ReporterConfig;

/** Options of {@link Telemeter.scrape}. */
export interface ScrapeOptions {
  /** `'text'` (Prometheus 0.0.4, the default) or `'openmetrics'` (OpenMetrics 1.0). */
  readonly format?: ExpositionFormat;
}

/**
 * The metrics pipeline of one process: give it metric definitions, and it attaches to their events,
 * aggregates every event as it happens, and renders the result for Prometheus.
 *
 * ```ts
 * import { counter, execute, Telemeter } from 'telemeter';
 *
 * const telemeter = new Telemeter({
 *   // A counter counts the events that carry its measurement: `http.request.stop` carries `duration`.
 *   metrics: [counter('http.request.count', { eventName: 'http.request.stop', measurement: 'duration' })],
 * });
 * execute('http.request.stop', { duration: 1_500_000 }, { route: '/cart' });
 * // Prometheus text 0.0.4, then OpenMetrics 1.0: a counter's samples end in _total in both.
 * const sample = (text: string) => text.split('\n').find((line) => line.startsWith('http_request_count'));
 * console.log(sample(telemeter.scrape())); //=> http_request_count_total 1
 * console.log(sample(telemeter.scrape({ format: 'openmetrics' }))); //=> http_request_count_total 1
 * telemeter.close(); // detaches its handlers
 * ```
 *
 * Invalid definitions or options throw here, naming the metric and the option. After that, nothing that
 * an event carries can make it throw: bad measurements are skipped and counted in `telemeter_dropped_events_total`.
 */
export class Telemeter extends Reporter {
  /** Renders every metric as one string, in definition order with series sorted by labels. */
  scrape(options: ScrapeOptions = {}): string {
    // One join copies the chunks once into a flat string; `+=` would build a tree of them for the GC to trace.
    const chunks: string[] = [];
    for (const chunk of this.render(options)) chunks.push(chunk);
    return chunks.join('');
  }

  /**
   * Renders every metric as a sequence of chunks (about 64 KiB each), so a server can stream a large
   * exposition and let the event loop run between chunks.
   */
  *render(options: ScrapeOptions = {}): Generator<string> {
    checkOptionKeys('telemeter: scrape', options, ['format']);
    const format = options.format ?? 'text';
    if (format !== 'text' && format !== 'openmetrics') {
      invalidOption(
        `telemeter: scrape: option format must be 'text' or 'openmetrics', got "${String(format)}"`,
      );
    }
    this.refreshComputedFamilies();
    yield* renderExposition(this.metricFamilies, format);
  }
}
