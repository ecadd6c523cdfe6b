/**
 * Proves the outside judges can say "no": each one is fed handwritten bodies, valid and invalid,
 * and must pass/fail them correctly. A judge that accepts everything would make every suite that
 * relies on it worthless.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTENT_TYPE_OPENMETRICS,
  type FixtureServer,
  negotiateFormat,
  serveText,
} from './support/fixture-server.js';
import { parseOpenMetricsStrict, parsePrometheusText } from './support/openmetrics-parser.js';
import { type PrometheusHandle, startPrometheus } from './support/prometheus-server.js';
import { checkMetrics, checkRules } from './support/promtool.js';
import {
  freePort,
  requirePrometheus,
  requirePromtool,
  requirePythonPrometheusClient,
  requireTool,
} from './support/tools.js';

const hasPromtool = requirePromtool();
const hasPython = requirePythonPrometheusClient();
const hasPrometheus = requirePrometheus();

const VALID_TEXT = [
  '# HELP http_requests_total Requests served.',
  '# TYPE http_requests_total counter',
  'http_requests_total{code="200",path="/a\\\\b \\"q\\" \\n"} 3',
  '# HELP latency_seconds Latency.',
  '# TYPE latency_seconds histogram',
  'latency_seconds_bucket{le="0.1"} 1',
  'latency_seconds_bucket{le="1"} 2',
  'latency_seconds_bucket{le="+Inf"} 3',
  'latency_seconds_sum 4.5',
  'latency_seconds_count 3',
  '',
].join('\n');

const VALID_OM = [
  '# TYPE http_requests counter',
  '# HELP http_requests Requests served.',
  'http_requests_total{code="200"} 3',
  'http_requests_created{code="200"} 1700000000.5',
  '# TYPE latency_seconds histogram',
  '# UNIT latency_seconds seconds',
  '# HELP latency_seconds Latency.',
  'latency_seconds_bucket{le="0.1"} 1',
  'latency_seconds_bucket{le="1.0"} 2',
  'latency_seconds_bucket{le="+Inf"} 3',
  'latency_seconds_sum 4.5',
  'latency_seconds_count 3',
  '# TYPE temperature gauge',
  '# HELP temperature Odd values.',
  'temperature{k="nan"} NaN',
  'temperature{k="inf"} +Inf',
  'temperature{k="ninf"} -Inf',
  '# EOF',
  '',
].join('\n');

describe('requireTool', () => {
  it('finds an existing binary', () => {
    expect(requireTool('/bin/sh')).toBe(true);
  });

  it('returns false outside CI and throws in CI for a missing tool', () => {
    const saved = process.env.CI;
    try {
      process.env.CI = 'false';
      expect(requireTool('/nonexistent/harness-tool', { debianPackage: 'harness-pkg' })).toBe(false);
      process.env.CI = 'true';
      expect(() => requireTool('/nonexistent/harness-tool', { debianPackage: 'harness-pkg' })).toThrow(
        /\/nonexistent\/harness-tool.*harness-pkg/,
      );
    } finally {
      if (saved === undefined) delete process.env.CI;
      else process.env.CI = saved;
    }
  });

  it('freePort gives a loopback port and refuses other hosts', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(() => freePort('0.0.0.0')).toThrow(/loopback/);
  });

  it('negotiates the format like a scrape endpoint', () => {
    const prometheusAccept =
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    expect(negotiateFormat(prometheusAccept)).toBe('openmetrics');
    expect(negotiateFormat('text/plain;version=0.0.4')).toBe('text');
    expect(negotiateFormat('*/*')).toBe('text');
    expect(negotiateFormat(undefined)).toBe('text');
    expect(negotiateFormat('application/openmetrics-text;q=0')).toBe('text');
  });
});

