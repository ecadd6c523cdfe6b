import { setImmediate as nextTurn } from 'node:timers/promises';
import { TelemeterTypeError } from '../errors.js';
import { describe } from '../events/event-name.js';
import type { LogSink } from '../logger.js';
import { checkOptionKeys } from '../options.js';
import { Telemeter } from '../telemeter.js';
import { clusterShapeOf } from './cluster-telemeter.js';
import { DEFAULT_ENTRIES_PER_MESSAGE, DeltaExporter } from './delta-exporter.js';
import { type DeltaMessage, type FamilyDelta, MESSAGE_KEY, PROTOCOL_VERSION } from './protocol.js';
import { openWorkerLink, type WorkerLink } from './worker-link.js';

/** Options of {@link startClusterWorker}. */
export interface ClusterWorkerOptions {
  /** Milliseconds between periodic flushes to the primary. Default 1000; the timer never keeps the worker alive. */
  readonly flushInterval?: number;
  /** Series entries per message, bounding what the primary parses and applies at once. Default 1024. */
  readonly maxEntriesPerMessage?: number;
  /**
   * Milliseconds `stop()` (or a thread's exit) waits for the primary's first answer when it has not come yet, so
   * that what was recorded before it still reaches the primary. A primary that stays silent (no
   * `startClusterPrimary`, or a thread not given to `addWorkerThread`) costs this long, once. Default 1000.
   */
  readonly welcomeTimeout?: number;
}

/** A running worker exporter. */
export interface ClusterWorker {
  /** `'cluster'` or `'thread'`: the transport found. */
  readonly transport: 'cluster' | 'thread';
  /** The label the primary gave this worker (`'0'`, `'1'`, ...), once it answered; undefined before. */
  readonly workerLabel: string | undefined;
  /** Sends what changed since the last flush now; resolves once it is handed to the channel. */
  flush(): Promise<void>;
  /**
   * Flushes one last time, tells the primary this worker is leaving, stops the timer and closes the channel.
   * Call it (and await it) on a graceful shutdown so the last increments reach the primary; exiting right after
   * it resolves loses nothing. If the primary has not answered yet, it first waits up to `welcomeTimeout` for
   * it; a primary that never answers gets nothing, and that is logged once. Never rejects. Idempotent.
   */
  stop(): Promise<void>;
}

/** Delta messages a worker may have sent and not seen acknowledged. */
const ACK_WINDOW = 2;
/** How long a worker waits for an acknowledgement before sending anyway (a primary that stalls). */
const ACK_TIMEOUT_MS = 2000;

const KNOWN_OPTIONS = ['flushInterval', 'maxEntriesPerMessage', 'welcomeTimeout'];

const exporters = new WeakMap<Telemeter, DeltaExporter>();
const running = new WeakSet<Telemeter>();

/**
 * Ships a worker's metrics to the primary's aggregator: call it once in each node:cluster worker or
 * worker thread, with the worker's own Telemeter (the same definitions as the primary's). Recording stays
 * local and as fast as ever; every `flushInterval` ms, and whenever the primary collects for a scrape, the
 * worker sends what changed since its previous message (deltas, not totals).
 *
 * Nothing is sent until the primary's aggregator answers, and what is recorded meanwhile is sent then.
 * Over a worker thread, the final flush also happens by itself when the thread's event loop runs out of work.
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` when `telemeter` is not a Telemeter;
 *   `ERR_TELEMETER_INVALID_STATE` when not running in a cluster worker or a worker thread, when `telemeter` is a
 *   primary's (from `clusterTelemeter`) or is already shipped; `ERR_TELEMETER_INVALID_OPTION` or
 *   `ERR_TELEMETER_UNKNOWN_OPTION` naming the option.
 */
