import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import { invalidArgument } from '../errors.js';
import type { ExpositionFormat, WireFormat } from '../exposition/index.js';
import { type Logger, LogSink, processLog } from '../logger.js';
import { ChunkLog } from './chunk-log.js';
import { ExportedNameScanner, type IncludedSources, withoutEof } from './included-sources.js';

const utf8 = new TextEncoder();

/** Bytes per slab of encoded text: about 16 chunks of 64 KiB. */
const SLAB_BYTES = 1024 * 1024;
/** The most encoded-text memory a coalescer keeps between renders for the next one. */
const KEPT_BYTES = 256 * 1024 * 1024;

/**
 * Memory for a slab: uninitialized where the runtime offers it (every byte handed out is written first), zeroed
 * elsewhere (a Worker has no Buffer).
 */
const newSlab: (bytes: number) => Uint8Array =
  typeof Buffer === 'function' && typeof Buffer.allocUnsafeSlow === 'function'
    ? (bytes) => Buffer.allocUnsafeSlow(bytes)
    : (bytes) => new Uint8Array(bytes);

/**
 * The memory of text renders, handed from one render to the next. A render's chunks are encoded to UTF-8 as they
 * are rendered, so every scrape that shares the render (and its gzip stream) writes the same bytes and the render
 * is held outside the JavaScript heap (held as strings, the garbage collector copied and traced them). Encoding
 * into memory just allocated cost more than rendering the text, nearly all of it the first touch of that memory
 * (measured on 193 MB: 15 ms into memory used before, 115-200 ms into new memory), so a render's slabs go back
 * here once the render and every scrape that read it are done (see {@link RenderJob.release}), up to `KEPT_BYTES`:
 * a text body of up to 256 MiB keeps its memory between scrapes rather than returning it and touching it again.
 */
class SlabPool {
  private readonly free: Uint8Array[] = [];
  private freeBytes = 0;

  /** A slab of at least `bytes`. */
  take(bytes: number): Uint8Array {
    for (let i = this.free.length - 1; i >= 0; i--) {
      const slab = this.free[i];
      if (slab.length < bytes) continue;
      this.free.splice(i, 1);
      this.freeBytes -= slab.length;
      return slab;
    }
    return newSlab(Math.max(SLAB_BYTES, bytes));
  }

  /** Takes back slabs nothing reads any more. */
  give(slabs: readonly Uint8Array[]): void {
    for (const slab of slabs) {
      if (this.freeBytes + slab.length > KEPT_BYTES) return;
      this.free.push(slab);
      this.freeBytes += slab.length;
    }
  }
}

/** One render's text, encoded into slabs of the pool and handed out as views. */
class TextEncoding {
  private slab: Uint8Array = new Uint8Array(0);
  private used = 0;
  /** Every slab this render wrote into, to give back when it is done. */
  readonly slabs: Uint8Array[] = [];

  constructor(private readonly pool: SlabPool) {}

  encode(text: string): Uint8Array {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8, so this much room always holds the chunk.
    const room = text.length * 3;
    if (this.slab.length - this.used < room) {
      this.slab = this.pool.take(room);
      this.slabs.push(this.slab);
      this.used = 0;
    }
    const start = this.used;
    this.used += utf8.encodeInto(text, this.slab.subarray(start)).written;
    return this.slab.subarray(start, this.used);
  }
}

/** What the server renders: a `Telemeter`, or anything with the same `render` generator. */
export interface RenderSource {
  /**
   * The text exposition in chunks. `createdSamples` is passed only when an endpoint asks for OpenMetrics
   * `_created` samples (its `createdSamples` option).
   */
  render(options: { format: ExpositionFormat; createdSamples?: boolean }): Iterable<string>;
  /**
   * The Prometheus protobuf exposition in chunks (an empty chunk is a pause). Without it, the endpoint offers
   * the text formats alone.
   */
  renderProtobuf?(): Iterable<Uint8Array>;
  /**
   * Brings the values up to date before a render, e.g. a cluster aggregator asking its workers to flush.
   * A rejection is logged and the scrape renders what it has.
   */
  collect?(): Promise<unknown>;
  /**
   * Where the server logs this source's problems: a Telemeter's own sink (its `logger` option, and warn-once
   * state). Without it, the process-wide logger of `setLogger`.
   */
  readonly logger?: Logger;
}

