/**
 * pushToGateway and deleteFromGateway against Debian's prometheus-pushgateway, scraped by a real Prometheus with
 * `honor_labels: true`, as docs/pushgateway.md tells users to run it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  counter,
  distribution,
  execute,
  lastValue,
  type MetricDefinition,
  sum,
  summary,
  Telemeter,
  type TelemeterOptions,
} from '../../src/index.js';
import { deleteFromGateway, PushgatewayError, pushToGateway } from '../../src/pushgateway/index.js';
import { ROOT } from '../docs/snippets.js';
import { type PrometheusHandle, promNumber, startPrometheus } from '../support/prometheus-server.js';
import { checkRules } from '../support/promtool.js';
import { type PushgatewayHandle, startPushgateway } from '../support/pushgateway-server.js';
import { samples } from '../support/samples.js';
import { freePort, requirePrometheus, requirePushgateway } from '../support/tools.js';

const hasPushgateway = requirePushgateway();
const hasPrometheus = requirePrometheus();

const telemeters: Telemeter[] = [];
function make(metrics: MetricDefinition[], options: Partial<TelemeterOptions> = {}): Telemeter {
  const telemeter = new Telemeter({ metrics, ...options });
  telemeters.push(telemeter);
  return telemeter;
}

/** `name{a="1",b="2"}` with the labels sorted and bounds as numbers (`le="100.0"` and `le="100"` are one series). */
function seriesKey(name: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => {
      const value = (k === 'le' || k === 'quantile') && v !== '+Inf' ? String(Number(v)) : v;
      return `${k}=${JSON.stringify(value)}`;
    });
  return `${name}{${pairs.join(',')}}`;
}

/** The name and labels of a sample key of test/support/samples.ts (`name{a="x"}` or `name`). */
function parseKey(sampleKey: string): { name: string; labels: Record<string, string> } {
  const brace = sampleKey.indexOf('{');
  if (brace < 0) return { name: sampleKey, labels: {} };
  const labels: Record<string, string> = {};
  for (const m of sampleKey.slice(brace + 1, -1).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[m[1]] = JSON.parse(`"${m[2]}"`);
  }
  return { name: sampleKey.slice(0, brace), labels };
}

/** The alert rules of docs/pushgateway.md (its YAML block with `groups:`) and their expressions, by alert name. */
function documentedRules(): { yaml: string; exprs: Map<string, string> } {
  const page = readFileSync(join(ROOT, 'docs', 'pushgateway.md'), 'utf8');
  const yaml = [...page.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1])
    .find((y) => y.startsWith('groups:'));
  if (yaml === undefined) throw new Error('docs/pushgateway.md has no alert rules');
  const exprs = new Map<string, string>();
  for (const rule of yaml.split(/\n\s*- alert: /).slice(1)) {
    const name = rule.slice(0, rule.indexOf('\n'));
    const folded = /\n\s*expr: >-\n((?:\s{10,}.*\n)+)/.exec(rule);
    const expr = folded ? folded[1].replace(/\s+/g, ' ').trim() : /\n\s*expr: (.*)/.exec(rule)?.[1];
    if (expr === undefined) throw new Error(`alert ${name} has no expr`);
    exprs.set(name, expr);
  }
  return { yaml, exprs };
}

/** A gateway group's value of a gauge or counter series, as the gateway renders it. */
function gatewayValue(
  group: { families: Record<string, { metrics: Array<Record<string, unknown>> }> } | undefined,
  family: string,
): string | undefined {
  return group?.families[family]?.metrics[0]?.value as string | undefined;
}