describe.skipIf(!hasPromtool)('judge: promtool check metrics (0.0.4)', () => {
  it('passes a valid body', async () => {
    const r = await checkMetrics(VALID_TEXT);
    expect(r, r.stderr).toMatchObject({ code: 0, ok: true, lint: [] });
  });

  it('fails a body without the final LF', async () => {
    const r = await checkMetrics(VALID_TEXT.slice(0, -1));
    expect(r.code).toBe(1);
    expect(r.error).toMatch(/unexpected end of input stream/);
  });

  it('fails an unknown escape \\q in a label value', async () => {
    const r = await checkMetrics('# HELP a A.\n# TYPE a gauge\na{l="x\\q"} 1\n');
    expect(r.code).toBe(1);
    expect(r.error).toMatch(/invalid escape sequence/);
  });

  it('fails CR LF line endings', async () => {
    const r = await checkMetrics(VALID_TEXT.replaceAll('\n', '\r\n'));
    expect(r.code).toBe(1);
  });

  it('reports lint problems with exit 3 (counter without _total, missing HELP)', async () => {
    const r = await checkMetrics('# TYPE jobs counter\njobs 1\n');
    expect(r.code).toBe(3);
    expect(r.lint).toEqual(['jobs counter metrics should have "_total" suffix', 'jobs no help text']);
  });

  it('lints non-base units', async () => {
    const r = await checkMetrics('# HELP d_milliseconds D.\n# TYPE d_milliseconds gauge\nd_milliseconds 1\n');
    expect(r.code).toBe(3);
    expect(r.lint.join('\n')).toMatch(/base unit "seconds"/);
  });
});

describe.skipIf(!hasPromtool)('judge: promtool check rules', () => {
  it('passes valid rules and fails a broken expression', async () => {
    const good = await checkRules(
      'groups:\n  - name: g\n    rules:\n      - record: job:x:rate1m\n        expr: rate(x_total[1m])\n',
    );
    expect(good, good.stderr).toMatchObject({ code: 0, ok: true });
    const bad = await checkRules(
      JSON.stringify({ groups: [{ name: 'g', rules: [{ record: 'r', expr: 'rate(x_total[1m]' }] }] }),
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/parse error/);
  });
});

