import { invalidArgument } from '../errors.js';
import { execute } from '../events/bus.js';
import { addCollector } from '../events/collectors.js';
import { describe } from '../events/event-name.js';
import { type LogSink, processLog } from '../logger.js';
import type { MetricFamily } from '../reporter/index.js';
import { ExportBuilder, type ExportRequest } from './export-request.js';
import { encodeJsonSteps } from './json-body.js';
import { type OtlpOptions, type ResolvedOtlpOptions, resolveOtlpOptions } from './options.js';
import { encodeProtobufSteps } from './protobuf-body.js';
import {
  OTLP_EXPORT_DROPPED_EVENT,
  OTLP_EXPORT_FAILED_EVENT,
  OTLP_EXPORT_SENT_EVENT,
  OTLP_QUEUE_EVENT,
} from './self-metrics.js';
import { backoffMs, type ExportTarget, sendOnce } from './transport.js';

/** What `startOtlp` reads from: a `Telemeter` (or anything with its read model). */
export interface OtlpSource {
  readonly metricFamilies: readonly MetricFamily[];
  /** Brings gauges reported on read up to date, as before a scrape. */
  refreshComputedFamilies(): void;
  readonly logger?: LogSink;
}

/** A running OTLP push, returned by {@link startOtlp}. */
export interface OtlpPush {
  /**
   * Exports the current values now, and resolves once the receiver has accepted them (`true`), or they were given
   * up (`false`: refused by the receiver, or dropped from a full queue), or `exportTimeout` passed first (`false`;
   * the export stays queued and is retried; `exportTimeout` counts from the call). Never rejects. Await it, or
   * hand it to a serverless platform's `waitUntil()`, before the process may be frozen: while it is pending it
   * keeps a Node.js process alive, which background exports never do.
   */
  flush(): Promise<boolean>;
  /**
   * Stops the timer, exports the current values once more and waits for the queue to drain, up to `exportTimeout`;
   * what is still queued then is dropped (counted with reason `stopped`). Resolves `true` when everything was
   * delivered. Idempotent; never rejects.
   */
  stop(): Promise<boolean>;
  /** Exports waiting for the receiver now. */
  readonly queued: number;
}

interface QueuedExport {
  readonly body: Uint8Array | string;
  readonly bytes: number;
  readonly dataPoints: number;
  /** Failed attempts so far. */
  attempts: number;
  /** Called once with the export's fate: delivered or not. */
  readonly settled: Array<(delivered: boolean) => void>;
  done: boolean;
  /** Set when done: whether the receiver accepted it. */
  delivered: boolean;
}

/**
 * Pushes a Telemeter's metrics to an OTLP/HTTP receiver (an OpenTelemetry Collector, Prometheus 3's OTLP
 * receiver, Grafana Cloud, Mimir, VictoriaMetrics...) every `interval` milliseconds, reading the same series as a
 * scrape of it, so one Telemeter can be scraped and push at once.
 *
 * Counters go as monotonic sums, last values as gauges, sums exported as gauges as non-monotonic sums,
 * distributions as explicit-bucket histograms and summaries as summaries, cumulative unless `temporality:
 * 'delta'`. Each export is encoded (protobuf unless `format: 'json'`), compressed (gzip unless `gzip: false`) and
 * queued. One request is in flight at a time, in order. Answers 429, 502, 503, 504, timeouts and network errors
 * are retried with exponential backoff and jitter, after `Retry-After` when given; other statuses drop the
 * export. While the receiver is down, exports wait in a queue bounded by `maxQueuedExports` and `maxQueuedBytes`;
 * past it the oldest are dropped. Every outcome is an event, counted by {@link otlpMetrics} when listed.
 *
 * Nothing here throws into the application after start-up, and nothing waits on the receiver except `flush()`
 * and `stop()`; the timer does not keep the process alive.
 *
 * @throws TelemeterTypeError at call time: `ERR_TELEMETER_INVALID_ARGUMENT` without a Telemeter;
 *   `ERR_TELEMETER_INVALID_OPTION` or `ERR_TELEMETER_UNKNOWN_OPTION` naming the option.
 */
export function startOtlp(telemeter: OtlpSource, options: OtlpOptions = {}): OtlpPush {
  if (
    typeof telemeter !== 'object' ||
    telemeter === null ||
    !Array.isArray(telemeter.metricFamilies) ||
    typeof telemeter.refreshComputedFamilies !== 'function'
  ) {
    invalidArgument(
      `telemeter/otlp: startOtlp needs a Telemeter as its first argument, got ${describe(telemeter)}`,
    );
  }
  return new OtlpExporter(telemeter, resolveOtlpOptions(options));
}

