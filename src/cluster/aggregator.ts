import cluster, { type Worker as ClusterWorkerHandle } from 'node:cluster';
import { MessagePort, type Worker as ThreadWorker } from 'node:worker_threads';
import { TelemeterTypeError } from '../errors.js';
import { describe } from '../events/event-name.js';
import { execute, monotonicTime } from '../events/index.js';
import { checkOptionKeys } from '../options.js';
import type { ScalarMerge, SeriesHandle } from '../reporter/index.js';
import { type ScrapeOptions, Telemeter } from '../telemeter.js';
import { type ClusterShape, COLLECT_STOP_EVENT, clusterShapeOf } from './cluster-telemeter.js';
import { type MergeTarget, mergeTargetFor } from './delta-applier.js';
import type { GaugeContributions } from './gauge-merge.js';
import {
  type ByeMessage,
  type DeltaMessage,
  MESSAGE_KEY,
  messageType,
  PROTOCOL_VERSION,
  type PrimaryMessage,
} from './protocol.js';
import { WorkerConnection } from './worker-connection.js';

/** Options of {@link startClusterPrimary}. */
export interface ClusterPrimaryOptions {
  /**
   * Milliseconds `collect()` waits for the workers' flush replies. A worker that misses it never fails the
   * scrape: its data is one flush period old, and later collects do not wait for it until it speaks again.
   * Default 1000.
   */
  readonly timeoutMs?: number;
  /** Track node:cluster workers (`cluster.on('message' | 'exit')`). Default true. */
  readonly cluster?: boolean;
}

/** What one `collect()` saw. */
export interface CollectResult {
  /** Workers connected when the collect began. */
  readonly workers: number;
  /** Workers whose flush reply was applied before the timeout. */
  readonly answered: number;
  /** Workers asked that did not answer in time. */
  readonly timedOut: number;
}

/** Longest run of applying deltas before the primary's event loop gets a turn. */
const SLICE_MS = 4;

const KNOWN_OPTIONS = ['timeoutMs', 'cluster'];

/** A worker's message waiting to be applied, or the mark that it left once what it sent before is applied. */
type QueueItem =
  | { readonly connection: WorkerConnection; readonly message: DeltaMessage; steps?: Generator<void> }
  | { readonly connection: WorkerConnection; readonly message: undefined };

/**
 * The primary's half: receives the workers' deltas and merges them into the primary's own Telemeter, so
 * `/metrics` on the primary shows the whole application. Counters, sums and histogram buckets add up;
 * summaries merge their sketches (quantiles of the merged observations, never a sum of quantiles); last
 * values follow the Telemeter's `gaugeAggregation`. Totals live in the primary: a worker that exits or
 * crashes keeps what it had sent, and no total goes down while the primary lives.
 *
 * It is a render source: pass it to `serveMetrics`/`metricsHandler` like a Telemeter, and call (or let the
 * server call) `collect()` before rendering for up-to-date values.
 */
export class ClusterAggregator {
  private readonly connections = new Map<string, WorkerConnection>();
  private readonly slots = new Set<number>();
  private readonly target: MergeTarget;
  private readonly queue: QueueItem[] = [];
  private draining = false;
  private collecting: Promise<CollectResult> | undefined;
  private flushSequence = 0;
  private sessionSequence = Math.floor(Math.random() * 1_000_000) * 1000;
  private readonly cleanups: Array<() => void> = [];
  private closed = false;
  /** `telemeter_cluster_workers`, kept current as workers come and go (undefined without self-metrics). */
  private readonly workersGauge: SeriesHandle | undefined;

  /** @internal use {@link startClusterPrimary}. */
  constructor(
    /** The primary's Telemeter, holding the merged totals. */
    readonly telemeter: Telemeter,
    private readonly shape: ClusterShape,
    private readonly timeoutMs: number,
    trackCluster: boolean,
  ) {
    this.target = mergeTargetFor(telemeter, shape.gaugeAggregation, (family) => this.contributions(family));
    this.workersGauge = telemeter.metricFamilies.some((f) => f.name === 'telemeter_cluster_workers')
      ? telemeter.bind('telemeter.cluster.workers')
      : undefined;
    if (trackCluster && cluster.isPrimary) this.trackCluster();
  }

  /**
   * Workers whose exporter is connected. A worker that stops, exits or disconnects counts until everything it
   * sent before is merged.
   */
  get workers(): number {
    return this.connections.size;
  }

