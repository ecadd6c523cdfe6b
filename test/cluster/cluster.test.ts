import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterAggregator, clusterTelemeter, startClusterPrimary } from '../../src/cluster/index.js';
import { clusterMetrics, expectedTotals } from '../fixtures/cluster-metrics.js';
import { parseOpenMetricsStrict } from '../support/openmetrics-parser.js';
import { sample, samples } from '../support/samples.js';

/**
 * node:cluster for real: the test process is the primary and forks workers running
 * test/fixtures/cluster-worker.ts under tsx. Workers record over the application's IPC; the assertions
 * read the primary's scrape.
 */

const FIXTURE = fileURLToPath(new URL('../fixtures/cluster-worker.ts', import.meta.url));
const WAIT_MS = 20_000;

let aggregator: ClusterAggregator | undefined;
const forked: Worker[] = [];

beforeAll(() => {
  cluster.setupPrimary({ exec: FIXTURE, execArgv: ['--import', 'tsx'] });
});

afterEach(async () => {
  aggregator?.close();
  aggregator?.telemeter.close();
  aggregator = undefined;
  const exits = forked.filter((w) => !w.isDead()).map((w) => once(w, 'exit'));
  for (const w of forked.splice(0)) if (!w.isDead()) w.process.kill('SIGKILL');
  await Promise.all(exits);
});

function start(timeoutMs = 10_000): ClusterAggregator {
  const telemeter = clusterTelemeter({ metrics: clusterMetrics() });
  aggregator = startClusterPrimary(telemeter, { timeoutMs });
  return aggregator;
}

