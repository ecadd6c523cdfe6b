import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe } from '../events/event-name.js';
import { processLog } from '../logger.js';
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
   * Flushes one last time, then stops the timer and closes the channel. Call it (and await it) on a
   * graceful shutdown so the last increments reach the primary. Idempotent.
   */
  stop(): Promise<void>;
}

/** Delta messages a worker may have sent and not seen acknowledged. */
const ACK_WINDOW = 2;
/** How long a worker waits for an acknowledgement before sending anyway (a primary that stalls). */
const ACK_TIMEOUT_MS = 2000;

/** How long a finished thread waits for the primary's welcome before exiting without a final flush. */
const WELCOME_GRACE_MS = 1000;

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
 * @throws TypeError when not running in a cluster worker or a worker thread, when `telemeter` is not a
 *   Telemeter (or is a primary's from `clusterTelemeter`), when it is already shipped, or an option is invalid.
 */
export function startClusterWorker(telemeter: Telemeter, options: ClusterWorkerOptions = {}): ClusterWorker {
  if (!(telemeter instanceof Telemeter)) {
    throw new TypeError('telemeter/cluster: startClusterWorker needs the Telemeter of this worker');
  }
  if (clusterShapeOf(telemeter) !== undefined) {
    throw new TypeError(
      'telemeter/cluster: startClusterWorker got a Telemeter built by clusterTelemeter(), which is for the primary; workers use new Telemeter(options) with the same options',
    );
  }
  if (running.has(telemeter)) {
    throw new TypeError('telemeter/cluster: startClusterWorker is already running for this Telemeter');
  }
  const { flushInterval = 1000, maxEntriesPerMessage = DEFAULT_ENTRIES_PER_MESSAGE } = options ?? {};
  if (!(Number.isInteger(flushInterval) && flushInterval >= 10 && flushInterval <= 3_600_000)) {
    throw new TypeError(
      `telemeter/cluster: option flushInterval must be an integer from 10 to 3600000 (ms), got ${describe(flushInterval)}`,
    );
  }
  if (!(Number.isInteger(maxEntriesPerMessage) && maxEntriesPerMessage >= 1)) {
    throw new TypeError(
      `telemeter/cluster: option maxEntriesPerMessage must be an integer >= 1, got ${describe(maxEntriesPerMessage)}`,
    );
  }

  let exporter = exporters.get(telemeter);
  if (exporter === undefined) {
    exporter = new DeltaExporter(telemeter);
    exporters.set(telemeter, exporter);
  }
  const shipper = new Shipper(exporter, maxEntriesPerMessage);
  const link = openWorkerLink((message) => shipper.receive(message));
  shipper.connect(link);
  exporter.resume();
  running.add(telemeter);

  const timer = setInterval(() => void shipper.flush(), flushInterval);
  timer.unref();
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      // Acknowledgements must be able to arrive while the last flush is sent, even from beforeExit.
      link.hold();
      clearInterval(timer);
      process.off('beforeExit', onBeforeExit);
      await shipper.flush();
      link.close();
      exporter.pause();
      running.delete(telemeter);
    })();
    return stopping;
  };
  const onBeforeExit = () => {
    if (shipper.session !== undefined) {
      void stop();
      return;
    }
    // Not welcomed yet: the welcome may be waiting on the unref'd port. Wait for it, briefly, so a
    // short-lived thread still delivers what it recorded.
    link.hold();
    const timer = setTimeout(() => void stop(), WELCOME_GRACE_MS);
    shipper.onWelcome = () => {
      clearTimeout(timer);
      void stop();
    };
  };
  // A thread whose work is done exits without anyone calling stop(): flush on the way out. (A cluster
  // worker's IPC channel keeps it running until it is killed or disconnected, so this never fires there.)
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
  private link: WorkerLink | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** Called once after the first welcome is handled. */
  onWelcome: (() => void) | undefined;
  /** Last delta sequence number sent, and acknowledged, in this session. */
  private sequence = 0;
  private acked = 0;
  private ackWaiter: { readonly until: number; readonly resolve: () => void } | undefined;

  constructor(
    private readonly exporter: DeltaExporter,
    private readonly maxEntries: number,
  ) {}

  connect(link: WorkerLink): void {
    this.link = link;
  }

  receive(message: unknown): void {
    const m = message as Record<string, unknown>;
    switch (m[MESSAGE_KEY]) {
      case 'welcome':
        if (m.version !== PROTOCOL_VERSION) {
          processLog.warn(
            {},
            `telemeter/cluster: the primary speaks protocol version ${String(m.version)}, this worker ${PROTOCOL_VERSION}; not shipping metrics. Use one telemeter version in primary and workers`,
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
          const onWelcome = this.onWelcome;
          this.onWelcome = undefined;
          onWelcome?.();
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
      processLog.errorOnce(
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