  /**
   * Tracks a worker thread: its exporter (`startClusterWorker` inside it) connects through its first message.
   * Call it right after `new Worker(...)`, in the same tick, so that message cannot arrive unheard.
   *
   * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` when `worker` is not a worker_threads Worker.
   */
  addWorkerThread(worker: ThreadWorker): void {
    if (typeof worker?.on !== 'function' || typeof worker.threadId !== 'number') {
      throw new TelemeterTypeError(
        'ERR_TELEMETER_INVALID_ARGUMENT',
        `telemeter/cluster: addWorkerThread needs a worker_threads Worker, got ${describe(worker)}`,
      );
    }
    // threadId turns -1 once the thread has exited: fix the key now.
    const key = `thread:${worker.threadId}`;
    const onMessage = (message: unknown) => {
      if (messageType(message) !== 'hello' || !this.acceptsVersion(message)) return;
      const port = (message as { port?: unknown }).port;
      if (!(port instanceof MessagePort)) return;
      const connection = this.connect(key, (m) => port.postMessage(m));
      port.on('message', (m: unknown) => this.receive(connection, m));
      port.on('close', () => this.leave(connection));
      port.unref();
    };
    const onExit = () => {
      worker.off('message', onMessage);
      const connection = this.connections.get(key);
      if (connection !== undefined) this.leave(connection);
    };
    worker.on('message', onMessage);
    worker.once('exit', onExit);
    this.cleanups.push(() => {
      worker.off('message', onMessage);
      worker.off('exit', onExit);
    });
  }

  /**
   * Asks every responsive worker to flush, and resolves once their replies are applied or `timeoutMs`
   * has passed, whichever comes first. Concurrent calls share one round. Never rejects.
   */
  collect(): Promise<CollectResult> {
    this.collecting ??= this.collectRound().finally(() => {
      this.collecting = undefined;
    });
    return this.collecting;
  }

  /** Renders the merged metrics as they are now (call `collect()` first for fresh values). */
  render(options: ScrapeOptions = {}): Generator<string> {
    return this.telemeter.render(options);
  }

  /** Encodes the merged metrics in the Prometheus protobuf exposition, as they are now (see `Telemeter.renderProtobuf`). */
  renderProtobuf(): Generator<Uint8Array> {
    return this.telemeter.renderProtobuf();
  }

  /** Collects, then renders the merged metrics as one string. */
  async scrape(options: ScrapeOptions = {}): Promise<string> {
    await this.collect();
    return this.telemeter.scrape(options);
  }

  /**
   * Stops listening to workers. Merged values stay in the Telemeter (it is not closed); workers keep
   * recording, and would reconnect to a new aggregator.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const cleanup of this.cleanups) cleanup();
    for (const [key, connection] of [...this.connections]) this.retire(key, connection);
  }

  private trackCluster(): void {
    const onMessage = (worker: ClusterWorkerHandle, message: unknown) => {
      const type = messageType(message);
      if (type === undefined) return;
      const key = `cluster:${worker.id}`;
      if (type === 'hello') {
        if (this.acceptsVersion(message)) this.connect(key, (m) => sendToClusterWorker(worker, m));
        return;
      }
      this.receive(this.connections.get(key), message);
    };
    const onGone = (worker: ClusterWorkerHandle) => {
      const connection = this.connections.get(`cluster:${worker.id}`);
      if (connection !== undefined) this.leave(connection);
    };
    // A worker that exits right after its last send can be reaped before the IPC channel is read to its end:
    // its last messages would arrive after it left. 'disconnect' always comes after them.
    const onExit = (worker: ClusterWorkerHandle) => {
      if (!worker.isConnected()) onGone(worker);
    };
    cluster.on('message', onMessage);
    cluster.on('exit', onExit);
    cluster.on('disconnect', onGone);
    this.cleanups.push(() => {
      cluster.off('message', onMessage);
      cluster.off('exit', onExit);
      cluster.off('disconnect', onGone);
    });
    // Workers started before this aggregator said hello to nobody: ask them again.
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker !== undefined) sendToClusterWorker(worker, { [MESSAGE_KEY]: 'probe' });
    }
  }

  private acceptsVersion(message: unknown): boolean {
    const version = (message as { version?: unknown }).version;
    if (version === PROTOCOL_VERSION) return true;
    this.telemeter.logger.warnOnce(
      `cluster:version:${String(version)}`,
      {},
      `telemeter/cluster: a worker speaks protocol version ${describe(version)}, this primary ${PROTOCOL_VERSION}; its metrics are ignored. Use one telemeter version in primary and workers`,
    );
    return false;
  }

  private connect(key: string, post: (message: PrimaryMessage) => void): WorkerConnection {
    const previous = this.connections.get(key);
    let label: string;
    if (previous !== undefined) {
      label = previous.label;
      this.retire(key, previous, false);
    } else {
      label = this.takeSlot();
    }
    const connection = new WorkerConnection(key, label, ++this.sessionSequence, post, this.target);
    this.connections.set(key, connection);
    this.workersGauge?.record(this.connections.size);
    connection.send({
      [MESSAGE_KEY]: 'welcome',
      version: PROTOCOL_VERSION,
      session: connection.session,
      worker: label,
    });
    return connection;
  }

  /**
   * A worker stopped, exited or disconnected: stop waiting for its flush replies now, and retire it once what it
   * sent before is applied, so `workers` counts it until its last delta is merged.
   */
  private leave(connection: WorkerConnection): void {
    if (this.connections.get(connection.key) !== connection || connection.leaving) return;
    connection.leaving = true;
    connection.settle();
    if (this.queue.some((item) => item.connection === connection)) {
      this.queue.push({ connection, message: undefined });
    } else {
      this.retire(connection.key, connection);
    }
  }

