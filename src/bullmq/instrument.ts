import { invalidOption } from '../errors.js';
import { execute, hasHandlers, type Metadata, monotonicTime, systemTime } from '../events/index.js';
import { processLog } from '../logger.js';
import { checkOptionKeys } from '../options.js';
import {
  BULLMQ_JOB_STATES,
  type BullmqEventNames,
  type BullmqJobOutcome,
  bullmqEventNames,
  eventPrefixOption,
} from './job-events.js';

/** What telemeter uses of a BullMQ `Worker`: its queue name and its events. Any `Worker` of bullmq ≥ 5 fits. */
export interface BullmqWorkerLike {
  readonly name: string;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

/** What telemeter uses of a BullMQ `Queue`: its name and one `getJobCounts()` call per poll. */
export interface BullmqQueueLike {
  readonly name: string;
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}

/** Options of {@link instrumentBullmq}. */
export interface BullmqInstrumentationOptions {
  /** Workers whose jobs emit the job events (only jobs this process runs; see docs/bullmq.md). */
  readonly workers?: readonly BullmqWorkerLike[];
  /** Queues whose depth by state is polled: one `getJobCounts()` call per queue per poll. */
  readonly queues?: readonly BullmqQueueLike[];
  /** Milliseconds between two polls of the queues. Default 15000, at least 100. */
  readonly pollInterval?: number;
  /** Prefix of the events, default `bullmq`. Pass the same prefix to `bullmqMetrics`. */
  readonly eventPrefix?: string;
}

/** What {@link instrumentBullmq} returns. */
export interface BullmqInstrumentation {
  /** Removes every listener and stops the poller. Idempotent. */
  stop(): void;
  /** Polls every queue now, and resolves when each has answered or failed (also what a timer tick does). */
  poll(): Promise<void>;
}

const KNOWN_OPTIONS = new Set(['workers', 'queues', 'pollInterval', 'eventPrefix']);
const DEFAULT_POLL_INTERVAL = 15_000;
const MS_TO_NS = 1e6;

/**
 * Listens to the given BullMQ workers and polls the given queues, emitting telemeter events; patches nothing.
 *
 * - `bullmq.job.start` when a worker takes a job: `{ system_time, monotonic_time, wait_time? }`, where
 *   `wait_time` (native ns) is `processedOn − timestamp − delay` of a first attempt: how long the job waited
 *   for a worker once it could run (a retry's wait would count earlier attempts and backoff, so it has none).
 * - `bullmq.job.stop` when the attempt settles: `{ duration, monotonic_time }` (the processing time, native ns),
 *   metadata `outcome` `completed`, `retried` (it failed and BullMQ will try again) or `failed` (final), and
 *   `error_type`; a failed attempt first emits `bullmq.job.exception` with `kind`, `reason`, `stacktrace`.
 * - `bullmq.job.stalled` `{ count: 1 }` when a worker moves a job whose lock expired back to wait.
 * - `bullmq.queue.jobs` `{ count }` per queue and state (every state of {@link BULLMQ_JOB_STATES}, zero-filled)
 *   at every poll; the first poll runs at once.
 *
 * Metadata of the job events: `messaging_system`, `messaging_operation_name`, `messaging_destination_name`,
 * `queue`, `name` (the job name), `attempt`, `job`. A listener never throws into BullMQ, and a poll that fails
 * (Redis down) skips that queue until the next tick.
 *
 * @throws TelemeterTypeError at start-up, naming the option: `ERR_TELEMETER_UNKNOWN_OPTION` or
 *   `ERR_TELEMETER_INVALID_OPTION` (a worker without `on`/`off`, a queue without `getJobCounts`, a bad interval).
 */
export function instrumentBullmq(options: BullmqInstrumentationOptions = {}): BullmqInstrumentation {
  const where = 'telemeter/bullmq: instrumentBullmq';
  checkOptionKeys(where, options, KNOWN_OPTIONS);
  const fail = (option: string, why: string): never => invalidOption(`${where}: option ${option} ${why}`);
  const names = bullmqEventNames(eventPrefixOption(where, options.eventPrefix));
  const workers = options.workers ?? [];
  if (!Array.isArray(workers)) fail('workers', 'must be an array of BullMQ Workers');
  workers.forEach((worker, i) => {
    if (
      typeof worker !== 'object' ||
      worker === null ||
      typeof worker.on !== 'function' ||
      typeof worker.off !== 'function'
    ) {
      fail(`workers[${i}]`, 'must be a BullMQ Worker (an object with on() and off())');
    }
  });
  const queues = options.queues ?? [];
  if (!Array.isArray(queues)) fail('queues', 'must be an array of BullMQ Queues');
  queues.forEach((queue, i) => {
    if (typeof queue !== 'object' || queue === null || typeof queue.getJobCounts !== 'function') {
      fail(`queues[${i}]`, 'must be a BullMQ Queue (an object with getJobCounts())');
    }
  });
  const interval = options.pollInterval ?? DEFAULT_POLL_INTERVAL;
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 100) {
    fail('pollInterval', `must be a number of milliseconds >= 100, got ${String(interval)}`);
  }

