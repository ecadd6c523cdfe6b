/**
 * A real Prometheus scrapes an app whose BullMQ workers complete, retry, fail and stall jobs, and judges the
 * generated BullMQ row and rules: every panel query and the left operand of every rule condition must return
 * data, which only happens when they name what Prometheus stored.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BullmqInstrumentation, bullmqMetrics, instrumentBullmq } from '../../src/bullmq/index.js';
import {
  alertRules,
  allExpressions,
  grafanaDashboard,
  interpolateGrafana,
} from '../../src/dashboard/index.js';
import { Telemeter } from '../../src/index.js';
import { type MetricsServer, serveMetrics } from '../../src/server/index.js';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { conditionOperand } from '../support/promql-operands.js';
import { REDIS_PORT, requirePrometheus, requireRedis } from '../support/tools.js';

const hasPrometheus = requirePrometheus();
const hasRedis = await requireRedis();
const REDIS_HOST = '127.0.0.1';
const connection = { host: REDIS_HOST, port: REDIS_PORT, maxRetriesPerRequest: null };

describe.skipIf(!hasPrometheus || !hasRedis)('the BullMQ row and rules against a real Prometheus', () => {
  const metrics = bullmqMetrics();
  const dashboard = grafanaDashboard(metrics, { selfMetrics: false });
  const rules = alertRules(metrics, { selfMetrics: false });
  const prefix = `telemeter-test-${randomUUID()}`;
  let telemeter: Telemeter;
  let server: MetricsServer;
  let prom: PrometheusHandle;
  let queue: Queue;
  let stuck: Worker;
  let worker: Worker;
  let instrumentation: BullmqInstrumentation;
  let release: () => void = () => {};
  let dir: string;

  beforeAll(async () => {
    telemeter = new Telemeter({ metrics, selfMetrics: false });
    server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1' });
    dir = await mkdtemp(join(tmpdir(), 'telemeter-bullmq-'));
    const rulesFile = join(dir, 'rules.yml');
    await writeFile(rulesFile, rules);
    prom = await startPrometheus([{ jobName: 'app', targets: [`127.0.0.1:${server.port}`] }], {
      ruleFiles: [rulesFile],
    });

    queue = new Queue('work', { connection, prefix });
    // A worker that takes one job and stops renewing its lock, so the instrumented one finds it stalled.
    const hung = new Promise<void>((resolve) => {
      release = resolve;
    });
    stuck = new Worker('work', () => hung, {
      connection,
      prefix,
      autorun: false,
      lockDuration: 500,
      skipLockRenewal: true,
      skipStalledCheck: true,
    });
    await queue.add('monthly', {});
    const taken = once(stuck, 'active');
    void stuck.run();
    await taken;

    for (let i = 0; i < 5; i++) await queue.add('send', { i });
    await queue.add('flaky', {}, { attempts: 2 });
    await queue.add('broken', {});
    worker = new Worker(
      'work',
      async (job: Job) => {
        if (job.name === 'flaky' && job.attemptsMade === 0) throw new Error('first try fails');
        if (job.name === 'broken') throw new Error('always fails');
        return 'ok';
      },
      { connection, prefix, autorun: false, stalledInterval: 300 },
    );
    instrumentation = instrumentBullmq({ workers: [worker], queues: [queue], pollInterval: 200 });
    // 5 sends, flaky twice, broken once, and the stalled monthly job once it is back in wait.
    const settled = new Promise<void>((resolve, reject) => {
      let seen = 0;
      const timer = setTimeout(() => reject(new Error(`only ${seen} of 9 attempts settled`)), 20_000);
      const tick = () => {
        if (++seen < 9) return;
        clearTimeout(timer);
        resolve();
      };
      worker.on('completed', tick);
      worker.on('failed', tick);
    });
    const stalled = once(worker, 'stalled');
    void worker.run();
    await Promise.all([settled, stalled]);

    // rate() and deriv() need two samples that both saw the jobs: two scrapes that started after them.
    const jobsDone = Date.now();
    await prom.waitForScrapesAfter(jobsDone);
  }, 90_000);

  afterAll(async () => {
    instrumentation?.stop();
    release();
    await stuck?.close(true);
    await worker?.close();
    await queue?.close();
    await prom?.stop();
    await server?.close();
    telemeter?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    const admin = new Redis({ host: REDIS_HOST, port: REDIS_PORT });
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  it('puts every BullMQ metric in one BullMQ row', () => {
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(['Overview', 'BullMQ']);
    // The row opens with the failure ratio and the depth counted once per queue, then one panel per metric.
    const titles = dashboard.panels.map((p) => p.title);
    expect(titles.slice(titles.indexOf('BullMQ') + 1, titles.indexOf('BullMQ') + 3)).toEqual([
      'BullMQ jobs failing for good',
      'BullMQ jobs by queue and state',
    ]);
    const queries = allExpressions(dashboard).map((e) => e.expr);
    for (const metric of metrics) {
      const family = metric.name.replace(/_total$/, '');
      expect(
        queries.some((q) => q.includes(family)),
        metric.name,
      ).toBe(true);
    }
  });

  it('returns data for every panel query and every rule operand', async () => {
    const expressions = allExpressions(dashboard, rules);
    expect(expressions.filter((e) => e.source.includes('Bullmq')).length).toBe(3);
    const problems: string[] = [];
    for (const { source, expr } of expressions) {
      const query = interpolateGrafana(expr, { job: 'app' });
      const operand = conditionOperand(query) ?? query;
      const result = await prom.query(operand);
      if (!(result.length > 0)) problems.push(`${source}: no data: ${operand}`);
    }
    expect(problems).toEqual([]);
  });

  it('shows the depth of the states a job passes through, not the retained completed and failed sets', async () => {
    const [depth] = dashboard.panels.find((p) => p.title === 'BullMQ jobs by queue and state')!.targets!;
    const result = await prom.query(interpolateGrafana(depth.expr, { job: 'app' }));
    // waiting, active, delayed, prioritized and waiting-children of queue work; completed and failed left out.
    expect(result.map((r: any) => r.metric.state).sort()).toEqual(
      ['active', 'delayed', 'prioritized', 'waiting', 'waiting-children'].sort(),
    );
  });

  it('stores the exact counts and the depth that getJobCounts() reads', async () => {
    const value = (q: string) => prom.queryValue(q);
    expect(await value('bullmq_jobs_total{name="send",outcome="completed"}')).toBe(5);
    expect(await value('bullmq_jobs_total{name="flaky",outcome="retried"}')).toBe(1);
    expect(await value('bullmq_jobs_total{name="broken",outcome="failed"}')).toBe(1);
    expect(await value('bullmq_jobs_total{name="monthly",outcome="completed"}')).toBe(1);
    expect(await value('bullmq_stalled_jobs_total{queue="work"}')).toBe(1);
    const counts = await queue.getJobCounts();
    expect(counts).toMatchObject({ completed: 7, failed: 1, waiting: 0 });
    for (const [state, count] of Object.entries(counts)) {
      expect(await value(`bullmq_queue_jobs{queue="work",state="${state}"}`), state).toBe(count);
    }
  });
});
