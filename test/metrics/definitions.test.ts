import { describe, expect, it } from 'vitest';
import { counter, distribution, lastValue, sum, summary } from '../../src/index.js';
import { conversionRatio } from '../../src/metrics/units.js';
import { thrown } from '../support/thrown.js';

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
      reporterOptions: { quantiles: [0.5], thirdParty: { statsd: { sampleRate: 0.5 } } },
    });
    expect(d.tags).toEqual(['table']);
    expect(d.tagValues).toBe(tagValues);
    expect(d.keep).toBe(keep);
    expect(d.description).toBe('Query time');
    expect(d.unit).toBe('millisecond');
    expect(d.unitRatio).toBe(1e-6);
    expect(d.reporterOptions).toEqual({ quantiles: [0.5], thirdParty: { statsd: { sampleRate: 0.5 } } });
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

describe('options that can never work fail at definition time, with a code', () => {
  it('rejects an unknown option and names the closest valid one', () => {
    const error = thrown(() => counter('a.b', { tag: ['x'] } as never));
    expect(error.code).toBe('ERR_TELEMETER_UNKNOWN_OPTION');
    expect(error.name).toBe('TypeError');
    expect(error.message).toContain('metric "a.b": option tag is unknown (did you mean tags?');
    expect(thrown(() => counter('a.b', { eventname: 'x.y' } as never)).message).toContain(
      'did you mean eventName?',
    );
    // Nothing close: no guess, just the list.
    expect(thrown(() => counter('a.b', { zzzzzz: 1 } as never)).message).toMatch(
      /option zzzzzz is unknown \(valid: eventName, measurement/,
    );
  });

  it('rejects an unknown reporter option, and keeps other reporters’ options under thirdParty', () => {
    const error = thrown(() => distribution('a.b', { reporterOptions: { bucket: [1, 2] } as never }));
    expect(error.code).toBe('ERR_TELEMETER_UNKNOWN_OPTION');
    expect(error.message).toContain(
      'option reporterOptions.bucket is unknown (did you mean reporterOptions.buckets?',
    );
    expect(thrown(() => summary('a.b', { reporterOptions: { maxAge: 60 } as never })).message).toContain(
      'did you mean reporterOptions.maxAgeSeconds?',
    );
    const kept = counter('a.b', { reporterOptions: { thirdParty: { statsd: { sampleRate: 0.1 } } } });
    expect(kept.reporterOptions.thirdParty).toEqual({ statsd: { sampleRate: 0.1 } });
    expect(thrown(() => counter('a.b', { reporterOptions: { thirdParty: 'x' as never } })).code).toBe(
      'ERR_TELEMETER_INVALID_OPTION',
    );
  });

  it.each([
    ['a string', '10s'],
    ['a negative number', -1],
    ['zero', 0],
    ['null', null],
    ['below a second', 999],
    ['60 days, past the longest timer', 60 * 86_400_000],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['NaN', Number.NaN],
  ])('rejects idleTimeout of %s', (_label, idleTimeout) => {
    const error = thrown(() => counter('a.b', { reporterOptions: { idleTimeout: idleTimeout as number } }));
    expect(error.code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(error.message).toContain('metric "a.b": option reporterOptions.idleTimeout must be a number');
  });

  it('accepts idleTimeout from a second to the longest timer Node keeps, twice over', () => {
    expect(counter('a.b', { reporterOptions: { idleTimeout: 1000 } }).reporterOptions.idleTimeout).toBe(1000);
    expect(counter('a.b', { reporterOptions: { idleTimeout: 49 * 86_400_000 } })).toBeDefined();
  });

  it.each([
    ['Infinity', Number.POSITIVE_INFINITY, undefined],
    ['30 days in one slot', 30 * 86_400, 1],
    ['NaN', Number.NaN, undefined],
    ['half a second', 0.5, undefined],
  ])('rejects a summary window of %s', (_label, maxAgeSeconds, ageBuckets) => {
    const error = thrown(() => summary('a.b', { reporterOptions: { maxAgeSeconds, ageBuckets } }));
    expect(error.code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(error.message).toContain('option reporterOptions.maxAgeSeconds');
  });

  it('accepts 30 days over five slots, each within a timer', () => {
    expect(summary('a.b', { reporterOptions: { maxAgeSeconds: 30 * 86_400 } })).toBeDefined();
  });

  it('rejects summary options on other types, and a quantile listed twice', () => {
    expect(thrown(() => distribution('a.b', { reporterOptions: { maxAgeSeconds: 60 } })).message).toContain(
      'maxAgeSeconds applies to summaries only',
    );
    const error = thrown(() => summary('a.b', { reporterOptions: { quantiles: [0.5, 0.9, 0.5] } }));
    expect(error.code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(error.message).toContain('option reporterOptions.quantiles lists 0.5 twice');
    expect(thrown(() => summary('a.b', { reporterOptions: { quantiles: [0, -0] } })).message).toContain(
      'twice',
    );
  });

  it.each([
    ['unsorted', [2, 1], 'must be strictly increasing, but 2 is followed by 1'],
    ['with a duplicate bound', [1, 2, 2, 3], 'must be strictly increasing, but 2 is followed by 2'],
    [
      'a billion linear buckets',
      { linear: { start: 0, width: 1, count: 1e9 } },
      'linear.count must be an integer from 1 to 1000',
    ],
    [
      '2^32 exponential buckets',
      { exponential: { start: 1, factor: 2, count: 2 ** 32 } },
      'exponential.count must be an integer from 1 to 1000',
    ],
    ['1001 bounds', Array.from({ length: 1001 }, (_, i) => i), 'has 1001 bounds; at most 1000'],
    [
      'exponential bounds that overflow to Infinity',
      { exponential: { start: 1, factor: 1e10, count: 40 } },
      'has a non-finite bound',
    ],
    [
      'a zero exponential start',
      { exponential: { start: 0, factor: 2, count: 3 } },
      'exponential.start must be a number > 0',
    ],
    [
      'an exponential factor of 1',
      { exponential: { start: 1, factor: 1, count: 3 } },
      'exponential.factor must be a number > 1',
    ],
    [
      'a linear width of 0',
      { linear: { start: 0, width: 0, count: 3 } },
      'linear.width must be a number > 0',
    ],
    [
      'an infinite linear start',
      { linear: { start: Number.NEGATIVE_INFINITY, width: 1, count: 3 } },
      'linear.start must be a finite number',
    ],
    ['a fractional count', { linear: { start: 0, width: 1, count: 2.5 } }, 'linear.count must be an integer'],
    ['neither form', { log: {} }, 'must be an array of increasing numbers'],
  ])('rejects buckets %s when the distribution is defined', (_label, buckets, message) => {
    const error = thrown(() => distribution('a.b', { reporterOptions: { buckets: buckets as never } }));
    expect(error.code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(error.message).toContain(`metric "a.b": option reporterOptions.buckets ${message}`);
  });

  it('gives names and event names that cannot work an argument error', () => {
    expect(thrown(() => counter('')).code).toBe('ERR_TELEMETER_INVALID_ARGUMENT');
    expect(thrown(() => counter('a..b')).code).toBe('ERR_TELEMETER_INVALID_ARGUMENT');
    expect(thrown(() => counter('a.b', { eventName: '.x' })).code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(thrown(() => counter('a.b', { unit: ['second', 'byte'] })).code).toBe(
      'ERR_TELEMETER_INVALID_OPTION',
    );
  });
});

describe('each option is checked on its own, and its error names the metric, the option and what it takes', () => {
  const fixes: [string, () => unknown, string][] = [
    [
      'a name that is not a string',
      () => counter(42 as never),
      'telemeter: counter: a metric name must be a non-empty dotted string, got 42',
    ],
    [
      'an undefined name',
      () => summary(undefined as never),
      'telemeter: summary: a metric name must be a non-empty dotted string, got undefined',
    ],
    [
      'an eventName that is not a string',
      () => counter('a.b', { eventName: 7 as never }),
      'telemeter: metric "a.b": option eventName must be a non-empty dotted string',
    ],
    [
      'an empty eventName',
      () => counter('a.b', { eventName: '' }),
      'telemeter: metric "a.b": option eventName must be a non-empty dotted string',
    ],
    [
      'an empty measurement key',
      () => counter('a.b', { measurement: '' }),
      'telemeter: metric "a.b": option measurement must not be empty',
    ],
    [
      'an empty tag',
      () => counter('a.b', { tags: ['route', ''] }),
      'telemeter: metric "a.b": option tags must be an array of metadata keys (non-empty strings)',
    ],
    [
      'a tag that is not a string',
      () => counter('a.b', { tags: [7 as never] }),
      'telemeter: metric "a.b": option tags must be an array of metadata keys (non-empty strings)',
    ],
    [
      'a tag listed twice',
      () => counter('a.b', { tags: ['a', 'b', 'a'] }),
      'telemeter: metric "a.b": option tags lists a tag twice: a, b, a',
    ],
    [
      'a tagValues that is not a function',
      () => counter('a.b', { tagValues: {} as never }),
      'telemeter: metric "a.b": option tagValues must be a function (metadata) => metadata',
    ],
    [
      'a keep that is not a function',
      () => counter('a.b', { keep: true as never }),
      'telemeter: metric "a.b": option keep must be a function',
    ],
    [
      'a drop that is not a function',
      () => counter('a.b', { drop: 'x' as never }),
      'telemeter: metric "a.b": option drop must be a function',
    ],
    [
      'an empty unit',
      () => counter('a.b', { unit: '' }),
      'telemeter: metric "a.b": option unit must not be empty',
    ],
    [
      'a unit that is a number',
      () => counter('a.b', { unit: 7 as never }),
      'telemeter: metric "a.b": option unit must be a unit name or a [from, to] pair of unit names',
    ],
    [
      'a unit of three names',
      () => counter('a.b', { unit: ['second', 'millisecond', 'x'] as never }),
      'telemeter: metric "a.b": option unit must be a unit name or a [from, to] pair',
    ],
    [
      'a unit pair whose first is not a name',
      () => counter('a.b', { unit: [1, 'second'] as never }),
      'telemeter: metric "a.b": option unit must be a unit name or a [from, to] pair',
    ],
    [
      'a unit pair whose second is not a name',
      () => counter('a.b', { unit: ['second', 1] as never }),
      'telemeter: metric "a.b": option unit must be a unit name or a [from, to] pair',
    ],
    [
      'reporterOptions that are a string',
      () => counter('a.b', { reporterOptions: 'x' as never }),
      'telemeter: metric "a.b": option reporterOptions must be an object',
    ],
    [
      'an unknown reporter option',
      () => counter('a.b', { reporterOptions: { maxSerie: 1 } as never }),
      'telemeter: metric "a.b": option reporterOptions.maxSerie is unknown (did you mean reporterOptions.maxSeries?',
    ],
    [
      'a prometheusType on a counter',
      () => counter('a.b', { reporterOptions: { prometheusType: 'gauge' } }),
      'telemeter: metric "a.b": option reporterOptions.prometheusType is not supported for a counter',
    ],
    [
      'a prometheusType on a summary',
      () => summary('a.b', { reporterOptions: { prometheusType: 'gauge' } }),
      'telemeter: metric "a.b": option reporterOptions.prometheusType is not supported for a summary',
    ],
    [
      'a counter prometheusType on a lastValue',
      () => lastValue('a.b', { reporterOptions: { prometheusType: 'counter' } }),
      `telemeter: metric "a.b": option reporterOptions.prometheusType must be 'gauge' for a last_value, got "counter"`,
    ],
    [
      'a sum prometheusType that is neither',
      () => sum('a.b', { reporterOptions: { prometheusType: 'histogram' as never } }),
      `telemeter: metric "a.b": option reporterOptions.prometheusType must be 'counter' or 'gauge' for a sum, got "histogram"`,
    ],
    [
      'quantiles that are a string',
      () => summary('a.b', { reporterOptions: { quantiles: '0.5' as never } }),
      'telemeter: metric "a.b": option reporterOptions.quantiles must be a non-empty array of numbers in [0, 1], got "0.5"',
    ],
    [
      'no quantiles',
      () => summary('a.b', { reporterOptions: { quantiles: [] } }),
      'telemeter: metric "a.b": option reporterOptions.quantiles must be a non-empty array of numbers in [0, 1], got an array',
    ],
    [
      'a quantile that is a string',
      () => summary('a.b', { reporterOptions: { quantiles: [0.5, '0.9' as never] } }),
      'option reporterOptions.quantiles must be a non-empty array of numbers in [0, 1]',
    ],
    [
      'a negative quantile',
      () => summary('a.b', { reporterOptions: { quantiles: [0.5, -0.1] } }),
      'option reporterOptions.quantiles must be a non-empty array of numbers in [0, 1]',
    ],
    [
      'a quantile above 1',
      () => summary('a.b', { reporterOptions: { quantiles: [0.5, 1.01] } }),
      'option reporterOptions.quantiles must be a non-empty array of numbers in [0, 1]',
    ],
    [
      'a NaN quantile',
      () => summary('a.b', { reporterOptions: { quantiles: [Number.NaN] } }),
      'option reporterOptions.quantiles must be a non-empty array of numbers in [0, 1]',
    ],
    [
      '61 age buckets',
      () => summary('a.b', { reporterOptions: { ageBuckets: 61 } }),
      'telemeter: metric "a.b": option reporterOptions.ageBuckets must be an integer from 1 to 60, got 61',
    ],
    [
      'a fractional age bucket count',
      () => summary('a.b', { reporterOptions: { ageBuckets: 2.5 } }),
      'option reporterOptions.ageBuckets must be an integer from 1 to 60, got 2.5',
    ],
    [
      'a window given as a string',
      () => summary('a.b', { reporterOptions: { maxAgeSeconds: '60' as never } }),
      'telemeter: metric "a.b": option reporterOptions.maxAgeSeconds must be a number of seconds >= 1, got "60"',
    ],
    [
      'a window past the longest timer',
      () => summary('a.b', { reporterOptions: { maxAgeSeconds: 2147483.648, ageBuckets: 1 } }),
      'telemeter: metric "a.b": option reporterOptions.maxAgeSeconds divided by ageBuckets (1) must be at most 2147483 seconds (24.8 days), the longest timer Node.js keeps; got 2147483.648. Raise ageBuckets or shorten the window',
    ],
    [
      'a relativeAccuracy given as a string',
      () => summary('a.b', { reporterOptions: { relativeAccuracy: '0.01' as never } }),
      'telemeter: metric "a.b": option reporterOptions.relativeAccuracy must be a number from 0.001354 (the bound of schema 8, the finest) to below 1, got "0.01"',
    ],
    [
      'a relativeAccuracy of 0',
      () => summary('a.b', { reporterOptions: { relativeAccuracy: 0 } }),
      'option reporterOptions.relativeAccuracy must be a number from 0.001354 (the bound of schema 8, the finest) to below 1, got 0',
    ],
    [
      'a relativeAccuracy of 1',
      () => summary('a.b', { reporterOptions: { relativeAccuracy: 1 } }),
      'option reporterOptions.relativeAccuracy must be a number from 0.001354 (the bound of schema 8, the finest) to below 1, got 1',
    ],
    [
      'a relativeAccuracy finer than schema 8 can give',
      () => summary('a.b', { reporterOptions: { relativeAccuracy: 0.001 } }),
      'option reporterOptions.relativeAccuracy must be a number from 0.001354 (the bound of schema 8, the finest) to below 1, got 0.001',
    ],
    [
      'a negative relativeAccuracy',
      () => summary('a.b', { reporterOptions: { relativeAccuracy: -0.5 } }),
      'option reporterOptions.relativeAccuracy must be a number from 0.001354 (the bound of schema 8, the finest) to below 1, got -0.5',
    ],
    [
      'a fractional maxSeries',
      () => counter('a.b', { reporterOptions: { maxSeries: 1.5 } }),
      'telemeter: metric "a.b": option reporterOptions.maxSeries must be an integer >= 1, got 1.5',
    ],
    [
      'a maxSeries of 0',
      () => counter('a.b', { reporterOptions: { maxSeries: 0 } }),
      'option reporterOptions.maxSeries must be an integer >= 1, got 0',
    ],
    [
      'an idleTimeout given as a string',
      () => counter('a.b', { reporterOptions: { idleTimeout: '5000' as never } }),
      'telemeter: metric "a.b": option reporterOptions.idleTimeout must be a number of milliseconds from 1000 to 4294967294 (about 49.7 days), got "5000"',
    ],
    [
      'an idleTimeout past twice the longest timer',
      () => counter('a.b', { reporterOptions: { idleTimeout: 4294967295 } }),
      'option reporterOptions.idleTimeout must be a number of milliseconds from 1000 to 4294967294',
    ],
    [
      'thirdParty options that are a string',
      () => counter('a.b', { reporterOptions: { thirdParty: 'x' as never } }),
      `telemeter: metric "a.b": option reporterOptions.thirdParty must be an object of other reporters' options, got "x"`,
    ],
    [
      'thirdParty options that are null',
      () => counter('a.b', { reporterOptions: { thirdParty: null as never } }),
      `option reporterOptions.thirdParty must be an object of other reporters' options, got null`,
    ],
    [
      'thirdParty options that are an array',
      () => counter('a.b', { reporterOptions: { thirdParty: [] as never } }),
      `option reporterOptions.thirdParty must be an object of other reporters' options, got an array`,
    ],
  ];

  it.each(fixes)('rejects %s', (_label, define, message) => {
    const error = thrown(define);
    expect(error.name).toBe('TypeError');
    expect(error.code).toMatch(/^ERR_TELEMETER_(INVALID|UNKNOWN)_(OPTION|ARGUMENT)$/);
    expect(error.message).toContain(message);
  });

  it('accepts every option at the edge of its range', () => {
    const window = summary('a.b', {
      reporterOptions: { quantiles: [0, 0.5, 1], ageBuckets: 60, maxAgeSeconds: 1, relativeAccuracy: 0.05 },
    });
    expect(window.reporterOptions).toEqual({
      quantiles: [0, 0.5, 1],
      ageBuckets: 60,
      maxAgeSeconds: 1,
      relativeAccuracy: 0.05,
    });
    // Exactly the longest timer per slot, and twice it for the idle timeout.
    expect(summary('a.b', { reporterOptions: { maxAgeSeconds: 2147483.647, ageBuckets: 1 } })).toBeDefined();
    expect(
      counter('a.b', { reporterOptions: { maxSeries: 1, idleTimeout: 4294967294 } }).reporterOptions,
    ).toEqual({
      maxSeries: 1,
      idleTimeout: 4294967294,
    });
    expect(sum('a.b', { reporterOptions: { prometheusType: 'gauge' } }).reporterOptions.prometheusType).toBe(
      'gauge',
    );
    expect(lastValue('a.b', { reporterOptions: { prometheusType: 'gauge' } })).toBeDefined();
    expect(counter('a.b', { reporterOptions: null as never }).reporterOptions).toEqual({});
  });
});

describe('the system_time warning', () => {
  it('warns once per metric, for each distribution of system_time, and never for a lastValue of it', async () => {
    const { setLogger } = await import('../../src/index.js');
    const warnings: string[] = [];
    setLogger({ warn: (_f, m) => warnings.push(m), error: () => {} });
    try {
      lastValue('st1.app.system_time');
      counter('st1.app.count', { eventName: 'st1.app', measurement: 'system_time' });
      distribution('st1.a.system_time');
      distribution('st1.b.system_time');
      distribution('st1.b.system_time');
    } finally {
      setLogger(null);
    }
    expect(warnings).toEqual([
      'metric "st1.a.system_time": a distribution of system_time (a wall-clock timestamp) puts every event in the +Inf bucket; use lastValue, or measure a duration',
      'metric "st1.b.system_time": a distribution of system_time (a wall-clock timestamp) puts every event in the +Inf bucket; use lastValue, or measure a duration',
    ]);
  });
});
