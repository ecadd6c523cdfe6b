import { describe, expect, it } from 'vitest';
import { counter, distribution, lastValue, sum, summary } from '../../src/index.js';
import { conversionRatio } from '../../src/metrics/units.js';

describe('metric names', () => {
  it('splits the name into event name and measurement', () => {
    const d = distribution('http.request.stop.duration');
    expect(d.eventName).toBe('http.request.stop');
    expect(d.measurement).toBe('duration');
    expect(d.type).toBe('distribution');
    expect(d.unit).toBe('unit');
    expect(d.tags).toEqual([]);
    expect(Object.isFrozen(d)).toBe(true);
  });

  it('lets eventName and measurement give a metric any name', () => {
    const c = counter('http.request.count', { eventName: 'http.request.stop', measurement: 'duration' });
    expect(c.eventName).toBe('http.request.stop');
    expect(c.measurement).toBe('duration');
    const flat = counter('http_server_requests_total', {
      eventName: 'http.server.request.stop',
      measurement: 'duration',
    });
    expect(flat.eventName).toBe('http.server.request.stop');
  });

  it.each([
    ['', /non-empty/],
    ['.a.b', /leading, trailing or consecutive dots/],
    ['a.b.', /leading, trailing or consecutive dots/],
    ['a..b', /leading, trailing or consecutive dots/],
  ])('rejects the name %j', (name, message) => {
    expect(() => counter(name)).toThrow(message);
  });

  it('requires eventName for a single-segment name, naming the metric and option', () => {
    expect(() => sum('orders')).toThrow('metric "orders": option eventName is required');
  });
});

describe('options', () => {
  it('accepts every Telemetry.Metrics option', () => {
    const keep = () => true;
    const tagValues = (md: Record<string, unknown>) => md;
    const d = summary('db.query.stop.duration', {
      tags: ['table'],
      tagValues,
      keep,
      description: 'Query time',
      unit: ['native', 'millisecond'],
      reporterOptions: { quantiles: [0.5], other: 'kept' },
    });
    expect(d.tags).toEqual(['table']);
    expect(d.tagValues).toBe(tagValues);
    expect(d.keep).toBe(keep);
    expect(d.description).toBe('Query time');
    expect(d.unit).toBe('millisecond');
    expect(d.unitRatio).toBe(1e-6);
    expect(d.reporterOptions).toEqual({ quantiles: [0.5], other: 'kept' });
  });

  it('stores drop as the negation of keep, and rejects both together', () => {
    const d = counter('a.b', { drop: (md) => md.skip === true });
    expect(d.keep!({ skip: true }, {})).toBe(false);
    expect(d.keep!({ skip: false }, {})).toBe(true);
    expect(() => counter('a.b', { keep: () => true, drop: () => false })).toThrow(
      'metric "a.b": option keep and drop are mutually exclusive',
    );
  });

  it('accepts a measurement function of measurements and metadata', () => {
    const fn = (m: Record<string, unknown>, md: Record<string, unknown>) =>
      (m.a as number) + (md.b as number);
    expect(lastValue('x.y', { measurement: fn }).measurement).toBe(fn);
  });

  it.each([
    [{ tags: 'route' }, 'option tags must be an array'],
    [{ tags: ['a', 'a'] }, 'option tags lists a tag twice'],
    [{ measurement: 42 }, 'option measurement must be'],
    [{ description: 7 }, 'option description must be a string'],
    [{ unit: ['second'] }, 'option unit must be a unit name or a [from, to] pair'],
    [{ unit: ['second', 'byte'] }, 'option unit: cannot convert "second" to "byte"'],
    [{ unit: ['hour', 'second'] }, 'option unit: cannot convert "hour" to "second"'],
    [{ reporterOptions: [] }, 'option reporterOptions must be an object'],
    [
      { reporterOptions: { prometheusType: 'sum' } },
      "option reporterOptions.prometheusType must be 'counter' or 'gauge'",
    ],
    [{ reporterOptions: { buckets: [1] } }, 'option reporterOptions.buckets applies to distributions only'],
    [{ eventName: 'a..b' }, 'option eventName "a..b" contains'],
    [{ tagz: ['a'] }, 'option tagz is unknown'],
  ])('rejects %j with a message that names the metric and option', (options, message) => {
    expect(() => sum('shop.order.amount', options as never)).toThrow(
      `metric "shop.order.amount": ${message}`,
    );
  });

  it('validates distribution and summary reporter options', () => {
    expect(() => distribution('a.b', { reporterOptions: { quantiles: [0.5] } })).toThrow(
      /quantiles applies to summaries/,
    );
    expect(() => summary('a.b', { reporterOptions: { quantiles: [1.5] } })).toThrow(/numbers in \[0, 1\]/);
    expect(() => summary('a.b', { reporterOptions: { maxAgeSeconds: 0 } })).toThrow(/maxAgeSeconds/);
    expect(() => summary('a.b', { reporterOptions: { ageBuckets: 0 } })).toThrow(/ageBuckets/);
    expect(() => summary('a.b', { reporterOptions: { relativeAccuracy: 2 } })).toThrow(/relativeAccuracy/);
    expect(() => counter('a.b', { reporterOptions: { maxSeries: 0 } })).toThrow(/maxSeries/);
    expect(() => lastValue('a.b', { reporterOptions: { prometheusType: 'counter' } })).toThrow(
      /'gauge' for a last_value/,
    );
  });
});

