import { once } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { type ClusterAggregator, clusterTelemeter, startClusterPrimary } from '../../src/cluster/index.js';
import { serveMetrics } from '../../src/server/index.js';
import { clusterMetrics, expectedTotals } from '../fixtures/cluster-metrics.js';
import { parseOpenMetricsStrict } from '../support/openmetrics-parser.js';
import { sample } from '../support/samples.js';

/**
 * worker_threads for real: two threads run test/fixtures/cluster-worker.ts (through tsx) and record
 * what the test asks over `parentPort`; telemeter talks over a port of its own.
 */

const BOOTSTRAP = fileURLToPath(new URL('../fixtures/thread-bootstrap.mjs', import.meta.url));
const ENTRY = pathToFileURL(fileURLToPath(new URL('../fixtures/cluster-worker.ts', import.meta.url))).href;
const WAIT_MS = 20_000;

let aggregator: ClusterAggregator | undefined;
const threads: Worker[] = [];

afterEach(async () => {
  aggregator?.close();
  aggregator?.telemeter.close();
  aggregator = undefined;
  await Promise.all(threads.splice(0).map((t) => t.terminate()));
});

interface Thread {
  readonly worker: Worker;
  /** telemeter messages the application's `worker.on('message')` saw. */
  readonly seen: { telemeter: number };
}