  const detachers = workers.map((worker) => listen(worker, names));
  const poller = new QueuePoller(queues, names.queueJobs);
  const timer = queues.length === 0 ? undefined : setInterval(() => void poller.poll(), interval);
  timer?.unref();
  if (queues.length > 0) void poller.poll();
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer !== undefined) clearInterval(timer);
      poller.stopped = true;
      for (const detach of detachers) detach();
    },
    poll: () => poller.poll(),
  };
}

/** The fields of a BullMQ `Job` read here; any of them may be missing on a hostile or future object. */
interface JobFields {
  id?: unknown;
  name?: unknown;
  queueName?: unknown;
  timestamp?: unknown;
  processedOn?: unknown;
  finishedOn?: unknown;
  attemptsStarted?: unknown;
  attemptsMade?: unknown;
  opts?: { delay?: unknown } | null;
}

/** An attempt in flight: when it started, and the metadata its start event carried. */
interface Attempt {
  readonly startTime: number;
  readonly metadata: ReturnType<typeof jobMetadata>;
}

/** Subscribes to one worker; returns the function that unsubscribes. */
function listen(worker: BullmqWorkerLike, names: BullmqEventNames): () => void {
  const fallbackQueue = safeString(() => worker.name);
  // BullMQ hands the same Job object to `active` and to `completed`/`failed` of one attempt, so the attempt is
  // found by identity: no key to build per job, and an attempt that never settles here (a lost lock, a worker
  // closed with `force`) is collected with its Job.
  let attempts = new WeakMap<object, Attempt>();

  const onActive = (job: JobFields) => {
    try {
      const metadata = jobMetadata(job, fallbackQueue);
      const now = monotonicTime();
      attempts.set(job, { startTime: now, metadata });
      if (!hasHandlers(names.start)) return;
      const measurements: Record<string, number> = { system_time: systemTime(), monotonic_time: now };
      const wait = waitTime(job, metadata.attempt);
      if (wait !== undefined) measurements.wait_time = wait;
      execute(names.start, measurements, metadata);
    } catch {
      // A listener must never throw into the worker's event emitter.
    }
  };

  const settle = (job: JobFields, outcome: BullmqJobOutcome, error: unknown) => {
    const attempt = attempts.get(job);
    attempts.delete(job);
    const now = monotonicTime();
    // Attached after the attempt started: BullMQ's own timestamps, to the millisecond.
    const duration =
      attempt !== undefined ? now - attempt.startTime : msSpan(job.processedOn, job.finishedOn ?? Date.now());
    if (duration === undefined) return;
    const metadata = attempt?.metadata ?? jobMetadata(job, fallbackQueue);
    const errorType = outcome === 'completed' ? '' : errorTypeOf(error);
    const measurements = { duration, monotonic_time: now };
    if (outcome !== 'completed' && hasHandlers(names.exception)) {
      execute(names.exception, measurements, {
        ...metadata,
        error_type: errorType,
        kind: error instanceof Error ? 'error' : 'throw',
        reason: error,
        stacktrace: error instanceof Error ? error.stack : undefined,
      });
    }
    execute(names.stop, measurements, { ...metadata, outcome, error_type: errorType });
  };

  const onCompleted = (job: JobFields) => {
    try {
      settle(job, 'completed', undefined);
    } catch {
      // Never into the worker.
    }
  };

  const onFailed = (job: JobFields | undefined, error: unknown) => {
    try {
      // `failed` without a job: BullMQ could not read it back; there is no attempt to close.
      if (typeof job !== 'object' || job === null) return;
      // BullMQ sets finishedOn only when it moves a job to the failed set for good; a retried attempt has none.
      const final = typeof job.finishedOn === 'number' && job.finishedOn > 0;
      settle(job, final ? 'failed' : 'retried', error);
    } catch {
      // Never into the worker.
    }
  };

  const onStalled = (jobId: unknown) => {
    try {
      const queue = fallbackQueue;
      execute(
        names.stalled,
        { count: 1 },
        {
          queue,
          messaging_system: 'bullmq',
          messaging_destination_name: queue,
          job_id: typeof jobId === 'string' ? jobId : String(jobId),
        },
      );
    } catch {
      // Never into the worker.
    }
  };

  const listeners: Array<[string, (...args: any[]) => void]> = [
    ['active', onActive],
    ['completed', onCompleted],
    ['failed', onFailed],
    ['stalled', onStalled],
  ];
  for (const [event, listener] of listeners) worker.on(event, listener);
  return () => {
    for (const [event, listener] of listeners) {
      try {
        worker.off(event, listener);
      } catch {
        // A worker that cannot remove a listener: nothing else to do.
      }
    }
    attempts = new WeakMap();
  };
}

