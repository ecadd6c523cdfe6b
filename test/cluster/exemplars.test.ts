import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeltaApplier, mergeTargetFor } from '../../src/cluster/delta-applier.js';
import { DeltaExporter } from '../../src/cluster/delta-exporter.js';
import { clusterTelemeter } from '../../src/cluster/index.js';
import type { FamilyDelta } from '../../src/cluster/protocol.js';
import {
  counter,
  distribution,
  type Exemplar,
  execute,
  type HistogramFamily,
  type MetricDefinition,
  type ScalarFamily,
  Telemeter,
} from '../../src/index.js';
import { parseOpenMetricsStrict } from '../support/openmetrics-parser.js';

/**
 * Exemplars shipped from workers to the primary without a transport: worker Telemeters, their exporters, a JSON
 * round trip (what cluster IPC does), and the primary's appliers, in this process. Each process listens to an
 * event of its own, so one `execute` records into one of them; the families share their names.
 */

const telemeters: Telemeter[] = [];
afterEach(() => {
  for (const t of telemeters.splice(0)) t.close();
  vi.useRealTimers();
});

function definitions(process: string): MetricDefinition[] {
  const traceOf = (metadata: Record<string, unknown>) =>
    metadata.trace === undefined ? undefined : { trace_id: String(metadata.trace) };
  return [
    counter('cx.req.count', {
      eventName: `cx.${process}`,
      measurement: 'v',
      tags: ['route'],
      exemplar: traceOf,
    }),
    distribution('cx.req.v', {
      eventName: `cx.${process}`,
      tags: ['route'],
      reporterOptions: { buckets: [1, 10] },
      exemplar: traceOf,
    }),
  ];
}

function setUp() {
  const primary = clusterTelemeter({ metrics: definitions('primary') });
  telemeters.push(primary);
  const target = mergeTargetFor(primary, 'worker', function* () {});
  const connect = (name: string) => {
    const worker = new Telemeter({ metrics: definitions(name) });
    telemeters.push(worker);
    const exporter = new DeltaExporter(worker);
    exporter.resume();
    const applier = new DeltaApplier(target, name, () => true);
    return {
      flush(): FamilyDelta[][] {
        const chunks = JSON.parse(JSON.stringify(exporter.collect())) as FamilyDelta[][];
        for (const chunk of chunks) applier.apply(chunk);
        return chunks;
      },
      applier,
    };
  };
  const counterOf = () => primary.metricFamilies.find((f) => f.name === 'cx_req_count_total') as ScalarFamily;
  const histogramOf = () => primary.metricFamilies.find((f) => f.name === 'cx_req_v') as HistogramFamily;
  return { primary, connect, counterOf, histogramOf };
}

const view = (e: Exemplar | undefined) =>
  e && { labelBlock: e.labelBlock, value: e.value, timestamp: e.timestamp };

describe('exemplars across a cluster', () => {
  it('reach the primary with the deltas, the latest of all workers winning, each sent once', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_700_000_000_000 });
    const { primary, connect, counterOf, histogramOf } = setUp();
    const one = connect('w1');
    const two = connect('w2');
    execute('cx.w1', { v: 5 }, { route: '/a', trace: 'early' });
    vi.setSystemTime(1_700_000_001_000);
    execute('cx.w2', { v: 0.5 }, { route: '/a', trace: 'late' });
    // The later one arrives first: the primary keeps it when the earlier one comes.
    two.flush();
    one.flush();
    expect(counterOf().value(0)).toBe(2);
    expect(view(counterOf().exemplar(0))).toEqual({
      labelBlock: 'trace_id="late"',
      value: 1,
      timestamp: 1_700_000_001_000,
    });
    // Buckets are kept apart: 5 is in le=10, 0.5 in le=1.
    expect(view(histogramOf().exemplar(0, 1))).toEqual({
      labelBlock: 'trace_id="early"',
      value: 5,
      timestamp: 1_700_000_000_000,
    });
    expect(view(histogramOf().exemplar(0, 0))).toMatchObject({ labelBlock: 'trace_id="late"', value: 0.5 });

    // An event without an exemplar ships its counts, not the exemplar sent before.
    execute('cx.w1', { v: 5 }, { route: '/a' });
    const [message] = one.flush();
    expect(message.map((family) => family.exemplars)).toEqual([[], []]);
    vi.setSystemTime(1_700_000_002_000);
    execute('cx.w1', { v: 50 }, { route: '/a', trace: 'newest' });
    expect(one.flush()[0].map((family) => family.exemplars)).toEqual([
      [0, 0, 'trace_id="newest"', 1, 1_700_000_002_000],
      [0, 2, 'trace_id="newest"', 50, 1_700_000_002_000],
    ]);
    expect(view(counterOf().exemplar(0))).toMatchObject({ labelBlock: 'trace_id="newest"' });

    const parsed = await parseOpenMetricsStrict(primary.scrape({ format: 'openmetrics' }));
    expect(parsed).toMatchObject({ ok: true });
    const traces = parsed
      .families!.flatMap((f) => f.samples)
      .filter((s) => s.exemplar !== undefined)
      .map((s) => `${s.name}${s.labels.le ? `{le=${s.labels.le}}` : ''} ${s.exemplar!.labels.trace_id}`);
    expect(traces).toEqual([
      'cx_req_count_total newest',
      'cx_req_v_bucket{le=1.0} late',
      'cx_req_v_bucket{le=10.0} early',
      'cx_req_v_bucket{le=+Inf} newest',
    ]);
  });

  it('malformed exemplar entries are skipped without a throw, and well-formed ones still land', () => {
    const { connect, counterOf } = setUp();
    const one = connect('w3');
    execute('cx.w3', { v: 1 }, { route: '/a' });
    one.flush();
    const bad: unknown[] = [
      [0, 0, 'trace_id="a"\n# EOF', 1, 1],
      [0, 0, 'trace_id="a",', 1, 1],
      [0, 0, `trace_id="${'x'.repeat(1000)}"`, 1, 1],
      [0, 0, 42, 1, 1],
      [0, 0, 'trace_id="a"', null, 1],
      [0, 0, 'trace_id="a"', 1, -1],
      [0, 1, 'trace_id="a"', 1, 1],
      [7, 0, 'trace_id="a"', 1, 1],
      [0, 0, 'trace_id="a"'],
    ];
    for (const exemplars of bad) {
      expect(() =>
        one.applier.apply([
          { name: 'cx_req_count_total', shape: 'add', layout: 0, announce: [], data: [], exemplars } as never,
        ]),
      ).not.toThrow();
    }
    expect(counterOf().exemplar(0)).toBeUndefined();
    one.applier.apply([
      {
        name: 'cx_req_count_total',
        shape: 'add',
        layout: 0,
        announce: [],
        data: [],
        exemplars: [0, 0, 'trace_id="ok",note="a\\"b"', 1, 5],
      },
    ]);
    expect(view(counterOf().exemplar(0))).toEqual({
      labelBlock: 'trace_id="ok",note="a\\"b"',
      value: 1,
      timestamp: 5,
    });
  });
});
