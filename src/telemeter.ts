import { invalidOption } from './errors.js';
import type { ExpositionFormat } from './exposition/content-types.js';
import { encodeProtobuf } from './exposition/protobuf.js';
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
  /**
   * OpenMetrics only: add a `_created` sample to each counter, histogram and summary series, the time it was
   * created in seconds since the epoch (what lets `rate()` see a restart). Off by default, as in client_golang:
   * each is one more series for Prometheus to store. The protobuf format always carries it, as a field.
   */
  readonly createdSamples?: boolean;
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
    checkOptionKeys('telemeter: scrape', options, ['format', 'createdSamples']);
    const format = options.format ?? 'text';
    if (format !== 'text' && format !== 'openmetrics') {
      invalidOption(
        `telemeter: scrape: option format must be 'text' or 'openmetrics', got "${String(format)}"${
          format === 'protobuf' ? '; protobuf is bytes: use renderProtobuf()' : ''
        }`,
      );
    }
    const createdSamples = options.createdSamples ?? false;
    if (typeof createdSamples !== 'boolean') {
      invalidOption(
        `telemeter: scrape: option createdSamples must be a boolean, got "${String(createdSamples)}"`,
      );
    }
    this.refreshComputedFamilies();
    yield* renderExposition(this.metricFamilies, format, createdSamples);
  }

  /**
   * Encodes every metric in the Prometheus protobuf exposition (`application/vnd.google.protobuf;
   * proto=io.prometheus.client.MetricFamily; encoding=delimited`): length-delimited `MetricFamily` messages, in
   * chunks of about 64 KiB, and empty chunks between the steps of a large family (turns for the event loop).
   * `telemeter/server` sends it to scrapers that ask for it (a Prometheus with native histograms enabled);
   * the names and values are those of the text formats, and counters, histograms and summaries carry their
   * series' `created_timestamp`.
   *
   * ```ts
   * import { counter, execute, Telemeter } from 'telemeter';
   *
   * const telemeter = new Telemeter({
   *   metrics: [counter('jobs.done.count', { eventName: 'jobs.done', measurement: 'n' })],
   *   selfMetrics: false,
   * });
   * execute('jobs.done', { n: 1 });
   * const body = Buffer.concat([...telemeter.renderProtobuf()]);
   * console.log(body.includes('jobs_done_count_total')); //=> true
   * telemeter.close();
   * ```
   */
  *renderProtobuf(): Generator<Uint8Array> {
    this.refreshComputedFamilies();
    yield* encodeProtobuf(this.metricFamilies);
  }
}