describe.skipIf(!hasPushgateway)('pushToGateway and deleteFromGateway with a real Pushgateway', () => {
  let gateway: PushgatewayHandle;

  beforeAll(async () => {
    gateway = await startPushgateway();
  });
  afterAll(async () => {
    for (const telemeter of telemeters) telemeter.close();
    await gateway?.stop();
  });

  describe.skipIf(!hasPrometheus)('scraped by Prometheus with honor_labels', () => {
    let prometheus: PrometheusHandle;
    beforeAll(async () => {
      prometheus = await startPrometheus([
        { jobName: 'pushgateway', targets: [gateway.target], extra: { honor_labels: true } },
      ]);
    });
    afterAll(async () => {
      await prometheus?.stop();
    });

    it.each([
      ['text', 'nightly'],
      ['protobuf', 'nightly_pb'],
    ] as const)(
      "stores every metric type of a batch job pushed as %s exactly as the job's own scrape shows it",
      async (format, job) => {
        const telemeter = make([
          counter('nightly.rows', { eventName: 'nightly.row', measurement: 'bytes', tags: ['table'] }),
          sum('nightly.row.bytes', { tags: ['table'] }),
          lastValue('nightly.last_success_timestamp_seconds', {
            eventName: 'nightly.success',
            measurement: 'at',
          }),
          summary('nightly.row.duration', { unit: ['native', 'second'] }),
          distribution('nightly.row.size', {
            eventName: 'nightly.row',
            measurement: 'bytes',
            unit: 'byte',
            reporterOptions: { buckets: [100, 1000] },
          }),
        ]);
        const rows: Array<[string, number, number]> = [
          ['orders', 0.1, 1_250_000],
          ['orders', 0.2, 3_500_000],
          ['orders', 2048, 7_000_000],
          ['customers', 1e-7, 900_000],
          ['customers', 999.75, 12_345_678],
        ];
        for (const [table, bytes, duration] of rows) execute('nightly.row', { bytes, duration }, { table });
        execute('nightly.success', { at: 1_754_321_098.123 });

        const pushedAt = Date.now();
        await pushToGateway(telemeter, {
          url: gateway.url,
          job,
          grouping: { shard: 'eu/west' },
          gzip: true,
          format,
        });
        await prometheus.waitForScrapesAfter(pushedAt);

        // What Prometheus stores is what the job's own scrape shows, with the group's labels added.
        const expected = new Map<string, number>();
        for (const [key, value] of samples(telemeter.scrape())) {
          const { name, labels } = parseKey(key);
          expected.set(seriesKey(name, { ...labels, job, shard: 'eu/west' }), value);
        }
        const stored = new Map<string, number>();
        for (const series of await prometheus.query(`{job="${job}",__name__!~"push_.*"}`)) {
          const { __name__: name, ...labels } = series.metric as Record<string, string>;
          stored.set(seriesKey(name, labels), promNumber(series.value[1]));
        }
        expect(stored.size).toBeGreaterThan(20);
        expect(stored).toEqual(expected);
        expect(stored.get(`nightly_row_bytes_total{job="${job}",shard="eu/west",table="orders"}`)).toBe(
          2048.3,
        );
        expect(stored.get(`nightly_row_size_bucket{job="${job}",le="100",shard="eu/west"}`)).toBe(3);
        expect(stored.get(`nightly_last_success_timestamp_seconds{job="${job}",shard="eu/west"}`)).toBe(
          1_754_321_098.123,
        );

        const pushTime = await prometheus.queryValue(`push_time_seconds{job="${job}",shard="eu/west"}`);
        expect(pushTime).toBeGreaterThanOrEqual(Math.floor(pushedAt / 1000));
        const types = new Map<string, string>(
          (await prometheus.metadata('pushgateway')).map((entry: { metric: string; type: string }) => [
            entry.metric,
            entry.type,
          ]),
        );
        expect(types.get('nightly_rows_total')).toBe('counter');
        expect(types.get('nightly_row_bytes_total')).toBe('counter');
        expect(types.get('nightly_last_success_timestamp_seconds')).toBe('gauge');
        expect(types.get('nightly_row_duration')).toBe('summary');
        expect(types.get('nightly_row_size')).toBe('histogram');
      },
    );

    it('the alert rules of docs/pushgateway.md pass promtool and tell a success from a failed last run', async () => {
      const { yaml, exprs } = documentedRules();
      const promtool = await checkRules(yaml);
      expect(promtool.ok, promtool.stderr).toBe(true);
      expect([...exprs.keys()]).toEqual(['BackupNotSucceededForADay', 'BackupLastRunFailed']);
      const firing = async () => {
        const names: string[] = [];
        for (const [name, expr] of exprs) {
          const result = await prometheus.query(expr);
          if (result.length > 0) {
            expect(result.map((r: { metric: Record<string, string> }) => r.metric.database)).toEqual([
              'customers',
            ]);
            names.push(name);
          }
        }
        return names;
      };
      // The docs' job: files counted on every run, the success timestamp only on success, push-add at the end.
      const run = async (successAt: number | undefined) => {
        const telemeter = make(
          [
            counter('backup.files', { eventName: 'backup.file', measurement: 'bytes' }),
            lastValue('backup.last_success_timestamp_seconds', {
              eventName: 'backup.success',
              measurement: 'at',
              tags: ['database'],
            }),
          ],
          { selfMetrics: false },
        );
        execute('backup.file', { bytes: 1 });
        if (successAt !== undefined) execute('backup.success', { at: successAt }, { database: 'customers' });
        const pushedAt = Date.now();
        await pushToGateway(telemeter, {
          url: gateway.url,
          job: 'backup',
          grouping: { database: 'customers' },
          method: 'post',
        });
        telemeter.close();
        await prometheus.waitForScrapesAfter(pushedAt);
      };

      await run(Date.now() / 1000);
      expect(await firing()).toEqual([]);
      // A success 27 hours ago (the run of yesterday, backdated), then a run that fails.
      await run(Date.now() / 1000 - 27 * 3600);
      await run(undefined);
      expect(await firing()).toEqual(['BackupNotSucceededForADay', 'BackupLastRunFailed']);
    });
  });

  it('put replaces the whole group; post replaces only the names it pushes, every series of each', async () => {
    const definitions = () => [
      counter('report.rows', { eventName: 'report.row', measurement: 'n', tags: ['table'] }),
      // Tagged, so it has no series until the run succeeds: a failed run's body leaves it out.
      lastValue('report.last_success_timestamp_seconds', {
        eventName: 'report.success',
        measurement: 'at',
        tags: ['dataset'],
      }),
    ];
    const target = { url: gateway.url, job: 'report' };
    const rows = async () =>
      (await gateway.group({ job: 'report' }))?.families.report_rows_total?.metrics.map(
        (m) => `${(m.labels as Record<string, string>).table} ${m.value}`,
      );
    const lastSuccess = async () =>
      gatewayValue(await gateway.group({ job: 'report' }), 'report_last_success_timestamp_seconds');

    // Run 1 succeeds.
    const first = make(definitions(), { selfMetrics: false });
    for (let i = 0; i < 3; i++) execute('report.row', { n: 1 }, { table: 'orders' });
    execute('report.success', { at: 1_700_000_000 }, { dataset: 'orders' });
    await pushToGateway(first, target);
    first.close();
    expect(await rows()).toEqual(['orders 3']);
    expect(await lastSuccess()).toBe('1.7e+09');

    // Run 2 fails, and pushes with post: its rows replace all of run 1's, the success timestamp stays.
    const second = make(definitions(), { selfMetrics: false });
    execute('report.row', { n: 1 }, { table: 'customers' });
    expect(second.scrape()).toMatch(/^# TYPE report_last_success_timestamp_seconds gauge$/m);
    expect(second.scrape()).not.toMatch(/^report_last_success_timestamp_seconds/m);
    await pushToGateway(second, { ...target, method: 'post' });
    expect(await rows()).toEqual(['customers 1']);
    expect(await lastSuccess()).toBe('1.7e+09');

    // Run 2 pushed again with put (the default): the group is only what this body holds.
    await pushToGateway(second, target);
    second.close();
    expect(await rows()).toEqual(['customers 1']);
    expect(await lastSuccess()).toBeUndefined();
  });

  it('carries grouping values with /, empty, dot segments and other hostile text exactly', async () => {
    const values = [
      '/var/backups',
      '',
      '.',
      '..',
      '/',
      '//',
      'x/',
      'a b',
      '100%',
      '%2F',
      'a?b#c',
      'a\\b',
      'a+b',
      "it's",
      'zürich ✓',
      '😀',
      '=',
    ];
    const grouping = Object.fromEntries(values.map((value, i) => [`l${i}`, value]));
    const telemeter = make([lastValue('grouping.value', { eventName: 'grouping', measurement: 'v' })], {
      selfMetrics: false,
    });
    execute('grouping', { v: 42 });
    for (const job of ['hostile', 'a/b', '..']) {
      await pushToGateway(telemeter, { url: gateway.url, job, grouping });
      const group = await gateway.group({ job, ...grouping });
      expect(group?.labels, `job ${job}`).toEqual({ job, ...grouping });
      expect(gatewayValue(group, 'grouping_value')).toBe('42');
      await deleteFromGateway({ url: gateway.url, job, grouping });
      expect(await gateway.group({ job, ...grouping })).toBeUndefined();
    }
  });

  it('delete removes exactly the one group, from the API and from the /metrics page', async () => {
    const telemeter = make([lastValue('cleanup.value', { eventName: 'cleanup', measurement: 'v' })], {
      selfMetrics: false,
    });
    execute('cleanup', { v: 7 });
    await pushToGateway(telemeter, { url: gateway.url, job: 'cleanup', grouping: { instance: 'a' } });
    await pushToGateway(telemeter, { url: gateway.url, job: 'cleanup', grouping: { instance: 'b' } });
    expect(await gateway.metricsPage()).toContain('cleanup_value{instance="a",job="cleanup"} 7');

    await deleteFromGateway({ url: gateway.url, job: 'cleanup', grouping: { instance: 'a' } });
    expect(await gateway.group({ job: 'cleanup', instance: 'a' })).toBeUndefined();
    expect(gatewayValue(await gateway.group({ job: 'cleanup', instance: 'b' }), 'cleanup_value')).toBe('7');
    const page = await gateway.metricsPage();
    expect(page).not.toContain('instance="a",job="cleanup"');
    expect(page).toContain('cleanup_value{instance="b",job="cleanup"} 7');

    // Deleting a group that is not there is no error: the gateway queues it all the same.
    await expect(deleteFromGateway({ url: gateway.url, job: 'never-pushed' })).resolves.toBeUndefined();
  });

  it('rejects, with the status and the gateway message, a push whose types clash with another group', async () => {
    const asCounter = make([counter('clash.total', { eventName: 'clash', measurement: 'v' })], {
      selfMetrics: false,
    });
    const asGauge = make([lastValue('clash.total', { eventName: 'clash', measurement: 'v' })], {
      selfMetrics: false,
    });
    execute('clash', { v: 5 });
    await pushToGateway(asCounter, { url: gateway.url, job: 'clash-counter' });

    const error = await pushToGateway(asGauge, { url: gateway.url, job: 'clash-gauge' }).then(
      () => undefined,
      (e: unknown) => e as PushgatewayError,
    );
    expect(error).toBeInstanceOf(PushgatewayError);
    expect(error?.code).toBe('ERR_TELEMETER_PUSH_FAILED');
    expect(error?.status).toBe(400);
    expect(error?.method).toBe('PUT');
    expect(error?.url).toBe(`${gateway.url}/metrics/job/clash-gauge`);
    expect(error?.body).toMatch(/^pushed metrics are invalid or inconsistent with existing metrics: /);
    expect(error?.body).toContain('clash_total');
    expect(error?.message).toBe(
      `telemeter/pushgateway: PUT ${gateway.url}/metrics/job/clash-gauge answered 400 Bad Request: ${error?.body}`,
    );
    // The refused group holds no metric, only the time of the failure.
    const refused = await gateway.group({ job: 'clash-gauge' });
    expect(refused?.families.clash_total).toBeUndefined();
    expect(Number(gatewayValue(refused, 'push_failure_time_seconds'))).toBeGreaterThan(0);
    expect(gatewayValue(await gateway.group({ job: 'clash-counter' }), 'clash_total')).toBe('1');
  });

  it('rejects a push to a path the gateway does not serve, and one to a closed port', async () => {
    const telemeter = make([counter('lost.count', { eventName: 'lost', measurement: 'v' })]);
    const notFound = await pushToGateway(telemeter, { url: `${gateway.url}/prefix`, job: 'lost' }).catch(
      (e: PushgatewayError) => e,
    );
    expect(notFound).toMatchObject({ code: 'ERR_TELEMETER_PUSH_FAILED', status: 404 });
    expect((notFound as Error).message).toContain(`PUT ${gateway.url}/prefix/metrics/job/lost answered 404`);

    const closed = await freePort();
    const refused = await pushToGateway(telemeter, { url: `http://127.0.0.1:${closed}`, job: 'lost' }).catch(
      (e: PushgatewayError) => e,
    );
    expect(refused).toMatchObject({ code: 'ERR_TELEMETER_PUSH_FAILED', status: undefined, body: '' });
    expect((refused as Error).message).toBe(
      `telemeter/pushgateway: PUT http://127.0.0.1:${closed}/metrics/job/lost failed: connect ECONNREFUSED 127.0.0.1:${closed}`,
    );
    expect((refused as Error).cause).toBeInstanceOf(Error);
  });
});