/**
 * Checks the first argument of `serveMetrics` and `metricsHandler`.
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` when `source` has no `render`, or a `logger`
 *   without `warn` and `error`.
 */
export function checkRenderSource(source: unknown, where: string): RenderSource {
  const candidate = source as Partial<RenderSource> | null;
  if (typeof candidate?.render !== 'function') {
    invalidArgument(`telemeter/server: ${where} needs a Telemeter as its first argument`);
  }
  const logger = candidate.logger as Partial<Logger> | undefined;
  if (logger !== undefined && (typeof logger?.warn !== 'function' || typeof logger.error !== 'function')) {
    invalidArgument(
      `telemeter/server: ${where}: the logger of the render source must have warn and error methods`,
    );
  }
  return candidate as RenderSource;
}

/** The never-throwing sink the server logs a source's problems through. */
export function logSinkOf(source: RenderSource): LogSink {
  const logger = source.logger;
  if (logger === undefined) return processLog;
  return logger instanceof LogSink ? logger : new LogSink(logger);
}

/** One render of one format, shared by every scrape that joins it while it runs. */
export class RenderJob {
  /** The exposition, chunk by chunk, as bytes (text formats in UTF-8). */
  readonly body = new ChunkLog<Uint8Array>();
  private gzipped: ChunkLog<Buffer> | undefined;
  /** The producer (until the body is complete), each scrape that acquired the job, and its gzip stream. */
  private holders = 1;
  /** Runs once nothing holds the job: its chunks' memory may then be written again. */
  private whenReleased: (() => void) | undefined;

  constructor(
    readonly format: WireFormat,
    /** OpenMetrics `_created` samples (the endpoint's `createdSamples` option). */
    readonly createdSamples = false,
  ) {}

  /**
   * Holds the body for one more reader; that reader calls {@link release} once nothing of its own reads the body's
   * chunks any more (its response has closed, or it has copied them). A release too early would let the next
   * render write into bytes still being sent, so each reader releases once, at the end.
   */
  hold(): () => void {
    this.holders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release();
    };
  }

  /** Lets go of one hold; the last one runs what {@link onReleased} registered. */
  release(): void {
    this.holders--;
    if (this.holders === 0) this.whenReleased?.();
  }

  /** Registers what runs once every holder has released the job (the producer's own hold included). */
  onReleased(run: () => void): void {
    this.whenReleased = run;
  }

  /**
   * The same body compressed with gzip, made on first request by one zlib stream that every gzip
   * reader of this job shares. zlib runs on the libuv thread pool, off the main thread.
   */
  gzip(): ChunkLog<Buffer> {
    if (this.gzipped !== undefined) return this.gzipped;
    const log = new ChunkLog<Buffer>();
    this.gzipped = log;
    const zip = createGzip();
    // zlib reads each chunk on the thread pool after write() returns: the body is held until the stream has closed.
    zip.once('close', this.hold());
    zip.on('data', (chunk: Buffer) => log.push(chunk));
    zip.on('end', () => log.end());
    zip.on('error', (error) => log.fail(error));
    void (async () => {
      try {
        for await (const chunk of this.body.read()) {
          if (!zip.write(chunk)) await once(zip, 'drain');
        }
        zip.end();
      } catch (error) {
        log.fail(error);
        zip.destroy();
      }
    })();
    return log;
  }
}

/**
 * Coalesces concurrent scrapes: a scrape that arrives while a render of the same format is running
 * joins it instead of starting another, as client_golang's `CoalesceGather` does. A finished (or failed)
 * render is forgotten at once, so the next scrape always sees fresh values.
 */
export class RenderCoalescer {
  private readonly running = new Map<string, RenderJob>();
  private readonly log: LogSink;
  private readonly pool = new SlabPool();

