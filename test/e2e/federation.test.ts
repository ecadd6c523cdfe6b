/**
 * Federation (docs/scaling.md): a "global" Prometheus scrapes `/federate` of the Prometheus that scrapes two
 * demo instances, with `honor_labels: true`. The fleet query must answer the same from both, and the global
 * one must keep each instance's own `job` and `instance` labels.
 */
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrometheusHandle, startPrometheus } from '../support/prometheus-server.js';
import { requirePrometheus } from '../support/tools.js';
import { type DemoProcess, startDemoProcess } from './demo-process.js';
import { addCounts, countsByRoute, sendTraffic, shopTraffic, vectorByLabels } from './shop-traffic.js';

const hasPrometheus = requirePrometheus();
const JOB = 'shop';
const FLEET_QUERY = `sum by (route) (http_server_requests_total{job="${JOB}"})`;

describe.skipIf(!hasPrometheus)('a global Prometheus federating the fleet Prometheus', () => {
  const demos: DemoProcess[] = [];
  const plans = [shopTraffic(1), shopTraffic(2)];
  let local: PrometheusHandle;
  let global: PrometheusHandle;

  beforeAll(async () => {
    const started = await Promise.allSettled(plans.map(() => startDemoProcess()));
    for (const result of started) if (result.status === 'fulfilled') demos.push(result.value);
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    local = await startPrometheus([{ jobName: JOB, targets: demos.map((d) => d.metricsTarget) }]);
    global = await startPrometheus([
      {
        jobName: 'federate',
        targets: [`127.0.0.1:${local.port}`],
        metricsPath: '/federate',
        params: { 'match[]': [`{job="${JOB}"}`] },
        // Keep the labels the local Prometheus attached (job="shop", instance=...), not federate's own.
        extra: { honor_labels: true },
      },
    ]);
    await Promise.all(demos.map((demo, i) => sendTraffic(demo.shopUrl, plans[i])));
    const total = plans.map(countsByRoute).reduce(addCounts, {});
    for (const prom of [local, global]) {
      await prom.waitForQuery(FLEET_QUERY, (r) => isDeepStrictEqual(vectorByLabels(r, ['route']), total));
    }
  });

  afterAll(async () => {
    await Promise.all([global?.stop(), local?.stop()]);
    await Promise.all(demos.map((d) => d.process.stop('SIGKILL')));
  });

  it('answers the fleet query identically, and exactly', async () => {
    const fromLocal = vectorByLabels(await local.query(FLEET_QUERY), ['route']);
    const fromGlobal = vectorByLabels(await global.query(FLEET_QUERY), ['route']);
    expect(fromGlobal).toEqual(fromLocal);
    expect(fromGlobal).toEqual(plans.map(countsByRoute).reduce(addCounts, {}));
  });

  it("keeps each instance's job and instance labels", async () => {
    const perInstance = vectorByLabels(
      await global.query(`sum by (job, instance) (http_server_requests_total{job="${JOB}"})`),
      ['job', 'instance'],
    );
    expect(perInstance).toEqual({
      [`${JOB} ${demos[0].metricsTarget}`]: plans[0].length,
      [`${JOB} ${demos[1].metricsTarget}`]: plans[1].length,
    });
    // Can fail: without honor_labels the series would be job="federate", and this would find them.
    expect(await global.query('http_server_requests_total{job="federate"}')).toEqual([]);
  });
});
