/**
 * `telemeter/bullmq` against a real Redis and real BullMQ workers: jobs that complete, fail, retry and stall,
 * counted exactly; the depth gauge equal to `getJobCounts()`; hostile input that never throws into BullMQ;
 * and `stop()` leaving nothing attached. Every test uses its own key prefix, deleted afterwards.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { type BullmqInstrumentation, bullmqMetrics, instrumentBullmq } from '../../src/bullmq/index.js';
import { attachMany, detach } from '../../src/events/index.js';
import { setLogger, Telemeter } from '../../src/index.js';
import { sample, samples } from '../support/samples.js';
import { REDIS_PORT, requireRedis } from '../support/tools.js';

const hasRedis = await requireRedis();
const REDIS_HOST = '127.0.0.1';
const connection = { host: REDIS_HOST, port: REDIS_PORT, maxRetriesPerRequest: null };

describe.skipIf(!hasRedis)('instrumentBullmq with real BullMQ workers', () => {
  const closers: Array<() => Promise<unknown> | unknown> = [];
  const prefixes: string[] = [];
  const admin = hasRedis ? new Redis({ host: REDIS_HOST, port: REDIS_PORT }) : undefined;

  /** A fresh prefix; its keys are deleted after the test. */
  function prefix(): string {
    const value = `telemeter-test-${randomUUID()}`;
    prefixes.push(value);
    return value;
  }
  function later<T>(close: () => Promise<unknown> | unknown, value: T): T {
    closers.push(close);
    return value;
  }

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    for (const p of prefixes.splice(0)) {
      const keys = await admin!.keys(`${p}:*`);
      if (keys.length > 0) await admin!.del(...keys);
    }
  });
  afterAll(async () => {
    await admin?.quit();
  });

  /** Resolves once `count` attempts have settled on `worker` (completed or failed). */
  function settled(worker: Worker, count: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let seen = 0;
      const timer = setTimeout(() => reject(new Error(`only ${seen} of ${count} attempts settled`)), 15_000);
      const tick = () => {
        if (++seen === count) {
          clearTimeout(timer);
          resolve();
        }
      };
      worker.on('completed', tick);
      worker.on('failed', tick);
    });
  }

  it('counts completed, retried and failed attempts exactly, by queue, job name and outcome', async () => {
    const telemeter: Telemeter = later(() => telemeter.close(), new Telemeter({ metrics: bullmqMetrics() }));
    const p = prefix();
    const queue: Queue = later(() => queue.close(), new Queue('mail', { connection, prefix: p }));
    const worker: Worker = later(
      () => worker.close(),
      new Worker(
        'mail',
        async (job: Job) => {
          if (job.name === 'flaky' && job.attemptsMade === 0) throw new Error('first try fails');
          if (job.name === 'broken') throw new TypeError('always fails');
          if (job.name === 'fatal') throw new UnrecoverableError('never retry');
          return 'ok';
        },
        { connection, prefix: p, autorun: false, concurrency: 4 },
      ),
    );
    const instrumentation: BullmqInstrumentation = later(
      () => instrumentation.stop(),
      instrumentBullmq({ workers: [worker] }),
    );
    for (let i = 0; i < 5; i++) await queue.add('send', { i });
    await queue.add('flaky', {}, { attempts: 3 });
    await queue.add('broken', {}, { attempts: 2 });
    await queue.add('fatal', {}, { attempts: 5 });
    // 5 sends, flaky twice, broken twice, fatal once.
    const done = settled(worker, 10);
    void worker.run();
    await done;

    const body = telemeter.scrape();
    const jobs = (name: string, outcome: string) =>
      sample(body, `bullmq_jobs_total{name="${name}",outcome="${outcome}",queue="mail"}`);
    expect(jobs('send', 'completed')).toBe(5);
    expect(jobs('flaky', 'retried')).toBe(1);
    expect(jobs('flaky', 'completed')).toBe(1);
    expect(jobs('broken', 'retried')).toBe(1);
    expect(jobs('broken', 'failed')).toBe(1);
    expect(jobs('fatal', 'failed')).toBe(1);
    const series = [...samples(body).keys()].filter((s) => s.startsWith('bullmq_jobs_total{'));
    expect(series).toHaveLength(6);

    const consumed =
      'messaging_client_consumed_messages_total{messaging_destination_name="mail",messaging_operation_name="process",messaging_system="bullmq"}';
    expect(sample(body, consumed)).toBe(10);
    const duration = (errorType: string) =>
      sample(
        body,
        `messaging_process_duration_seconds_count{error_type="${errorType}",messaging_destination_name="mail",messaging_operation_name="process",messaging_system="bullmq"}`,
      );
    expect(duration('')).toBe(6);
    expect(duration('Error')).toBe(1);
    expect(duration('TypeError')).toBe(2);
    expect(duration('UnrecoverableError')).toBe(1);
    // Wait time: first attempts only (8 jobs), each job name apart.
    expect(sample(body, 'bullmq_job_wait_time_seconds_count{name="send",queue="mail"}')).toBe(5);
    expect(sample(body, 'bullmq_job_wait_time_seconds_count{name="flaky",queue="mail"}')).toBe(1);
    expect(sample(body, 'bullmq_job_wait_time_seconds_sum{name="send",queue="mail"}')).toBeGreaterThan(0);
    expect(body).not.toMatch(/telemeter_dropped_events_total\{metric="(bullmq|messaging)/);
  });

  it('emits exception before stop for a failed attempt, with the error and the attempt number', async () => {
    const p = prefix();
    const queue: Queue = later(() => queue.close(), new Queue('img', { connection, prefix: p }));
    const worker: Worker = later(
      () => worker.close(),
      new Worker(
        'img',
        async (): Promise<unknown> => {
          throw new RangeError('too big');
        },
        { connection, prefix: p, autorun: false },
      ),
    );
    const instrumentation: BullmqInstrumentation = later(
      () => instrumentation.stop(),
      instrumentBullmq({ workers: [worker] }),
    );
    const seen: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [];
    const id = `test-${randomUUID()}`;
    attachMany(id, ['bullmq.job.start', 'bullmq.job.exception', 'bullmq.job.stop'], (event, m, md) => {
      seen.push([event, m, md]);
    });
    later(() => detach(id), undefined);
    await queue.add('resize', {}, { attempts: 2 });
    const done = settled(worker, 2);
    void worker.run();
    await done;
    expect(seen.map(([event, , md]) => `${event} ${md.attempt} ${md.outcome ?? ''}`)).toEqual([
      'bullmq.job.start 1 ',
      'bullmq.job.exception 1 ',
      'bullmq.job.stop 1 retried',
      'bullmq.job.start 2 ',
      'bullmq.job.exception 2 ',
      'bullmq.job.stop 2 failed',
    ]);
    const [, exceptionMeasurements, exception] = seen[1];
    expect(exception.reason).toBeInstanceOf(RangeError);
    expect(exception.error_type).toBe('RangeError');
    expect(exception.kind).toBe('error');
    expect(exceptionMeasurements.duration).toBeGreaterThan(0);
    expect(Number.isInteger(exceptionMeasurements.duration)).toBe(true);
    expect(seen[0][1].wait_time).toBeGreaterThanOrEqual(0);
    expect(seen[3][1]).not.toHaveProperty('wait_time');
  });

  it('counts a stalled job once: its worker stopped renewing the lock, another moved it back and ran it', async () => {
    const telemeter: Telemeter = later(() => telemeter.close(), new Telemeter({ metrics: bullmqMetrics() }));
    const p = prefix();
    const queue: Queue = later(() => queue.close(), new Queue('report', { connection, prefix: p }));
    let release: () => void = () => {};
    const hung = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Worker A takes the job and never renews its lock (skipLockRenewal), as a worker whose process was
    // killed or whose event loop is blocked: its lock expires after lockDuration.
    const stuck = new Worker('report', () => hung, {
      connection,
      prefix: p,
      autorun: false,
      lockDuration: 500,
      skipLockRenewal: true,
      skipStalledCheck: true,
    });
    closers.push(async () => {
      release();
      await stuck.close(true);
    });
    await queue.add('monthly', {});
    const taken = once(stuck, 'active');
    void stuck.run();
    await taken;

    // Worker B, instrumented, checks for stalled jobs every 300 ms, finds it, and then runs it.
    const healthy: Worker = later(
      () => healthy.close(),
      new Worker('report', async () => 'done', {
        connection,
        prefix: p,
        autorun: false,
        stalledInterval: 300,
        maxStalledCount: 1,
      }),
    );
    const instrumentation: BullmqInstrumentation = later(
      () => instrumentation.stop(),
      instrumentBullmq({ workers: [healthy] }),
    );
    const stalled = once(healthy, 'stalled');
    const done = settled(healthy, 1);
    void healthy.run();
    await stalled;
    await done;

    const body = telemeter.scrape();
    expect(sample(body, 'bullmq_stalled_jobs_total{queue="report"}')).toBe(1);
    expect(sample(body, 'bullmq_jobs_total{name="monthly",outcome="completed",queue="report"}')).toBe(1);
  });

  it('counts a job that stalled more than maxStalledCount times as failed for good, with UnrecoverableError', async () => {
    const telemeter: Telemeter = later(() => telemeter.close(), new Telemeter({ metrics: bullmqMetrics() }));
    const p = prefix();
    const queue: Queue = later(() => queue.close(), new Queue('report', { connection, prefix: p }));
    let release: () => void = () => {};
    const hung = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Worker A takes the job and never renews its lock (skipLockRenewal), as a worker whose process was
    // killed or whose event loop is blocked: its lock expires after lockDuration.
    const stuck = new Worker('report', () => hung, {
      connection,
      prefix: p,
      autorun: false,
      lockDuration: 500,
      skipLockRenewal: true,
      skipStalledCheck: true,
    });
    closers.push(async () => {
      release();
      await stuck.close(true);
    });
    await queue.add('monthly', {});
    const taken = once(stuck, 'active');
    void stuck.run();
    await taken;

    // Worker B, instrumented, checks for stalled jobs every 300 ms, finds it, and then runs it.
    const healthy: Worker = later(
      () => healthy.close(),
      new Worker('report', async () => 'done', {
        connection,
        prefix: p,
        autorun: false,
        stalledInterval: 300,
        maxStalledCount: 0,
      }),
    );
    const instrumentation: BullmqInstrumentation = later(
      () => instrumentation.stop(),
      instrumentBullmq({ workers: [healthy] }),
    );
    const stalled = once(healthy, 'stalled');
    const done = settled(healthy, 1);
    void healthy.run();
    await stalled;
    await done;

    const body = telemeter.scrape();
    expect(sample(body, 'bullmq_stalled_jobs_total{queue="report"}')).toBe(1);
    // BullMQ 6 puts it back in wait marked to fail; the worker that takes it next fails it without running it.
    expect(sample(body, 'bullmq_jobs_total{name="monthly",outcome="failed",queue="report"}')).toBe(1);
    expect(body).not.toContain('outcome="completed"');
    expect(
      sample(
        body,
        'messaging_process_duration_seconds_count{error_type="UnrecoverableError",messaging_destination_name="report",messaging_operation_name="process",messaging_system="bullmq"}',
      ),
    ).toBe(1);
  });

  it('reports the depth by state exactly as getJobCounts() counts it, zero-filled, with one call per queue', async () => {
    const telemeter: Telemeter = later(() => telemeter.close(), new Telemeter({ metrics: bullmqMetrics() }));
    const p = prefix();
    const queue: Queue = later(() => queue.close(), new Queue('depth', { connection, prefix: p }));
    const other: Queue = later(() => other.close(), new Queue('other', { connection, prefix: p }));
    for (let i = 0; i < 7; i++) await queue.add('w', { i });
    for (let i = 0; i < 3; i++) await queue.add('d', { i }, { delay: 60_000 });
    await queue.add('p', {}, { priority: 5 });
    await queue.add('p', {}, { priority: 1 });
    let calls = 0;
    const getJobCounts = queue.getJobCounts.bind(queue);
    const counted = {
      name: queue.name,
      getJobCounts: (...states: string[]) => {
        calls++;
        return getJobCounts(...(states as Parameters<typeof getJobCounts>));
      },
    };
    const instrumentation: BullmqInstrumentation = later(
      () => instrumentation.stop(),
      instrumentBullmq({ queues: [counted, other], pollInterval: 60_000 }),
    );
    await instrumentation.poll();
    // The first poll starts at once; poll() while it runs shares its answer instead of asking Redis again.
    expect(calls).toBe(1);
    const expected = await queue.getJobCounts(
      'waiting',
      'active',
      'delayed',
      'prioritized',
      'waiting-children',
      'completed',
      'failed',
    );
    expect(expected).toMatchObject({ waiting: 7, delayed: 3, prioritized: 2 });
    const body = telemeter.scrape();
    for (const [state, count] of Object.entries(expected)) {
      expect(sample(body, `bullmq_queue_jobs{queue="depth",state="${state}"}`), state).toBe(count);
      expect(sample(body, `bullmq_queue_jobs{queue="other",state="${state}"}`), state).toBe(0);
    }
    expect([...samples(body).keys()].filter((s) => s.startsWith('bullmq_queue_jobs{'))).toHaveLength(14);
    // The default (no-argument) getJobCounts() agrees on the states it covers.
    const defaults = await queue.getJobCounts();
    for (const [state, count] of Object.entries(defaults)) {
      expect(sample(body, `bullmq_queue_jobs{queue="depth",state="${state}"}`), state).toBe(count);
    }
  });

  it('stop() detaches every listener and the poller; a worker keeps working, unobserved', async () => {
    const telemeter: Telemeter = later(() => telemeter.close(), new Telemeter({ metrics: bullmqMetrics() }));
    const p = prefix();
    const queue: Queue = later(() => queue.close(), new Queue('quiet', { connection, prefix: p }));
    const worker: Worker = later(
      () => worker.close(),
      new Worker('quiet', async () => 1, { connection, prefix: p, autorun: false }),
    );
    const before = ['active', 'completed', 'failed', 'stalled'].map((e) => worker.listenerCount(e));
    const instrumentation = instrumentBullmq({ workers: [worker], queues: [queue], pollInterval: 100 });
    expect(['active', 'completed', 'failed', 'stalled'].map((e) => worker.listenerCount(e))).toEqual(
      before.map((n) => n + 1),
    );
    await instrumentation.poll();
    instrumentation.stop();
    instrumentation.stop();
    expect(['active', 'completed', 'failed', 'stalled'].map((e) => worker.listenerCount(e))).toEqual(before);
    const polled = telemeter.scrape();
    await queue.add('x', {});
    const done = settled(worker, 1);
    void worker.run();
    await done;
    await new Promise((resolve) => setTimeout(resolve, 300)); // three poll intervals
    const body = telemeter.scrape();
    expect(body).not.toContain('bullmq_jobs_total{');
    // The gauge still shows the last reading before stop(): no poll ran since (waiting would read 0 now).
    expect(sample(body, 'bullmq_queue_jobs{queue="quiet",state="waiting"}')).toBe(
      sample(polled, 'bullmq_queue_jobs{queue="quiet",state="waiting"}'),
    );
    expect(sample(body, 'bullmq_queue_jobs{queue="quiet",state="completed"}')).toBe(0);
  });
});