function reply(worker: Worker, cmd: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${cmd} from thread ${worker.threadId}`)), WAIT_MS);
    const listener = (message: Record<string, unknown>) => {
      if (message?.cmd !== cmd) return;
      clearTimeout(timer);
      worker.off('message', listener);
      resolve(message);
    };
    worker.on('message', listener);
  });
}

/** Polls `done` until it holds; throws after WAIT_MS. A bounded wait for something expected. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function spawn(agg: ClusterAggregator): Promise<Thread> {
  const before = agg.workers;
  const worker = new Worker(BOOTSTRAP, { workerData: { entry: ENTRY } });
  agg.addWorkerThread(worker);
  threads.push(worker);
  const seen = { telemeter: 0 };
  worker.on('message', (m) => {
    if (typeof m === 'object' && m !== null && 'telemeter' in m) seen.telemeter++;
  });
  const ready = await reply(worker, 'ready');
  expect(ready.transport).toBe('thread');
  await until(() => agg.workers > before, 'the thread to connect to the aggregator');
  return { worker, seen };
}

/**
 * A thread that records 1..1000 and stops at once (test/fixtures/cluster-worker.ts with a mode), tracked by
 * `agg` if given; resolves with its `stopped` answer once it has exited.
 */
async function stopAtOnce(
  agg: ClusterAggregator | undefined,
  settings: { mode: 'stop-at-once' | 'stop-busy'; welcomeTimeout: number; maxEntriesPerMessage?: number },
): Promise<Record<string, unknown>> {
  const worker = new Worker(BOOTSTRAP, { workerData: { entry: ENTRY, settings } });
  agg?.addWorkerThread(worker);
  threads.push(worker);
  const exited = once(worker, 'exit');
  const answer = await reply(worker, 'stopped');
  await exited;
  return answer;
}

function expectAllOf1To1000(body: string): void {
  const want = expectedTotals([[1, 1000]]);
  expect(sample(body, 'shop_request_latency_count')).toBe(1000);
  expect(sample(body, 'shop_request_latency_sum')).toBe(want.allSum);
  for (const route of ['/even', '/odd'] as const) {
    expect(sample(body, `shop_request_count_total{route="${route}"}`)).toBe(want.count[route]);
    expect(sample(body, `shop_request_amount_total{route="${route}"}`)).toBe(want.sum[route]);
    expect(sample(body, `shop_request_value_count{route="${route}"}`)).toBe(want.count[route]);
  }
}

async function record(thread: Thread, from: number, to: number, depth?: number) {
  const answer = reply(thread.worker, 'recorded');
  thread.worker.postMessage({ cmd: 'record', from, to, depth });
  return answer;
}

describe('telemeter/cluster over worker_threads', () => {
  it('merges two threads exactly, with quantiles from merged sketches and a label per thread', async () => {
    aggregator = startClusterPrimary(clusterTelemeter({ metrics: clusterMetrics() }), {
      cluster: false,
      timeoutMs: 10_000,
    });
    const agg = aggregator;
    const [a, b] = await Promise.all([spawn(agg), spawn(agg)]);
    const answerA = await record(a, 1, 500, 7);
    const answerB = await record(b, 501, 1000, 9);

    expect(await agg.collect()).toEqual({ workers: 2, answered: 2, timedOut: 0 });
    const body = agg.telemeter.scrape();
    const want = expectedTotals([
      [1, 500],
      [501, 1000],
    ]);
    for (const route of ['/even', '/odd'] as const) {
      expect(sample(body, `shop_request_count_total{route="${route}"}`)).toBe(want.count[route]);
      expect(sample(body, `shop_request_amount_total{route="${route}"}`)).toBe(want.sum[route]);
      expect(sample(body, `shop_request_value_count{route="${route}"}`)).toBe(want.count[route]);
      let cumulative = 0;
      want.bounds.forEach((bound, i) => {
        cumulative += want.buckets[route][i];
        const le = bound.toFixed(1);
        expect(sample(body, `shop_request_value_bucket{route="${route}",le="${le}"}`)).toBe(cumulative);
      });
    }
    expect(sample(body, 'shop_request_latency_sum')).toBe(500_500);
    const p50 = sample(body, 'shop_request_latency{quantile="0.5"}');
    expect(Math.abs(p50 - 500) / 500).toBeLessThanOrEqual(0.01);
    expect(sample(body, `shop_queue_depth{queue="mail",worker="${answerA.worker}"}`)).toBe(7);
    expect(sample(body, `shop_queue_depth{queue="mail",worker="${answerB.worker}"}`)).toBe(9);

    // Only the hello crossed the application's channel; the thread's own handler saw nothing of telemeter.
    expect(a.seen.telemeter).toBe(1);
    expect(answerB.foreign).toBe(0);

    const parsed = await parseOpenMetricsStrict(await agg.scrape({ format: 'openmetrics' }));
    expect(parsed.error).toBeUndefined();
    expect(parsed.ok).toBe(true);

    // The aggregator is a render source for telemeter/server.
    const server = await serveMetrics(agg, { port: 0, host: '127.0.0.1' });
    try {
      const served = await (await fetch(server.url)).text();
      expect(sample(served, 'shop_request_latency_count')).toBe(1000);
      expect(sample(served, 'telemeter_cluster_workers')).toBe(2);
    } finally {
      await server.close();
    }

    // A terminated thread's counts stay.
    await a.worker.terminate();
    await until(() => agg.workers === 1, 'the terminated thread to leave');
    expect(await agg.collect()).toEqual({ workers: 1, answered: 1, timedOut: 0 });
    expect(sample(agg.telemeter.scrape(), 'shop_request_latency_count')).toBe(1000);
  });

  it('a thread that runs out of work flushes its last values on the way out', async () => {
    aggregator = startClusterPrimary(clusterTelemeter({ metrics: clusterMetrics() }), { cluster: false });
    const agg = aggregator;
    const thread = await spawn(agg);
    const exited = once(thread.worker, 'exit');
    thread.worker.postMessage({ cmd: 'finish', from: 1, to: 40 });
    await exited;
    // Let the port deliver what was posted before the thread ended.
    await until(() => sample(agg.telemeter.scrape(), 'shop_request_latency_count') >= 40, 'the final flush');
    expect(sample(agg.telemeter.scrape(), 'shop_request_latency_count')).toBe(40);
    expect(sample(agg.telemeter.scrape(), 'shop_request_count_total{route="/odd"}')).toBe(20);
  });

  it('a thread that records and stops before the welcome delivers everything, then exits', async () => {
    aggregator = startClusterPrimary(clusterTelemeter({ metrics: clusterMetrics() }), { cluster: false });
    const agg = aggregator;
    const answer = await stopAtOnce(agg, { mode: 'stop-at-once', welcomeTimeout: WAIT_MS });
    expect(answer).toMatchObject({ welcomed: true, logged: [] });
    await until(
      () => agg.workers === 0 && sample(agg.telemeter.scrape(), 'shop_request_latency_count') >= 1000,
      'the thread’s deltas',
    );
    expectAllOf1To1000(agg.telemeter.scrape());
  });

  it('stop() twice, during a flush that waits for acknowledgements, sends everything once', async () => {
    aggregator = startClusterPrimary(clusterTelemeter({ metrics: clusterMetrics() }), { cluster: false });
    const agg = aggregator;
    const answer = await stopAtOnce(agg, {
      mode: 'stop-busy',
      welcomeTimeout: WAIT_MS,
      maxEntriesPerMessage: 1,
    });
    expect(answer).toMatchObject({ same: true, welcomed: true, logged: [] });
    await until(
      () => agg.workers === 0 && sample(agg.telemeter.scrape(), 'shop_request_latency_count') >= 1000,
      'the thread’s deltas',
    );
    expectAllOf1To1000(agg.telemeter.scrape());
  });

  it('stop() resolves after welcomeTimeout, logging once, when no aggregator tracks the thread', async () => {
    const answer = await stopAtOnce(undefined, { mode: 'stop-busy', welcomeTimeout: 200 });
    expect(answer.welcomed).toBe(false);
    expect(answer.same).toBe(true);
    expect(answer.logged).toEqual([expect.stringMatching(/stop\(\) waited 200 ms for the primary's answer/)]);
  });
});