export function startClusterWorker(telemeter: Telemeter, options: ClusterWorkerOptions = {}): ClusterWorker {
  if (!(telemeter instanceof Telemeter)) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_ARGUMENT',
      `telemeter/cluster: startClusterWorker needs the Telemeter of this worker, got ${describe(telemeter)}`,
    );
  }
  if (clusterShapeOf(telemeter) !== undefined) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_STATE',
      'telemeter/cluster: startClusterWorker got a Telemeter built by clusterTelemeter(), which is for the primary; workers use new Telemeter(options) with the same options',
    );
  }
  if (running.has(telemeter)) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_STATE',
      'telemeter/cluster: startClusterWorker is already running for this Telemeter; stop() the running one first',
    );
  }
  checkOptionKeys('telemeter/cluster: startClusterWorker', options, KNOWN_OPTIONS);
  const {
    flushInterval = 1000,
    maxEntriesPerMessage = DEFAULT_ENTRIES_PER_MESSAGE,
    welcomeTimeout = 1000,
  } = options;
  if (!(Number.isInteger(flushInterval) && flushInterval >= 10 && flushInterval <= 3_600_000)) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_OPTION',
      `telemeter/cluster: startClusterWorker: option flushInterval must be an integer from 10 to 3600000 (ms), got ${describe(flushInterval)}`,
    );
  }
  if (!(Number.isInteger(maxEntriesPerMessage) && maxEntriesPerMessage >= 1)) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_OPTION',
      `telemeter/cluster: startClusterWorker: option maxEntriesPerMessage must be an integer >= 1, got ${describe(maxEntriesPerMessage)}`,
    );
  }
  if (!(Number.isInteger(welcomeTimeout) && welcomeTimeout >= 1 && welcomeTimeout <= 600_000)) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_OPTION',
      `telemeter/cluster: startClusterWorker: option welcomeTimeout must be an integer from 1 to 600000 (ms), got ${describe(welcomeTimeout)}`,
    );
  }

  let exporter = exporters.get(telemeter);
  if (exporter === undefined) {
    exporter = new DeltaExporter(telemeter);
    exporters.set(telemeter, exporter);
  }
  const shipper = new Shipper(exporter, maxEntriesPerMessage, telemeter.logger);
  const link = openWorkerLink((message) => shipper.receive(message));
  shipper.connect(link);
  exporter.resume();
  running.add(telemeter);

  const timer = setInterval(() => void shipper.flush(), flushInterval);
  timer.unref();
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      // The welcome and acknowledgements must be able to arrive while the worker waits, even from beforeExit.
      link.hold();
      clearInterval(timer);
      process.off('beforeExit', onBeforeExit);
      try {
        if (!(await shipper.welcomed(welcomeTimeout)) && !shipper.refused) {
          telemeter.logger.warnOnce(
            'cluster:no-welcome',
            {},
            `telemeter/cluster: stop() waited ${welcomeTimeout} ms for the primary's answer in vain; what this worker recorded was not sent. Run startClusterPrimary in the primary (and addWorkerThread for a thread), or raise welcomeTimeout`,
          );
        }
        await shipper.finish();
      } finally {
        link.close();
        exporter.pause();
        running.delete(telemeter);
      }
    })();
    return stopping;
  };
  // A thread whose work is done exits without anyone calling stop(): flush on the way out. stop() holds the
  // port, so a welcome still waiting on it (unref'd) arrives first. (A cluster worker's IPC channel keeps it
  // running until it is killed or disconnected, so this never fires there.)
  const onBeforeExit = () => void stop();
  if (link.kind === 'thread') process.once('beforeExit', onBeforeExit);

  return {
    transport: link.kind,
    get workerLabel() {
      return shipper.workerLabel;
    },
    flush: () => shipper.flush(),
    stop,
  };
}

/** Turns exporter output into messages for the current session, and answers the primary. */
class Shipper {
  session: number | undefined;
  workerLabel: string | undefined;
  /** True once a primary answered in another protocol version: nothing will ever be sent. */
  refused = false;
  private link: WorkerLink | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** True once the final flush is under way: later flushes would only mark changes sent that never leave. */
  private finished = false;
  private readonly welcomeWaiters = new Set<(welcomed: boolean) => void>();
  /** Last delta sequence number sent, and acknowledged, in this session. */
  private sequence = 0;
  private acked = 0;
  private ackWaiter: { readonly until: number; readonly resolve: () => void } | undefined;

  constructor(
    private readonly exporter: DeltaExporter,
    private readonly maxEntries: number,
    private readonly logger: LogSink,
  ) {}

  connect(link: WorkerLink): void {
    this.link = link;
  }