/** The next application message of `cmd` from `worker`, ignoring telemeter's own. */
function reply(worker: Worker, cmd: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${cmd} from worker ${worker.id}`)), WAIT_MS);
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

/** Forks a worker that records 1..1000 and stops at once (test/fixtures/cluster-worker.ts, `stop-at-once`). */
function forkStoppingAtOnce(welcomeTimeout: number): Worker {
  const worker = cluster.fork({
    TELEMETER_CLUSTER_FIXTURE: JSON.stringify({ mode: 'stop-at-once', welcomeTimeout }),
  });
  forked.push(worker);
  return worker;
}

async function fork(agg: ClusterAggregator): Promise<Worker> {
  const before = agg.workers;
  const worker = cluster.fork();
  forked.push(worker);
  await reply(worker, 'ready');
  await until(() => agg.workers > before, 'the worker to connect to the aggregator');
  return worker;
}

async function record(worker: Worker, from: number, to: number, depth?: number): Promise<string> {
  const answer = reply(worker, 'recorded');
  worker.send({ cmd: 'record', from, to, depth });
  return String((await answer).worker);
}

/** Every counter, histogram bucket/sum/count and summary sum/count sample: what must never go down. */
function cumulativeSamples(body: string): Map<string, number> {
  const result = new Map<string, number>();
  for (const [series, value] of samples(body)) {
    if (
      /^shop_request_(count_total|amount_total|value_bucket|value_sum|value_count|latency_sum|latency_count)\b/.test(
        series,
      )
    ) {
      result.set(series, value);
    }
  }
  return result;
}

describe('telemeter/cluster over node:cluster', () => {
  it('merges three workers exactly, keeps a killed worker’s counts, and never goes down', async () => {
    const agg = start();
    const [a, b, c] = await Promise.all([fork(agg), fork(agg), fork(agg)]);
    const labelA = await record(a, 1, 500, 7);
    const labelB = await record(b, 501, 1000, 9);
    expect(new Set([labelA, labelB]).size).toBe(2);

    const result = await agg.collect();
    expect(result).toEqual({ workers: 3, answered: 3, timedOut: 0 });
    const first = agg.telemeter.scrape();
    const want = expectedTotals([
      [1, 500],
      [501, 1000],
    ]);
    for (const route of ['/even', '/odd'] as const) {
      expect(sample(first, `shop_request_count_total{route="${route}"}`)).toBe(want.count[route]);
      expect(sample(first, `shop_request_amount_total{route="${route}"}`)).toBe(want.sum[route]);
      expect(sample(first, `shop_request_value_sum{route="${route}"}`)).toBe(want.sum[route]);
      expect(sample(first, `shop_request_value_count{route="${route}"}`)).toBe(want.count[route]);
      let cumulative = 0;
      want.bounds.forEach((bound, i) => {
        cumulative += want.buckets[route][i];
        const le = bound.toFixed(1);
        expect(sample(first, `shop_request_value_bucket{route="${route}",le="${le}"}`)).toBe(cumulative);
      });
    }
    expect(sample(first, 'shop_request_latency_count')).toBe(1000);
    expect(sample(first, 'shop_request_latency_sum')).toBe(500_500);
    // Quantiles of the merged observations: p50 of 1..1000, not 250 + 750.
    const p50 = sample(first, 'shop_request_latency{quantile="0.5"}');
    expect(Math.abs(p50 - 500) / 500).toBeLessThanOrEqual(0.01);
    expect(sample(first, `shop_queue_depth{queue="mail",worker="${labelA}"}`)).toBe(7);
    expect(sample(first, `shop_queue_depth{queue="mail",worker="${labelB}"}`)).toBe(9);
    expect(sample(first, 'telemeter_cluster_workers')).toBe(3);

    const om = await agg.scrape({ format: 'openmetrics' });
    const parsed = await parseOpenMetricsStrict(om);
    expect(parsed.error).toBeUndefined();
    expect(parsed.ok).toBe(true);

    // c records and flushes, then dies without a word.
    await record(c, 2001, 2100);
    await agg.collect();
    const beforeKill = agg.telemeter.scrape();
    expect(sample(beforeKill, 'shop_request_latency_count')).toBe(1100);
    const exited = once(c, 'exit');
    c.process.kill('SIGKILL');
    await exited;
    // The aggregator lets it go once its IPC channel is read to the end, which can follow the exit.
    await until(() => agg.workers === 2, 'the killed worker to leave');

    expect(await agg.collect()).toEqual({ workers: 2, answered: 2, timedOut: 0 });
    const afterKill = agg.telemeter.scrape();
    expect(cumulativeSamples(afterKill)).toEqual(cumulativeSamples(beforeKill));

    await record(a, 1, 10);
    await agg.collect();
    const later = cumulativeSamples(agg.telemeter.scrape());
    for (const [series, value] of cumulativeSamples(afterKill)) {
      expect(later.get(series), series).toBeGreaterThanOrEqual(value);
    }
    expect(later.get('shop_request_latency_count')).toBe(1110);
  });

  it('a silent worker costs one timeout, never the scrape, and counts again once it speaks', async () => {
    // Long enough for the worker that is not stopped to answer on a loaded machine: it must never be the one
    // that times out. The stopped one costs it once.
    const agg = start(3000);
    const [a, b] = await Promise.all([fork(agg), fork(agg)]);
    await record(a, 1, 10);
    await record(b, 11, 20);
    await agg.collect();
    await record(b, 21, 30);
    process.kill(b.process.pid!, 'SIGSTOP');
    try {
      await record(a, 31, 40);
      expect(await agg.collect()).toEqual({ workers: 2, answered: 1, timedOut: 1 });
      const body = agg.telemeter.scrape();
      // b's last 10 were never flushed: the scrape shows the rest, one period stale.
      expect(sample(body, 'shop_request_latency_count')).toBe(30);
      expect(sample(body, 'telemeter_cluster_flush_timeouts_total')).toBe(1);
      // The next collect does not wait for b again.
      expect(await agg.collect()).toEqual({ workers: 2, answered: 1, timedOut: 0 });
    } finally {
      process.kill(b.process.pid!, 'SIGCONT');
    }
    // b answers its old flush request once resumed, and is waited for again.
    await until(() => sample(agg.telemeter.scrape(), 'shop_request_latency_count') >= 40, 'b to catch up');
    expect(await agg.collect()).toEqual({ workers: 2, answered: 2, timedOut: 0 });
  });

  it('a worker that stops gracefully delivers its last increments, and its label is reused', async () => {
    const agg = start();
    const a = await fork(agg);
    const label = await record(a, 1, 25, 3);
    const stopped = reply(a, 'stopped');
    a.send({ cmd: 'stop' });
    await stopped;
    const exited = once(a, 'exit');
    a.disconnect();
    await exited;
    // It said goodbye after its last delta; it leaves once that is merged.
    await until(() => agg.workers === 0, 'the worker to leave');
    const body = agg.telemeter.scrape();
    expect(sample(body, 'shop_request_latency_count')).toBe(25);
    expect(sample(body, `shop_queue_depth{queue="mail",worker="${label}"}`)).toBe(3);

    const next = await fork(agg);
    expect(await record(next, 26, 26, 5)).toBe(label);
    await agg.collect();
    expect(sample(agg.telemeter.scrape(), `shop_queue_depth{queue="mail",worker="${label}"}`)).toBe(5);
  });

  it('a worker that records and stops before the primary’s welcome, then exits at once, delivers everything', async () => {
    const agg = start();
    const worker = forkStoppingAtOnce(WAIT_MS);
    const stopped = reply(worker, 'stopped');
    const exited = once(worker, 'exit');
    const answer = await stopped;
    expect(answer).toMatchObject({ welcomed: true, logged: [] });
    await exited;
    // It counts as connected until everything it sent before it left is merged.
    await until(() => agg.workers === 0, 'the worker to leave');
    const body = agg.telemeter.scrape();
    const want = expectedTotals([[1, 1000]]);
    expect(sample(body, 'shop_request_latency_count')).toBe(1000);
    expect(sample(body, 'shop_request_latency_sum')).toBe(want.allSum);
    for (const route of ['/even', '/odd'] as const) {
      expect(sample(body, `shop_request_count_total{route="${route}"}`)).toBe(want.count[route]);
      expect(sample(body, `shop_request_value_count{route="${route}"}`)).toBe(want.count[route]);
    }
  });

  it('stop() resolves after welcomeTimeout, logging once, when the primary runs no aggregator', async () => {
    const worker = forkStoppingAtOnce(200);
    const exited = once(worker, 'exit');
    const answer = await reply(worker, 'stopped');
    expect(answer.welcomed).toBe(false);
    expect(answer.logged).toEqual([expect.stringMatching(/stop\(\) waited 200 ms for the primary's answer/)]);
    await exited;
  });
});