describe.skipIf(!hasPython)('judge: prometheus_client OpenMetrics parser (strict)', () => {
  it('passes a valid body and reads values, NaN and infinities back', async () => {
    const r = await parseOpenMetricsStrict(VALID_OM);
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    const byName = Object.fromEntries(r.families!.map((f) => [f.name, f]));
    expect(byName.http_requests).toMatchObject({ type: 'counter', help: 'Requests served.' });
    expect(byName.http_requests.samples[0]).toEqual({
      name: 'http_requests_total',
      labels: { code: '200' },
      value: 3,
    });
    expect(byName.latency_seconds).toMatchObject({ type: 'histogram', unit: 'seconds' });
    const temps = Object.fromEntries(byName.temperature.samples.map((s) => [s.labels.k, s.value]));
    expect(temps).toEqual({ nan: Number.NaN, inf: Number.POSITIVE_INFINITY, ninf: Number.NEGATIVE_INFINITY });
  });

  it('accepts a missing LF after # EOF (the OpenMetrics ABNF makes it optional)', async () => {
    expect((await parseOpenMetricsStrict(VALID_OM.slice(0, -1))).ok).toBe(true);
  });

  const invalid: Array<[string, string, RegExp]> = [
    ['missing # EOF', VALID_OM.replace('# EOF\n', ''), /Missing # EOF/],
    ['a line after # EOF', `${VALID_OM}x 1\n`, /after # EOF/],
    ['a blank line', VALID_OM.replace('# TYPE temperature', '\n# TYPE temperature'), /blank line/],
    ['CR LF line endings', VALID_OM.replaceAll('\n', '\r\n'), /Invalid/],
    ['a counter sample without _total', '# TYPE jobs counter\njobs 1\n# EOF\n', /Clashing name/],
    [
      'buckets out of order',
      '# TYPE h histogram\nh_bucket{le="1.0"} 2\nh_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1.0\nh_count 2\n# EOF\n',
      /Buckets out of order/,
    ],
    [
      'a histogram without +Inf bucket',
      '# TYPE h histogram\nh_bucket{le="1.0"} 2\nh_sum 1.0\nh_count 2\n# EOF\n',
      /\+Inf bucket missing/,
    ],
    [
      'a unit that is not a name suffix',
      '# TYPE d gauge\n# UNIT d seconds\nd 1\n# EOF\n',
      /Unit does not match/,
    ],
    ['metadata after samples', '# TYPE g gauge\ng 1\n# HELP g late\n# EOF\n', /metadata after samples/],
    ['a negative counter', '# TYPE c counter\nc_total -1\n# EOF\n', /cannot be negative/],
    ['an untyped TYPE', '# TYPE u untyped\nu 1\n# EOF\n', /Invalid TYPE/],
  ];
  it.each(invalid)('fails %s', async (_label, body, message) => {
    const r = await parseOpenMetricsStrict(body);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(message);
    expect(r.families).toBeUndefined();
  });

  it('fails invalid UTF-8 (decoded strictly)', async () => {
    const body = Buffer.concat([
      Buffer.from('g{l="'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"} 1\n# EOF\n'),
    ]);
    const r = await parseOpenMetricsStrict(body);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/UnicodeDecodeError/);
  });

  it('(known gap) does not reject an unknown escape such as \\q: use promtool or Prometheus for that', async () => {
    const r = await parseOpenMetricsStrict('g{l="x\\q"} 1\n# EOF\n');
    expect(r.ok).toBe(true);
    expect(r.families![0].samples[0].labels.l).toBe('x\\q');
  });
});

describe.skipIf(!hasPython)('reader: prometheus_client 0.0.4 parser (lenient)', () => {
  it('reads values and unescaped label values back', async () => {
    const r = await parsePrometheusText(VALID_TEXT);
    expect(r.ok, r.error).toBe(true);
    const counter = r.families!.find((f) => f.name === 'http_requests')!;
    expect(counter.type).toBe('counter');
    expect(counter.samples[0]).toEqual({
      name: 'http_requests_total',
      labels: { code: '200', path: '/a\\b "q" \n' },
      value: 3,
    });
  });

  it('still fails garbage', async () => {
    const r = await parsePrometheusText('this is not { an exposition\n');
    expect(r.ok).toBe(false);
  });
});

describe.skipIf(!hasPrometheus)('judge: a real Prometheus scraping fixtures', () => {
  const GOOD_OM =
    '# TYPE harness_value gauge\n# HELP harness_value A value.\nharness_value{k="v"} 1234.5625\n# EOF\n';
  const BAD_OM = '# TYPE harness_value gauge\n# HELP harness_value A value.\nharness_value{k="v"} 7\n';
  let good: FixtureServer;
  let bad: FixtureServer;
  let prom: PrometheusHandle | undefined;

  beforeAll(async () => {
    good = await serveText(() => ({ body: GOOD_OM, contentType: CONTENT_TYPE_OPENMETRICS }));
    bad = await serveText(() => ({ body: BAD_OM, contentType: CONTENT_TYPE_OPENMETRICS }));
    prom = await startPrometheus([
      { jobName: 'good', targets: [good.target] },
      { jobName: 'bad', targets: [bad.target], fileSd: true },
    ]);
  });

  afterAll(async () => {
    await prom?.stop();
    await good?.close();
    await bad?.close();
  });

  it('marks the valid target up and the one without # EOF down, and stores the exact value', async () => {
    const targets = await prom!.waitForTargets();
    const byJob = Object.fromEntries(targets.map((t) => [t.labels.job, t]));
    expect(byJob.good, prom!.logs()).toMatchObject({ health: 'up', lastError: '' });
    expect(byJob.bad.health).toBe('down');
    expect(byJob.bad.lastError).toMatch(/EOF/);

    // Prometheus 2.42 asks for OpenMetrics first.
    expect(good.requests[0].headers.accept).toMatch(/^application\/openmetrics-text;\s*version=1\.0\.0/);

    await prom!.waitForQuery('harness_value{job="good"}', (r) => r.length === 1, 10_000);
    expect(await prom!.queryValue('harness_value{job="good",k="v"}')).toBe(1234.5625);
    expect(await prom!.queryValue('harness_value{job="bad"}')).toBeUndefined();
    expect(await prom!.queryValue('up{job="bad"}')).toBe(0);

    const metadata = await prom!.metadata('good');
    expect(metadata).toContainEqual(
      expect.objectContaining({ metric: 'harness_value', type: 'gauge', help: 'A value.' }),
    );
  });
});
