/**
 * The text formats of distributions with native buckets: a native-only histogram is written as client_golang writes
 * it in text (one `+Inf` bucket, the sum and the count), and both judges accept it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distribution, execute, Telemeter } from '../../src/index.js';
import { parseOpenMetricsStrict } from '../support/openmetrics-parser.js';
import { checkMetrics } from '../support/promtool.js';
import { requirePromtool, requirePythonPrometheusClient } from '../support/tools.js';

const hasPromtool = requirePromtool();
const hasPython = requirePythonPrometheusClient();

describe('native distributions in Prometheus text and OpenMetrics', () => {
  let telemeter: Telemeter;
  beforeAll(() => {
    telemeter = new Telemeter({
      selfMetrics: false,
      metrics: [
        distribution('nt.req.duration', {
          tags: ['route'],
          unit: ['millisecond', 'second'],
          reporterOptions: { histogram: 'native' },
        }),
        distribution('nt.req.latency', {
          eventName: 'nt.req',
          measurement: 'duration',
          unit: ['millisecond', 'second'],
          reporterOptions: { histogram: 'both', buckets: [0.1, 1] },
        }),
      ],
    });
    for (const ms of [20, 200, 2000, 0]) execute('nt.req', { duration: ms }, { route: '/a"\\' });
  });
  afterAll(() => telemeter.close());

  it('writes a native-only histogram as one +Inf bucket, its sum and its count', () => {
    expect(telemeter.scrape()).toContain(
      [
        '# TYPE nt_req_duration histogram',
        'nt_req_duration_bucket{route="/a\\"\\\\",le="+Inf"} 4',
        'nt_req_duration_sum{route="/a\\"\\\\"} 2.22',
        'nt_req_duration_count{route="/a\\"\\\\"} 4',
      ].join('\n'),
    );
  });

  it.skipIf(!hasPromtool)('promtool check metrics: no error and no lint', async () => {
    const result = await checkMetrics(telemeter.scrape());
    expect(result.ok, result.stderr + result.lint.join('\n')).toBe(true);
  });

  it.skipIf(!hasPython)('the strict OpenMetrics parser reads the count and the sum back', async () => {
    const result = await parseOpenMetricsStrict(telemeter.scrape({ format: 'openmetrics' }));
    expect(result.ok, result.error).toBe(true);
    const families = new Map(result.families!.map((f) => [f.name, f]));
    for (const name of ['nt_req_duration', 'nt_req_latency']) {
      const samples = families.get(name)!.samples;
      expect(samples.find((s) => s.name === `${name}_count`)?.value).toBe(4);
      expect(samples.find((s) => s.name === `${name}_sum`)?.value).toBeCloseTo(2.22, 12);
      expect(samples.find((s) => s.labels.le === '+Inf')?.value).toBe(4);
    }
  });
});