describe('unit conversion (Telemetry.Metrics ratios)', () => {
  const time = ['native', 'second', 'millisecond', 'microsecond', 'nanosecond'] as const;
  const perSecond: Record<(typeof time)[number], number> = {
    native: 1e9,
    nanosecond: 1e9,
    microsecond: 1e6,
    millisecond: 1e3,
    second: 1,
  };

  it.each(time.flatMap((from) => time.map((to) => [from, to] as const)))('time %s → %s', (from, to) => {
    const ratio = conversionRatio(from, to, 'm');
    const up = Math.floor(perSecond[to] / perSecond[from]);
    // Up-conversions are exact integers; down-conversions are 1/n, bit for bit as Erlang computes them.
    expect(ratio).toBe(up !== 0 ? up : 1 / Math.floor(perSecond[from] / perSecond[to]));
  });

  it.each([
    ['second', 'millisecond', 1000],
    ['millisecond', 'native', 1_000_000],
    ['second', 'native', 1_000_000_000],
    ['microsecond', 'millisecond', 0.001],
    ['native', 'millisecond', 1e-6],
    ['native', 'microsecond', 1e-3],
    ['native', 'second', 1e-9],
    ['native', 'nanosecond', 1],
    ['byte', 'kilobyte', 0.001],
    ['kilobyte', 'byte', 1000],
    ['byte', 'megabyte', 1e-6],
    ['megabyte', 'kilobyte', 1000],
    ['byte', 'byte', 1],
  ])('%s → %s is exactly %d', (from, to, ratio) => {
    expect(conversionRatio(from, to, 'm')).toBe(ratio);
  });

  it('makes the target unit the metric unit and leaves an unconverted metric at ratio 1', () => {
    expect(lastValue('vm.memory.total', { unit: ['byte', 'kilobyte'] })).toMatchObject({
      unit: 'kilobyte',
      unitRatio: 0.001,
    });
    expect(lastValue('vm.memory.total', { unit: 'byte' })).toMatchObject({ unit: 'byte', unitRatio: 1 });
  });
});

describe('warnings at definition time', () => {
  it('warns once that a distribution of system_time lands every event in +Inf', async () => {
    const { setLogger } = await import('../../src/index.js');
    const warnings: string[] = [];
    setLogger({ warn: (_f, m) => warnings.push(m), error: () => {} });
    try {
      distribution('phoenix.endpoint.start.system_time', { unit: ['native', 'millisecond'] });
      distribution('phoenix.endpoint.start.system_time', { unit: ['native', 'millisecond'] });
      distribution('phoenix.endpoint.stop.duration', { unit: ['native', 'millisecond'] });
    } finally {
      setLogger(null);
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('phoenix.endpoint.start.system_time');
  });
});