describe('instrumentBullmq with hostile input', () => {
  it('never throws into the worker, whatever the events carry, and a failing queue only skips its reading', async () => {
    const telemeter = new Telemeter({ metrics: bullmqMetrics() });
    const worker = Object.assign(new EventEmitter(), { name: 'fake' });
    const broken = {
      name: 'broken',
      getJobCounts: () => Promise.reject(new Error('Redis is down')),
    };
    const partial = { name: 'partial', getJobCounts: async () => ({ waiting: 4, bogus: 9 }) };
    const throwing = {
      get name(): string {
        throw new Error('no name');
      },
      getJobCounts: () => {
        throw new Error('sync throw');
      },
    };
    const instrumentation = instrumentBullmq({
      workers: [worker],
      queues: [broken, partial, throwing as never],
      pollInterval: 60_000,
    });
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('hostile getter');
        },
      },
    );
    expect(() => {
      for (const job of [
        undefined,
        null,
        42,
        'job',
        {},
        hostile,
        { name: 7, queueName: {}, timestamp: 'x' },
      ]) {
        worker.emit('active', job, 'waiting');
        worker.emit('completed', job, undefined, 'active');
        worker.emit('failed', job, 'not an error', 'active');
        worker.emit('stalled', job, 'active');
      }
    }).not.toThrow();
    await instrumentation.poll();
    instrumentation.stop();
    const body = telemeter.scrape();
    expect(sample(body, 'bullmq_queue_jobs{queue="partial",state="waiting"}')).toBe(4);
    expect(sample(body, 'bullmq_queue_jobs{queue="partial",state="failed"}')).toBe(0);
    expect(body).not.toContain('state="bogus"');
    expect(body).not.toContain('queue="broken"');
    telemeter.close();
  });

  it('logs once per queue why its depth stopped moving when getJobCounts() fails', async () => {
    const warn = vi.fn();
    setLogger({ warn, error: vi.fn() });
    try {
      const broken = { name: 'down-queue', getJobCounts: () => Promise.reject(new Error('Redis is down')) };
      const instrumentation = instrumentBullmq({ queues: [broken], pollInterval: 60_000 });
      await instrumentation.poll();
      await instrumentation.poll();
      instrumentation.stop();
      const lines = warn.mock.calls.filter(([, message]) => String(message).includes('down-queue'));
      expect(lines).toHaveLength(1);
      expect(lines[0][0]).toMatchObject({
        queue: 'down-queue',
        err: expect.objectContaining({ message: 'Redis is down' }),
      });
    } finally {
      setLogger(null);
    }
  });

  it('rejects bad options at start-up, naming the option', () => {
    const cases: Array<[unknown, string]> = [
      [{ workers: [{}] }, 'workers[0]'],
      [{ queues: [{ name: 'q' }] }, 'queues[0]'],
      [{ pollInterval: 10 }, 'pollInterval'],
      [{ eventPrefix: 'a..b' }, 'eventPrefix'],
    ];
    for (const [options, option] of cases) {
      expect(() => instrumentBullmq(options as never)).toThrow(
        expect.objectContaining({
          code: 'ERR_TELEMETER_INVALID_OPTION',
          message: expect.stringContaining(`option ${option}`),
        }),
      );
    }
    expect(() => instrumentBullmq({ worker: [] } as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_TELEMETER_UNKNOWN_OPTION',
        message: expect.stringContaining('workers'),
      }),
    );
    expect(() => bullmqMetrics({ eventPrefix: '' })).toThrow(
      expect.objectContaining({ code: 'ERR_TELEMETER_INVALID_OPTION' }),
    );
  });
});