function jobMetadata(job: JobFields, fallbackQueue: string) {
  const queue = typeof job.queueName === 'string' ? job.queueName : fallbackQueue;
  const attempt =
    typeof job.attemptsStarted === 'number' && job.attemptsStarted > 0
      ? job.attemptsStarted
      : (typeof job.attemptsMade === 'number' ? job.attemptsMade : 0) + 1;
  return {
    messaging_system: 'bullmq' as const,
    messaging_operation_name: 'process' as const,
    messaging_destination_name: queue,
    queue,
    name: typeof job.name === 'string' ? job.name : '',
    attempt,
    job,
  };
}

/** `processedOn − timestamp − delay` in ns, for a first attempt only; undefined when unknown. */
function waitTime(job: JobFields, attempt: number): number | undefined {
  if (attempt !== 1) return undefined;
  const delay = typeof job.opts?.delay === 'number' && job.opts.delay > 0 ? job.opts.delay : 0;
  const since = typeof job.timestamp === 'number' ? job.timestamp + delay : undefined;
  return msSpan(since, job.processedOn);
}

/** `to − from` (epoch ms) in ns, at least 0; undefined unless both are finite numbers. */
function msSpan(from: unknown, to: unknown): number | undefined {
  if (typeof from !== 'number' || typeof to !== 'number' || !Number.isFinite(from) || !Number.isFinite(to)) {
    return undefined;
  }
  return Math.max(0, to - from) * MS_TO_NS;
}

/** OpenTelemetry's `error.type`: the error's class name, `_OTHER` for a thrown non-error. */
function errorTypeOf(error: unknown): string {
  if (error instanceof Error)
    return typeof error.name === 'string' && error.name !== '' ? error.name : 'Error';
  return '_OTHER';
}

function safeString(read: () => unknown): string {
  try {
    const value = read();
    return typeof value === 'string' ? value : '';
  } catch {
    return '';
  }
}

/** Reads each queue's depth by state, one `getJobCounts()` call per queue, and emits one event per state. */
class QueuePoller {
  stopped = false;
  private readonly inFlight = new Map<BullmqQueueLike, Promise<void>>();

  constructor(
    private readonly queues: readonly BullmqQueueLike[],
    private readonly eventName: string,
  ) {}

  async poll(): Promise<void> {
    await Promise.all(this.queues.map((queue) => this.pollQueue(queue)));
  }

  private pollQueue(queue: BullmqQueueLike): Promise<void> {
    if (this.stopped) return Promise.resolve();
    // A slow Redis must not stack calls for the same queue: a poll due while one runs shares its answer.
    let reading = this.inFlight.get(queue);
    if (reading === undefined) {
      reading = this.read(queue).finally(() => this.inFlight.delete(queue));
      this.inFlight.set(queue, reading);
    }
    return reading;
  }

  private async read(queue: BullmqQueueLike): Promise<void> {
    try {
      const counts = await queue.getJobCounts(...BULLMQ_JOB_STATES);
      if (this.stopped) return;
      const name = safeString(() => queue.name);
      for (const state of BULLMQ_JOB_STATES) {
        const count = typeof counts?.[state] === 'number' ? counts[state] : 0;
        const metadata: Metadata = { queue: name, state };
        execute(this.eventName, { count }, metadata);
      }
    } catch (error) {
      // Redis unreachable or the queue closed: this queue has no reading this time, and its gauge keeps the last
      // one, so say once why it stopped moving.
      const name = safeString(() => queue.name);
      processLog.warnOnce(
        `bullmq-poll:${name}`,
        { err: error, queue: name },
        `telemeter/bullmq: reading the depth of queue "${name}" failed; its bullmq_queue_jobs keeps the last reading`,
      );
    }
  }
}