class OtlpExporter implements OtlpPush {
  private readonly builder: ExportBuilder;
  private readonly target: ExportTarget;
  private readonly logger: LogSink;
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private readonly removeCollector: () => void;
  private readonly queue: QueuedExport[] = [];
  private queuedBytes = 0;
  /** Encodes one export at a time, so exports enter the queue in the order they were read. */
  private producing: Promise<unknown> = Promise.resolve();
  private sending = false;
  /**
   * The export being sent or waiting for its retry: never dropped for room, so a receiver that comes back gets
   * the oldest export kept and then the newest ones, and no answer arrives for an export already counted as dropped.
   */
  private inFlight: QueuedExport | undefined;
  /** Cancels the retry wait and the request in flight when `stop()` gives up. */
  private readonly abandon = new AbortController();
  private stopped: Promise<boolean> | undefined;

  constructor(
    private readonly telemeter: OtlpSource,
    private readonly options: ResolvedOtlpOptions,
  ) {
    this.logger = telemeter.logger ?? processLog;
    for (const warning of options.warnings) {
      this.logger.warnOnce(`otlp-env:${warning}`, {}, `telemeter/otlp: ${warning}`);
    }
    this.builder = new ExportBuilder(telemeter.metricFamilies, options.resource, options.temporality);
    this.target = {
      url: options.url,
      headers: options.headers,
      contentType: options.format === 'json' ? 'application/json' : 'application/x-protobuf',
      gzip: options.gzip,
      timeout: options.timeout,
    };
    this.removeCollector = addCollector(() => {
      execute(OTLP_QUEUE_EVENT, { exports: this.queue.length, bytes: this.queuedBytes }, {});
    });
    if (options.disabled) {
      this.logger.warnOnce(
        'otlp-disabled',
        {},
        'telemeter/otlp: OTEL_SDK_DISABLED=true: nothing is exported',
      );
      this.timer = undefined;
      return;
    }
    this.timer = startTimer(() => void this.produce(), options.interval);
  }

  get queued(): number {
    return this.queue.length;
  }

  flush(): Promise<boolean> {
    if (this.stopped !== undefined) return this.stopped;
    return this.exportAndWait();
  }

  stop(): Promise<boolean> {
    if (this.stopped === undefined) {
      clearInterval(this.timer);
      this.stopped = this.exportAndWait().then((delivered) => {
        this.abandon.abort();
        for (const entry of this.queue.splice(0)) this.drop(entry, 'stopped');
        this.queuedBytes = 0;
        this.removeCollector();
        return delivered;
      });
    }
    return this.stopped;
  }

