/**
 * A real Prometheus scrapes an application that uses both Redis clients through `instrumentRedis`, and judges
 * the dashboard and alert rules generated from `redisMetrics()`: every query must return data (for a rule, the
 * operand of its condition), which only happens when it names what Prometheus stored.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alertRules,
  allExpressions,
  grafanaDashboard,
  interpolateGrafana,
} from '../../src/dashboard/index.js';
import { Telemeter } from '../../src/index.js';
import { instrumentRedis, redisMetrics } from '../../src/redis/index.js';
import { type MetricsServer, serveMetrics } from '../../src/server/index.js';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { conditionOperand } from '../support/promql-operands.js';
import { freePort, REDIS_PORT, requirePrometheus, requireRedis } from '../support/tools.js';

const hasRedis = await requireRedis();
const hasPrometheus = requirePrometheus();

describe.skipIf(!hasRedis || !hasPrometheus)(
  'the Redis dashboard and rules against a real Prometheus',
  () => {
    const metrics = redisMetrics();
    const dashboard = grafanaDashboard(metrics, { selfMetrics: false });
    const rules = alertRules(metrics, { selfMetrics: false });
    const instrumentation = instrumentRedis();
    let telemeter: Telemeter;
    let server: MetricsServer;
    let prom: PrometheusHandle;
    let dir: string;

    beforeAll(async () => {
      telemeter = new Telemeter({ metrics });
      server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1' });
      dir = await mkdtemp(join(tmpdir(), 'telemeter-redis-rules-'));
      const rulesFile = join(dir, 'rules.yml');
      await writeFile(rulesFile, rules);
      prom = await startPrometheus([{ jobName: 'app', targets: [`127.0.0.1:${server.port}`] }], {
        ruleFiles: [rulesFile],
      });
      await traffic();
      // rate() and increase() need two samples that both saw the traffic: two scrapes that started after it.
      const trafficDone = Date.now();
      await prom.waitForScrapesAfter(trafficDone);
    }, 120_000);

    afterAll(async () => {
      instrumentation.stop();
      await prom?.stop();
      await server?.close();
      telemeter?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('has the Redis panels in the redis row, and the Redis rules', () => {
      const titles = dashboard.panels.map((p) => p.title);
      const row = titles.indexOf('redis');
      expect(row).toBeGreaterThan(0);
      expect(titles.slice(row + 1, row + 4)).toEqual([
        'Redis commands per second, by command',
        'Redis p99 latency, by command',
        'Redis failed commands per second, by error class',
      ]);
      expect(rules).toContain('alert: "RedisConnectionErrors"');
      expect(rules).toContain('alert: "RedisReconnecting"');
    });

    it('returns data for every query of the dashboard and the rules', async () => {
      const expressions = allExpressions(dashboard, rules);
      expect(expressions.length).toBeGreaterThan(10);
      const problems: string[] = [];
      for (const { source, expr } of expressions) {
        const query = interpolateGrafana(expr, { job: 'app' });
        const operand = conditionOperand(query) ?? query;
        const result = await query_(operand);
        if (result.status !== 'success') problems.push(`${source}: rejected (${result.error}): ${operand}`);
        else if (result.data.result.length === 0) problems.push(`${source}: no data: ${operand}`);
      }
      expect(problems).toEqual([]);
      // The same check fails for a query that names nothing stored.
      const none = await query_(
        'sum(rate(db_client_operation_duration_seconds_count{db_system_name="nosql"}[1m]))',
      );
      expect(none.data.result).toEqual([]);
    });

    async function query_(expr: string): Promise<any> {
      const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`, {
        signal: AbortSignal.timeout(5_000),
      });
      return res.json();
    }
  },
);

/** Commands, batches and a failure on each client, a reconnect of each, and a refused connect. */
async function traffic(): Promise<void> {
  const key = `telemeter-test:${process.pid}:${Date.now()}:prometheus`;
  const io = new Redis({ host: '127.0.0.1', port: REDIS_PORT });
  io.on('error', () => {});
  const node = createClient({ url: `redis://127.0.0.1:${REDIS_PORT}` });
  node.on('error', () => {});
  await node.connect();
  try {
    for (let i = 0; i < 20; i++) {
      await io.set(key, String(i));
      await node.get(key);
    }
    await io.multi().incr(key).incr(key).exec();
    await node.multi().incr(key).get(key).execAsPipeline();
    await io.hset(key, 'field', '1').catch(() => {});
    await node.hSet(key, 'field', '1').catch(() => {});
    const ids = [await io.client('ID'), await node.clientId()];
    for (const id of ids) await io.client('KILL', 'ID', String(id)).catch(() => {});
    for (let attempt = 0; attempt < 50; attempt++) {
      const ok =
        (await io.ping().catch(() => '')) === 'PONG' && (await node.ping().catch(() => '')) === 'PONG';
      if (ok) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const refused = createClient({
      url: `redis://127.0.0.1:${await freePort()}`,
      socket: { reconnectStrategy: false },
    });
    refused.on('error', () => {});
    await refused.connect().catch(() => {});
    await io.del(key);
  } finally {
    io.disconnect();
    await node.close();
  }
}