  /** Resolves true once the primary has welcomed this worker, false after `timeoutMs` or a refusal. */
  welcomed(timeoutMs: number): Promise<boolean> {
    if (this.session !== undefined) return Promise.resolve(true);
    if (this.refused) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (welcomed: boolean) => {
        clearTimeout(timer);
        this.welcomeWaiters.delete(done);
        resolve(welcomed);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.welcomeWaiters.add(done);
    });
  }

  /** The last flush of this exporter, then `bye`; nothing after it sends. */
  async finish(): Promise<void> {
    const last = this.flush();
    this.finished = true;
    await last;
    const session = this.session;
    if (session !== undefined) await this.link?.send({ [MESSAGE_KEY]: 'bye', session });
  }

  receive(message: unknown): void {
    const m = message as Record<string, unknown>;
    // Once stopping, only acknowledgements matter (the last flush may wait for them): a new session would
    // connect a worker that is leaving.
    if (this.finished && m[MESSAGE_KEY] !== 'ack') return;
    switch (m[MESSAGE_KEY]) {
      case 'welcome':
        if (m.version !== PROTOCOL_VERSION) {
          this.refused = true;
          for (const waiter of [...this.welcomeWaiters]) waiter(false);
          this.logger.warnOnce(
            'cluster:version',
            {},
            `telemeter/cluster: the primary speaks protocol version ${describe(m.version)}, this worker ${PROTOCOL_VERSION}; not shipping metrics. Use one telemeter version in primary and workers`,
          );
          return;
        }
        if (typeof m.session === 'number' && m.session !== this.session) {
          this.session = m.session;
          this.sequence = 0;
          this.acked = 0;
          this.ackWaiter?.resolve();
          this.workerLabel = typeof m.worker === 'string' ? m.worker : undefined;
          this.exporter.forgetAnnouncements();
          void this.flush();
          for (const waiter of [...this.welcomeWaiters]) waiter(true);
        }
        return;
      case 'ack':
        if (m.session === this.session && typeof m.seq === 'number' && m.seq > this.acked) {
          this.acked = m.seq;
          if (this.ackWaiter !== undefined && this.acked >= this.ackWaiter.until) this.ackWaiter.resolve();
        }
        return;
      case 'flush':
        if (m.session === this.session && typeof m.id === 'number') void this.flush(m.id);
        return;
      case 'probe':
        void this.link?.send({ [MESSAGE_KEY]: 'hello', version: PROTOCOL_VERSION });
        return;
      default:
    }
  }

  /**
   * Sends every change as one or more messages; the last carries `flushId` when answering a request.
   * Flushes run one after another (a reply must not overtake a flush still sending), and the worker's
   * event loop gets a turn between messages.
   */
  flush(flushId?: number): Promise<void> {
    if (this.finished) return this.chain;
    // send() catches its own errors; the catch here only keeps one surprise from stopping every later flush.
    this.chain = this.chain.then(() => this.send(flushId)).catch(() => {});
    return this.chain;
  }

  private async send(flushId: number | undefined): Promise<void> {
    const session = this.session;
    const link = this.link;
    if (session === undefined || link === undefined) return;
    const delivered: Promise<boolean>[] = [];
    const post = (families: FamilyDelta[], last: boolean) => {
      const message: DeltaMessage = {
        [MESSAGE_KEY]: 'delta',
        session,
        seq: ++this.sequence,
        families,
        ...(last && flushId !== undefined ? { flush: flushId } : {}),
      };
      delivered.push(link.send(message));
    };
    try {
      const messages = this.exporter.messages(this.maxEntries);
      let current = messages.next();
      if (current.done && flushId !== undefined) post([], true);
      while (!current.done) {
        const following = messages.next();
        post(current.value, following.done === true);
        current = following;
        if (!current.done) await this.room();
      }
    } catch (error) {
      this.logger.errorOnce(
        'cluster:collect',
        { err: error },
        'telemeter/cluster: collecting this worker’s metrics failed',
      );
      if (flushId !== undefined) post([], true);
    }
    await Promise.all(delivered);
  }

  /** Resolves once the next message fits in the acknowledgement window (or the wait times out). */
  private async room(): Promise<void> {
    await nextTurn();
    const until = this.sequence + 1 - ACK_WINDOW;
    if (this.acked >= until) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.ackWaiter?.resolve === done) this.ackWaiter = undefined;
        resolve();
      };
      const timer = setTimeout(done, ACK_TIMEOUT_MS);
      this.ackWaiter = { until, resolve: done };
    });
  }
}