  /** With `included`, each render is telemeter's families followed by the included sources' (`include` option). */
  constructor(
    private readonly source: RenderSource,
    private readonly included?: IncludedSources,
  ) {
    this.log = logSinkOf(source);
  }

  /**
   * The render of `format` in flight, or a new one, with a hold on it for the caller: call the function returned
   * once nothing reads the job's chunks any more (see {@link RenderJob.hold}).
   */
  acquire(format: WireFormat, createdSamples = false): [RenderJob, () => void] {
    const key = jobKey(format, createdSamples);
    const current = this.running.get(key);
    if (current !== undefined) return [current, current.hold()];
    const job = new RenderJob(format, createdSamples);
    this.running.set(key, job);
    const release = job.hold();
    void this.produce(job, key);
    return [job, release];
  }

  private async produce(job: RenderJob, key: string): Promise<void> {
    // Read the included sources first: their own collection (often async) overlaps telemeter's render.
    const readings = this.included?.read();
    if (typeof this.source.collect === 'function') {
      try {
        await this.source.collect();
      } catch (error) {
        this.log.error(
          { err: error },
          'telemeter/server: collecting fresh values failed; the scrape renders what it has',
        );
      }
    }
    try {
      if (job.format === 'protobuf') {
        await this.produceProtobuf(job);
        return;
      }
      const format = job.format;
      const options = job.createdSamples ? { format, createdSamples: true } : { format };
      const chunks = this.source.render(options)[Symbol.iterator]();
      const scanner = readings === undefined ? undefined : new ExportedNameScanner(format);
      // With included sources, one chunk is held back, so the `# EOF` at the end of the last can be cut.
      let held = '';
      const text = new TextEncoding(this.pool);
      job.onReleased(() => this.pool.give(text.slabs));
      for (;;) {
        const step = chunks.next();
        if (step.done) break;
        if (scanner === undefined) {
          if (step.value.length > 0) job.body.push(text.encode(step.value));
        } else if (step.value.length > 0) {
          scanner.scan(step.value);
          if (held.length > 0) job.body.push(text.encode(held));
          held = step.value;
        }
        // A large registry renders in many chunks; letting the event loop run between them keeps
        // the application responsive during a scrape.
        await nextTurn();
      }
      if (scanner !== undefined && readings !== undefined && this.included !== undefined) {
        const om = format === 'openmetrics';
        const tail = om ? withoutEof(held) : held;
        if (tail.length > 0) job.body.push(text.encode(tail));
        for (const chunk of this.included.merge(await readings, scanner.names, format)) {
          if (chunk.length > 0) job.body.push(text.encode(chunk));
          await nextTurn();
        }
        if (om) job.body.push(text.encode('# EOF\n'));
      }
      job.body.end();
    } catch (error) {
      this.log.error(
        { err: error },
        `telemeter/server: rendering ${job.format} metrics failed; the scrape gets 503`,
      );
      job.body.fail(error);
    } finally {
      if (this.running.get(key) === job) this.running.delete(key);
      job.release();
    }
  }

  /** The protobuf body: the source's chunks, a turn of the event loop after each (pauses included). */
  private async produceProtobuf(job: RenderJob): Promise<void> {
    const render = this.source.renderProtobuf;
    if (render === undefined) throw new Error('the render source has no renderProtobuf');
    for (const chunk of render.call(this.source)) {
      if (chunk.length > 0) job.body.push(chunk);
      await nextTurn();
    }
    job.body.end();
  }
}

function jobKey(format: WireFormat, createdSamples: boolean): string {
  return createdSamples && format === 'openmetrics' ? 'openmetrics+created' : format;
}

const coalescers = new WeakMap<RenderSource, RenderCoalescer>();

/** The coalescer of `source`, shared by every server and handler that serves it. */
export function coalescerFor(source: RenderSource): RenderCoalescer {
  let coalescer = coalescers.get(source);
  if (coalescer === undefined) {
    coalescer = new RenderCoalescer(source);
    coalescers.set(source, coalescer);
  }
  return coalescer;
}