  /** A worker is gone: stop waiting for it, free its label, take its last values out of sum/max/min. */
  private retire(key: string, connection: WorkerConnection, freeSlot = true): void {
    if (this.connections.get(key) !== connection) return;
    this.connections.delete(key);
    this.workersGauge?.record(this.connections.size);
    connection.live = false;
    connection.settle();
    if (freeSlot) this.slots.delete(Number(connection.label));
    const merger = this.target.merger;
    if (merger !== undefined) {
      for (const [family, series] of [...connection.applier.gaugeSeries()]) merger.update(family, series);
    }
  }

  /** The smallest free worker label, so a replaced worker's series are reused instead of piling up. */
  private takeSlot(): string {
    let slot = 0;
    while (this.slots.has(slot)) slot++;
    this.slots.add(slot);
    return String(slot);
  }

  private *contributions(family: ScalarMerge): Generator<GaugeContributions> {
    for (const connection of this.connections.values()) {
      const values = connection.applier.contributions(family);
      if (values !== undefined) yield values;
    }
  }

  private receive(connection: WorkerConnection | undefined, message: unknown): void {
    if (connection === undefined || this.closed) return;
    const type = messageType(message);
    if (type === 'bye') {
      if ((message as ByeMessage).session === connection.session) this.leave(connection);
      return;
    }
    if (type !== 'delta') return;
    const delta = message as DeltaMessage;
    if (delta.session !== connection.session) return;
    connection.responsive = true;
    this.queue.push({ connection, message: delta });
    if (!this.draining) {
      this.draining = true;
      setImmediate(this.drain);
    }
  }

  /**
   * Applies queued messages in slices of about {@link SLICE_MS}, giving the event loop a turn between
   * slices; a message that announces many new series is itself applied across slices.
   */
  private readonly drain = (): void => {
    const deadline = performance.now() + SLICE_MS;
    while (this.queue.length > 0) {
      const item = this.queue[0];
      if (item.message === undefined) {
        this.queue.shift();
        this.retire(item.connection.key, item.connection);
        continue;
      }
      item.steps ??= item.connection.applier.applySteps(item.message.families);
      let done = false;
      try {
        for (;;) {
          done = item.steps.next().done === true;
          if (done || performance.now() >= deadline) break;
        }
      } catch (error) {
        this.telemeter.logger.errorOnce(
          'cluster:apply',
          { err: error },
          'telemeter/cluster: applying a worker’s metrics failed',
        );
        done = true;
      }
      if (!done) break;
      this.queue.shift();
      item.connection.applied(item.message.flush);
      if (typeof item.message.seq === 'number') {
        item.connection.send({
          [MESSAGE_KEY]: 'ack',
          session: item.connection.session,
          seq: item.message.seq,
        });
      }
      if (performance.now() >= deadline) break;
    }
    if (this.queue.length > 0) setImmediate(this.drain);
    else this.draining = false;
  };

