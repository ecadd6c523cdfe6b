/**
 * remote_write (issue 7): a real Prometheus scrapes a demo instance and forwards every sample to
 * VictoriaMetrics (Debian's `victoria-metrics`, the backend Fly.io runs) over `remote_write`. The fleet
 * queries of docs/scaling.md must answer identically from both.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { freePort, requirePrometheus, requireTool } from '../support/tools.js';
import { type ChildHandle, startChild } from './child-process.js';
import { type DemoProcess, startDemoProcess } from './demo-process.js';
import { countsByRoute, orderAmount, sendTraffic, shopTraffic, vectorByLabels } from './shop-traffic.js';

const VICTORIA_METRICS = '/usr/bin/victoria-metrics';
const hasPrometheus = requirePrometheus();
const hasVictoriaMetrics = requireTool(VICTORIA_METRICS, {
  name: 'victoria-metrics',
  debianPackage: 'victoria-metrics',
});
const JOB = 'shop';

/** The queries both backends must answer identically, with the labels that key their results. */
const SAME_ANSWERS: ReadonlyArray<[string, string[]]> = [
  [`sum by (route) (http_server_requests_total{job="${JOB}"})`, ['route']],
  [`sum by (route, status) (http_server_requests_total{job="${JOB}"})`, ['route', 'status']],
  [`sum by (instance) (http_server_request_duration_seconds_count{job="${JOB}"})`, ['instance']],
  [`sum(shop_order_amount_total{job="${JOB}"})`, []],
];

interface VictoriaMetrics {
  readonly url: string;
  readonly process: ChildHandle;
  query(promql: string): Promise<any[]>;
}

async function startVictoriaMetrics(dataDir: string): Promise<VictoriaMetrics> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = startChild(
    VICTORIA_METRICS,
    [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${dataDir}`,
      // Fresh samples are hidden from queries for 30 s by default, and answers are cached.
      '-search.latencyOffset=0s',
      '-search.disableCache',
      '-loggerLevel=WARN',
    ],
    { name: 'victoria-metrics' },
  );
  for (let attempt = 0; attempt < 120; attempt++) {
    if (child.exit() !== undefined) throw new Error(`victoria-metrics exited early:\n${child.stderr()}`);
    const ok = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) {
      return {
        url,
        process: child,
        async query(promql) {
          const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, {
            signal: AbortSignal.timeout(5_000),
          });
          const body = await res.json();
          if (body.status !== 'success')
            throw new Error(`VictoriaMetrics: ${promql}: ${JSON.stringify(body)}`);
          return body.data.result;
        },
      };
    }
    await sleep(100);
  }
  await child.stop('SIGKILL');
  throw new Error(`victoria-metrics did not become healthy:\n${child.stderr()}`);
}

describe.skipIf(!hasPrometheus || !hasVictoriaMetrics)('Prometheus remote_write into VictoriaMetrics', () => {
  const plan = shopTraffic(2);
  let dir: string;
  let vm: VictoriaMetrics;
  let demo: DemoProcess;
  let prom: PrometheusHandle;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'telemeter-remote-write-'));
    [vm, demo] = await Promise.all([startVictoriaMetrics(join(dir, 'vm')), startDemoProcess()]);
    prom = await startPrometheus([{ jobName: JOB, targets: [demo.metricsTarget] }], {
      extraConfig: {
        // The config of docs/scaling.md, with a shorter batch deadline (default 5 s) to keep the test short.
        remote_write: [{ url: `${vm.url}/api/v1/write`, queue_config: { batch_send_deadline: '1s' } }],
      },
    });
    await sendTraffic(demo.shopUrl, plan);
    await prom.waitForQuery(
      `sum(http_server_requests_total{job="${JOB}"})`,
      (r) => Number(r[0]?.value?.[1]) === plan.length,
    );
  });

  afterAll(async () => {
    await prom?.stop();
    await Promise.all([demo?.process.stop('SIGKILL'), vm?.process.stop('SIGTERM')]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('Prometheus has every request', async () => {
    const stored = vectorByLabels(await prom.query(SAME_ANSWERS[0][0]), ['route']);
    expect(stored).toEqual(countsByRoute(plan));
    expect(await prom.queryValue(SAME_ANSWERS[3][0])).toBe(orderAmount(plan));
  });

  it('VictoriaMetrics answers the same PromQL identically', async () => {
    const expected: Record<string, Record<string, number>> = {};
    for (const [promql, labels] of SAME_ANSWERS)
      expected[promql] = vectorByLabels(await prom.query(promql), labels);
    let last: Record<string, Record<string, number>> = {};
    for (let attempt = 0; attempt < 120; attempt++) {
      last = {};
      for (const [promql, labels] of SAME_ANSWERS)
        last[promql] = vectorByLabels(await vm.query(promql), labels);
      if (isDeepStrictEqual(last, expected)) break;
      await sleep(250);
    }
    expect(last).toEqual(expected);
    expect(expected[SAME_ANSWERS[0][0]]).toEqual(countsByRoute(plan));
  });

  it('can fail: VictoriaMetrics has nothing for a job Prometheus never scraped', async () => {
    expect(await vm.query('sum by (route) (http_server_requests_total{job="nope"})')).toEqual([]);
    // Prometheus's own counters: samples went out over remote_write, and none failed.
    const own = await (await fetch(`${prom.url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    const counter = (name: string) =>
      own
        .split('\n')
        .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    expect(counter('prometheus_remote_storage_samples_total')).toBeGreaterThan(0);
    expect(counter('prometheus_remote_storage_samples_failed_total')).toBe(0);
  });
});