  private exportAndWait(): Promise<boolean> {
    if (this.options.disabled) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const finish = (delivered: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(delivered);
      };
      // Referenced, unlike every other timer here, and set before the export is read: a script that awaits
      // flush() or stop() (a batch job's last line) is kept alive until its data is delivered or exportTimeout
      // passes, and no longer.
      const timer = setTimeout(() => finish(false), this.options.exportTimeout);
      void this.produce().then((entry) => {
        // Nothing new to send: the data is delivered once what is queued is.
        const awaited = entry ?? this.queue.at(-1);
        if (awaited === undefined) finish(true);
        else if (awaited.done) finish(awaited.delivered);
        else awaited.settled.push(finish);
      });
    });
  }

  /** Reads the metrics, encodes and queues one export, and starts sending. Never rejects. */
  private produce(): Promise<QueuedExport | undefined> {
    const next = this.producing.then(async () => {
      try {
        this.telemeter.refreshComputedFamilies();
        const request = await inTurns(this.builder.steps(Date.now()));
        if (request === undefined) return undefined;
        const entry = await this.encode(request);
        this.enqueue(entry);
        void this.send();
        return entry;
      } catch (error) {
        this.logger.errorOnce(
          'otlp-export',
          { err: error },
          'telemeter/otlp: an export could not be built; later exports will try again',
        );
        return undefined;
      }
    });
    this.producing = next;
    return next;
  }

  private async encode(request: ExportRequest): Promise<QueuedExport> {
    const steps: Generator<void, string | Uint8Array> =
      this.options.format === 'json' ? encodeJsonSteps(request) : encodeProtobufSteps(request);
    const encoded = await inTurns(steps);
    const body = this.options.gzip ? await gzip(encoded) : encoded;
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body).length : body.length;
    return {
      body,
      bytes,
      dataPoints: request.dataPoints,
      attempts: 0,
      settled: [],
      done: false,
      delivered: false,
    };
  }

  /** Queues `entry`; while the bound is passed, drops the oldest export not in flight (the new one last). */
  private enqueue(entry: QueuedExport): void {
    this.queue.push(entry);
    this.queuedBytes += entry.bytes;
    const { maxQueuedExports, maxQueuedBytes } = this.options;
    while (this.queue.length > maxQueuedExports || this.queuedBytes > maxQueuedBytes) {
      const index = this.queue[0] === this.inFlight ? 1 : 0;
      if (index >= this.queue.length) break;
      const [oldest] = this.queue.splice(index, 1);
      this.queuedBytes -= oldest.bytes;
      this.drop(oldest, 'queue_full');
      this.logger.warnOnce(
        'otlp-queue-full',
        {},
        `telemeter/otlp: the export queue is full (maxQueuedExports ${maxQueuedExports}, maxQueuedBytes ${maxQueuedBytes}) while ${this.options.url} cannot take exports; the oldest are dropped and counted in telemeter_otlp_dropped_exports_total`,
      );
    }
  }

  /** Sends the queue in order, one request at a time, until it is empty. */
  private async send(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.queue.length > 0 && !this.abandon.signal.aborted) {
        const entry = this.queue[0];
        this.inFlight = entry;
        const result = await sendOnce(this.target, entry.body, this.abandon.signal);
        if (this.abandon.signal.aborted) return;
        if (result.outcome === 'delivered') {
          this.remove(entry);
          if (result.rejected > 0 || result.message !== '') this.partiallyRejected(entry, result);
          execute(
            OTLP_EXPORT_SENT_EVENT,
            { exports: 1, bytes: entry.bytes, dataPoints: entry.dataPoints },
            {},
          );
          this.settle(entry, true);
          continue;
        }
        execute(
          OTLP_EXPORT_FAILED_EVENT,
          { exports: 1, bytes: entry.bytes },
          { reason: result.reason, retry: result.outcome === 'retry' },
        );
        if (result.outcome === 'refused') {
          this.remove(entry);
          this.logger.warnOnce(
            `otlp-refused:${result.reason}`,
            {},
            `telemeter/otlp: ${this.options.url} refused an export with status ${result.reason}${result.detail === '' ? '' : ` (${result.detail})`}; it is dropped, not retried`,
          );
          this.drop(entry, 'rejected');
          continue;
        }
        entry.attempts++;
        this.logger.warnOnce(
          'otlp-retry',
          {},
          `telemeter/otlp: an export to ${this.options.url} failed (${result.reason}${result.detail === '' ? '' : `: ${result.detail}`}); it stays queued and is retried with backoff`,
        );
        const wait =
          result.retryAfter ?? backoffMs(entry.attempts, this.options.retryDelay, this.options.maxRetryDelay);
        await sleep(wait, this.abandon.signal);
        this.inFlight = undefined;
      }
    } catch (error) {
      this.logger.errorOnce('otlp-send', { err: error }, 'telemeter/otlp: sending failed unexpectedly');
    } finally {
      this.inFlight = undefined;
      this.sending = false;
    }
  }

  /**
   * A partial success: the receiver took the export but refused some points (or warns). It must not be retried;
   * the refused points are counted as dropped, reason `rejected`, and the receiver's message logged once.
   */
  private partiallyRejected(entry: QueuedExport, result: { rejected: number; message: string }): void {
    if (result.rejected > 0) {
      execute(OTLP_EXPORT_DROPPED_EVENT, { exports: 0, dataPoints: result.rejected }, { reason: 'rejected' });
    }
    this.logger.warnOnce(
      `otlp-partial:${result.message}`,
      {},
      `telemeter/otlp: ${this.options.url} accepted an export of ${entry.dataPoints} data points but rejected ${result.rejected}${result.message === '' ? '' : `: ${result.message}`}`,
    );
  }

  private remove(entry: QueuedExport): void {
    const index = this.queue.indexOf(entry);
    if (index < 0) return;
    this.queue.splice(index, 1);
    this.queuedBytes -= entry.bytes;
  }

  private drop(entry: QueuedExport, reason: 'queue_full' | 'rejected' | 'stopped'): void {
    execute(OTLP_EXPORT_DROPPED_EVENT, { exports: 1, dataPoints: entry.dataPoints }, { reason });
    this.settle(entry, false);
  }

  private settle(entry: QueuedExport, delivered: boolean): void {
    if (entry.done) return;
    entry.done = true;
    entry.delivered = delivered;
    for (const resolve of entry.settled.splice(0)) resolve(delivered);
  }
}

/**
 * The export timer, which never keeps the process alive; none in a Cloudflare Worker, which refuses timers while
 * its module's top level runs (where an exporter is started) and cancels a request's timers when the request
 * ends: there `flush()`, handed to `ctx.waitUntil()`, does the exporting.
 */
function startTimer(run: () => void, ms: number): ReturnType<typeof setInterval> | undefined {
  if ((globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent === 'Cloudflare-Workers') {
    return undefined;
  }
  const timer = setInterval(run, ms);
  timer.unref?.();
  return timer;
}

/**
 * Runs `steps` to its end, giving the event loop a turn at each pause, so that reading and encoding 100,000 series
 * never holds the application for the whole export (a few milliseconds at a time instead).
 */
async function inTurns<T>(steps: Generator<void, T>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise((resolve) => {
      // Background work must not keep the process alive; an awaited flush() does (see exportAndWait).
      (setTimeout(resolve, 0) as { unref?: () => void }).unref?.();
    });
  }
}

/** Resolves after `ms`, or at once when `signal` aborts; never keeps the process alive. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    timer.unref?.();
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

async function gzip(body: Uint8Array | string): Promise<Uint8Array> {
  const stream = new Blob([body as BlobPart]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