  private async collectRound(): Promise<CollectResult> {
    const started = monotonicTime();
    const workers = this.connections.size;
    const id = ++this.flushSequence;
    const asked = [...this.connections.values()].filter((c) => c.responsive && !c.leaving);
    const replies = Promise.all(asked.map((c) => c.requestFlush(id)));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.timeoutMs);
    });
    await Promise.race([replies, deadline]);
    clearTimeout(timer);
    let timedOut = 0;
    for (const connection of asked) {
      if (connection.awaits(id)) {
        connection.responsive = false;
        connection.settle();
        timedOut++;
      }
    }
    execute(
      COLLECT_STOP_EVENT,
      { duration: monotonicTime() - started, workers: this.connections.size, timeouts: timedOut },
      { aggregator: this.shape.collectId },
    );
    return { workers, answered: asked.length - timedOut, timedOut };
  }
}

function sendToClusterWorker(worker: ClusterWorkerHandle, message: PrimaryMessage): void {
  if (!worker.isConnected()) return;
  // With a callback, a channel that closes meanwhile reports to it instead of emitting 'error'.
  worker.send(message, () => {});
}

/**
 * Starts merging the workers' metrics into `telemeter`, the primary's Telemeter built by
 * `clusterTelemeter(options)` with the workers' metric definitions. Tracks node:cluster workers at once
 * (those already forked too); add worker threads with `aggregator.addWorkerThread(worker)`.
 *
 * ```ts
 * import cluster, { type Worker } from 'node:cluster';
 * import { once } from 'node:events';
 * import { counter, execute, Telemeter } from 'telemeter';
 * import { clusterTelemeter, startClusterPrimary, startClusterWorker } from 'telemeter/cluster';
 *
 * const metrics = [counter('jobs.done.count', { eventName: 'jobs.done', measurement: 'n' })];
 * if (cluster.isPrimary) {
 *   const aggregator = startClusterPrimary(clusterTelemeter({ metrics }));
 *   const workers = Array.from({ length: 4 }, () => cluster.fork());
 *   const recorded = (worker: Worker) =>
 *     new Promise((resolve) => worker.on('message', (message) => message === 'recorded' && resolve(worker)));
 *   await Promise.all(workers.map(recorded));
 *   const body = await aggregator.scrape(); // collect, then render
 *   console.log(body.match(/^jobs_done_count_total .*$/m)?.[0]); //=> jobs_done_count_total 4
 *   cluster.disconnect();
 *   aggregator.close();
 * } else {
 *   startClusterWorker(new Telemeter({ metrics }));
 *   execute('jobs.done', { n: 1 });
 *   process.send?.('recorded');
 *   await once(process, 'disconnect');
 * }
 * ```
 *
 * @throws TelemeterTypeError `ERR_TELEMETER_INVALID_ARGUMENT` when `telemeter` was not built by
 *   `clusterTelemeter`; `ERR_TELEMETER_INVALID_OPTION` or `ERR_TELEMETER_UNKNOWN_OPTION` naming the option.
 */
export function startClusterPrimary(
  telemeter: Telemeter,
  options: ClusterPrimaryOptions = {},
): ClusterAggregator {
  const shape = telemeter instanceof Telemeter ? clusterShapeOf(telemeter) : undefined;
  if (shape === undefined) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_ARGUMENT',
      'telemeter/cluster: startClusterPrimary needs the primary’s Telemeter built by clusterTelemeter(options), with the workers’ metric definitions',
    );
  }
  checkOptionKeys('telemeter/cluster: startClusterPrimary', options, KNOWN_OPTIONS);
  const { timeoutMs = 1000, cluster: trackCluster = true } = options;
  if (!(Number.isInteger(timeoutMs) && timeoutMs >= 1 && timeoutMs <= 60_000)) {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_OPTION',
      `telemeter/cluster: startClusterPrimary: option timeoutMs must be an integer from 1 to 60000 (ms), got ${describe(timeoutMs)}`,
    );
  }
  if (typeof trackCluster !== 'boolean') {
    throw new TelemeterTypeError(
      'ERR_TELEMETER_INVALID_OPTION',
      `telemeter/cluster: startClusterPrimary: option cluster must be a boolean, got ${describe(trackCluster)}`,
    );
  }
  return new ClusterAggregator(telemeter, shape, timeoutMs, trackCluster);
}
