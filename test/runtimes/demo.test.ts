/**
 * `telemeter demo` on Bun and on Deno, started from the installed package's `bin/telemeter.js` as a user starts
 * it there (`bun …/telemeter.js demo`, `deno run -A …/telemeter.js demo`), with the same known traffic sent to
 * each, and one real Prometheus scraping both: both targets up with no error, and every request, order and
 * statement counted exactly, as the Node demo test (test/e2e/demo.test.ts) requires of Node.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildHandle, startChild } from '../e2e/child-process.js';
import {
  countsByLabels,
  dbOperationCounts,
  orderAmount,
  sendTraffic,
  shopTraffic,
  vectorByLabels,
} from '../e2e/shop-traffic.js';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import {
  ensureRuntimes,
  installedPackage,
  type RuntimeBinaries,
  removeInstalledPackage,
} from '../support/runtimes.js';
import { requirePrometheus } from '../support/tools.js';

const runtimes = await ensureRuntimes();
const hasPrometheus = requirePrometheus();

interface Demo {
  readonly job: string;
  readonly child: ChildHandle;
  readonly shopUrl: string;
  readonly metricsTarget: string;
}

const DEMO_ARGS = ['demo', '--no-traffic', '--port', '0', '--metrics-port', '0', '--host', '127.0.0.1'];

async function startDemo(job: string, command: string, args: readonly string[], cwd: string): Promise<Demo> {
  const child = startChild(command, [...args, ...DEMO_ARGS], { name: `telemeter demo on ${job}`, cwd });
  try {
    await child.waitForStdout(/Press Ctrl-C to stop/, 30_000);
  } catch (error) {
    await child.stop('SIGKILL');
    throw new Error(`${String(error)}\n${child.stderr()}`);
  }
  const shop = /shop API\s+(http:\/\/127\.0\.0\.1:\d+)\/products/.exec(child.stdout());
  const metrics = /metrics\s+http:\/\/(127\.0\.0\.1:\d+)\/metrics/.exec(child.stdout());
  if (shop === null || metrics === null) throw new Error(`unexpected demo banner:\n${child.stdout()}`);
  return { job, child, shopUrl: shop[1], metricsTarget: metrics[1] };
}

describe.skipIf(runtimes === undefined || !hasPrometheus)(
  'telemeter demo on Bun and Deno, scraped by a real Prometheus',
  () => {
    const bin = runtimes as RuntimeBinaries;
    const plan = shopTraffic();
    const demos: Demo[] = [];
    let prom: PrometheusHandle | undefined;
    let app: string | undefined;

    beforeAll(async () => {
      app = await installedPackage();
      const cli = join(app, 'node_modules/telemeter/bin/telemeter.js');
      demos.push(
        ...(await Promise.all([
          startDemo('bun', bin.bun, [cli], app),
          // -A: Deno lets a program read /proc/self (open descriptors, memory maps) only with every permission.
          startDemo('deno', bin.deno, ['run', '--no-prompt', '-A', cli], app),
        ])),
      );
      prom = await startPrometheus(
        demos.map((demo) => ({ jobName: demo.job, targets: [demo.metricsTarget] })),
      );
      // Traffic goes out while Prometheus waits for its first scrape (~5 s).
      await Promise.all(demos.map((demo) => sendTraffic(demo.shopUrl, plan)));
      const trafficDone = Date.now();
      const first = new Map<string, number>();
      await prom.waitForTargets(
        (targets) =>
          targets.length === demos.length &&
          targets.every((target) => {
            const at = Date.parse(target.lastScrape ?? '');
            if (target.health !== 'up' || !(at > trafficDone)) return false;
            if (!first.has(target.labels.job)) first.set(target.labels.job, at);
            return at > first.get(target.labels.job)!;
          }),
        30_000,
      );
    }, 120_000);

    afterAll(async () => {
      await prom?.stop();
      await Promise.all(demos.map((demo) => demo.child.stop('SIGKILL')));
      removeInstalledPackage(app);
    });

    it('scrapes both demos with no errors', async () => {
      const targets = await prom!.targets();
      expect(targets.map((t) => [t.labels.job, t.health, t.lastError]).sort()).toEqual([
        ['bun', 'up', ''],
        ['deno', 'up', ''],
      ]);
    });

    it.each(['bun', 'deno'])(
      'counts every request on %s exactly, per method, route and status',
      async (job) => {
        const stored = vectorByLabels(await prom!.query(`http_server_requests_total{job="${job}"}`), [
          'method',
          'route',
          'status',
        ]);
        expect(stored).toEqual(countsByLabels(plan));
        expect(await prom!.queryValue(`sum(http_server_requests_total{job="${job}"})`)).toBe(plan.length);
        const observed = vectorByLabels(
          await prom!.query(`http_server_request_duration_seconds_count{job="${job}"}`),
          ['method', 'route', 'status'],
        );
        expect(observed).toEqual(countsByLabels(plan));
        expect(await prom!.queryValue(`shop_order_amount_total{job="${job}",currency="EUR"}`)).toBe(
          orderAmount(plan),
        );
        const statements = vectorByLabels(
          await prom!.query(
            `db_client_operation_duration_seconds_count{job="${job}",db_system_name="postgresql"}`,
          ),
          ['db_operation_name', 'db_collection_name', 'error_type'],
        );
        expect(statements).toEqual(dbOperationCounts(plan));
      },
    );

    it.each(['bun', 'deno'])('reports the process and runtime measurements on %s', async (job) => {
      for (const name of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_heap_size_used_bytes',
        'nodejs_eventloop_lag_seconds',
        'vm_memory_total',
      ]) {
        expect(await prom!.queryValue(`${name}{job="${job}"}`), `${name} on ${job}`).toBeGreaterThan(0);
      }
    });
  },
);
