/**
 * Exemplars in the text formats: OpenMetrics writes them on `_total` and `_bucket` lines, judged by the strict
 * python OpenMetrics parser; Prometheus text 0.0.4 never has them.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { execute, type Telemeter } from '../../src/index.js';
import { parseOpenMetricsStrict } from '../support/openmetrics-parser.js';
import { closedAfterEach } from '../support/telemeters.js';
import { exemplarFixture, FIXTURE_TIMES } from './exemplar-fixture.js';

const { track } = closedAfterEach();
afterEach(() => {
  vi.useRealTimers();
});

function fixture(prefix: string): Telemeter {
  vi.useFakeTimers({ toFake: ['Date'] });
  const t = exemplarFixture(prefix, (ms) => vi.setSystemTime(ms));
  track(t);
  return t;
}

describe('exemplars in OpenMetrics text', () => {
  it('are written on counter and bucket lines, with the observed value and the time in seconds', () => {
    const body = fixture('om1').scrape({ format: 'openmetrics' });
    const lines = body.split('\n').filter((line) => line.includes(' # {'));
    expect(lines).toEqual([
      'om1_req_count_total{route="/a",service="shop"} 2 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4737",span_id="00f067aa0ba902b8"} 1 1700000001',
      'om1_req_count_total{route="/b",service="shop"} 1 # {trace_id="ünïcödé 日本",span_id="😀"} 1 1700000002.999',
      'om1_req_bytes_total{service="shop"} 600 # {} 300 1700000002.999',
      'om1_req_duration_seconds_bucket{route="/a",service="shop",le="0.1"} 1 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",note="a \\"b\\"\\\\\\n"} 0.05 1700000000.123',
      'om1_req_duration_seconds_bucket{route="/a",service="shop",le="1.0"} 2 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4737",note="a \\"b\\"\\\\\\n"} 0.5 1700000001',
      'om1_req_duration_seconds_bucket{route="/b",service="shop",le="+Inf"} 1 # {trace_id="ünïcödé 日本",note="a \\"b\\"\\\\\\n"} 7.25 1700000002.999',
    ]);
    expect(FIXTURE_TIMES[0] / 1000).toBe(1700000000.123);
  });

  it('parse strictly, each with the labels, value and timestamp recorded', async () => {
    const t = fixture('om2');
    const parsed = await parseOpenMetricsStrict(t.scrape({ format: 'openmetrics', createdSamples: true }));
    expect(parsed).toMatchObject({ ok: true });
    const exemplars = parsed
      .families!.flatMap((f) => f.samples)
      .filter((s) => s.exemplar !== undefined)
      .map((s) => [s.name, s.labels.le ?? s.labels.route, s.exemplar]);
    const note = 'a "b"\\\n';
    expect(exemplars).toEqual([
      [
        'om2_req_count_total',
        '/a',
        {
          labels: { trace_id: '4bf92f3577b34da6a3ce929d0e0e4737', span_id: '00f067aa0ba902b8' },
          value: 1,
          timestamp: 1700000001,
        },
      ],
      [
        'om2_req_count_total',
        '/b',
        { labels: { trace_id: 'ünïcödé 日本', span_id: '😀' }, value: 1, timestamp: 1700000002.999 },
      ],
      ['om2_req_bytes_total', undefined, { labels: {}, value: 300, timestamp: 1700000002.999 }],
      [
        'om2_req_duration_seconds_bucket',
        '0.1',
        {
          labels: { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', note },
          value: 0.05,
          timestamp: 1700000000.123,
        },
      ],
      [
        'om2_req_duration_seconds_bucket',
        '1.0',
        { labels: { trace_id: '4bf92f3577b34da6a3ce929d0e0e4737', note }, value: 0.5, timestamp: 1700000001 },
      ],
      [
        'om2_req_duration_seconds_bucket',
        '+Inf',
        { labels: { trace_id: 'ünïcödé 日本', note }, value: 7.25, timestamp: 1700000002.999 },
      ],
    ]);
  });

  it('the judge fails an exemplar where OpenMetrics 1.0 forbids one, and one over 128 code points', async () => {
    const bad = [
      '# TYPE g gauge\ng 1 # {trace_id="a"} 1\n# EOF\n',
      `# TYPE c counter\nc_total 1 # {trace_id="${'x'.repeat(121)}"} 1\n# EOF\n`,
    ];
    for (const body of bad) expect(await parseOpenMetricsStrict(body)).toMatchObject({ ok: false });
  });

  it('are the only difference from a Telemeter without them (but its exemplar self-metric), and 0.0.4 has none', () => {
    const t = fixture('om3');
    // Another prefix, so that each Telemeter sees only its own events; its names are read back as om3's.
    const other = exemplarFixture('om3n', (ms) => vi.setSystemTime(ms), false);
    track(other);
    const without = { scrape: (o?: object) => other.scrape(o).replace(/om3n([._])/g, 'om3$1') };
    const noExemplarFamily = (body: string) =>
      body.replace(/^# (TYPE|HELP) telemeter_exemplars_dropped(_total)? .*\n/gm, '');
    const om = t.scrape({ format: 'openmetrics' });
    expect(om).toContain(' # {');
    expect(noExemplarFamily(om.replace(/ # \{.*$/gm, ''))).toBe(without.scrape({ format: 'openmetrics' }));
    expect(t.scrape()).not.toContain(' # {');
    expect(noExemplarFamily(t.scrape())).toBe(without.scrape());
    expect(without.scrape({ format: 'openmetrics' })).not.toContain('exemplars_dropped');
  });

  it('keep the time they were recorded: a later scrape writes the same exemplar', () => {
    const t = fixture('om5');
    const first = t.scrape({ format: 'openmetrics' });
    vi.setSystemTime(1_800_000_000_000);
    expect(t.scrape({ format: 'openmetrics' })).toBe(first);
    execute('om5.req', { duration: 0.07, bytes: 1 }, { route: '/a', trace: 'later', span: 's' });
    expect(t.scrape({ format: 'openmetrics' })).toContain(
      'om5_req_duration_seconds_bucket{route="/a",service="shop",le="0.1"} 2 # {trace_id="later",note="a \\"b\\"\\\\\\n"} 0.07 1800000000\n',
    );
  });
});
