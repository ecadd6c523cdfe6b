import { describe, expect, it } from 'vitest';
import { distribution, lastValue, Telemeter } from '../../src/index.js';
import { conversionRatio, isByteUnit, isTimeUnit, unitSuffix } from '../../src/metrics/units.js';
import { closedAfterEach } from '../support/telemeters.js';

const { track } = closedAfterEach();

describe('unit suffixes', () => {
  it.each([
    ['second', 'seconds'],
    ['millisecond', 'milliseconds'],
    ['microsecond', 'microseconds'],
    ['nanosecond', 'nanoseconds'],
    ['native', 'nanoseconds'],
    ['byte', 'bytes'],
    ['kilobyte', 'kilobytes'],
    ['megabyte', 'megabytes'],
  ])('spells %s as %s', (unit, suffix) => {
    expect(unitSuffix(unit)).toBe(suffix);
  });

  it.each(['unit', 'request', 'seconds', 'Second', '', 'hour'])('gives no suffix for %j', (unit) => {
    expect(unitSuffix(unit)).toBeUndefined();
  });

  it('writes an OpenMetrics # UNIT line for a family whose name ends with its unit, and only then', () => {
    const t = new Telemeter({
      metrics: [
        distribution('u1.request.duration_milliseconds', {
          eventName: 'u1.request',
          measurement: 'duration',
          unit: ['native', 'millisecond'],
        }),
        lastValue('u1.heap.used_bytes', { unit: 'byte' }),
        lastValue('u1.heap.total', { unit: 'byte' }),
        lastValue('u1.clock.offset_nanoseconds', { unit: 'native' }),
      ],
      selfMetrics: false,
    });
    track(t);
    const units = t
      .scrape({ format: 'openmetrics' })
      .split('\n')
      .filter((line) => line.startsWith('# UNIT'));
    expect(units).toEqual([
      '# UNIT u1_request_duration_milliseconds milliseconds',
      '# UNIT u1_heap_used_bytes bytes',
      '# UNIT u1_clock_offset_nanoseconds nanoseconds',
    ]);
  });
});

describe('unit kinds', () => {
  it('knows the time and byte units by name, and nothing an object inherits', () => {
    for (const unit of ['native', 'second', 'millisecond', 'microsecond', 'nanosecond']) {
      expect([unit, isTimeUnit(unit), isByteUnit(unit)]).toEqual([unit, true, false]);
    }
    for (const unit of ['byte', 'kilobyte', 'megabyte']) {
      expect([unit, isTimeUnit(unit), isByteUnit(unit)]).toEqual([unit, false, true]);
    }
    for (const unit of ['constructor', 'toString', '__proto__', 'unit', 'seconds']) {
      expect([unit, isTimeUnit(unit), isByteUnit(unit)]).toEqual([unit, false, false]);
    }
  });

  it('refuses to convert between a time and a byte unit, or from an unknown one, naming both and the choices', () => {
    expect(() => conversionRatio('second', 'byte', 'm.x')).toThrow(
      'telemeter: metric "m.x": option unit: cannot convert "second" to "byte"; a [from, to] unit must name two time units (native, second, millisecond, microsecond, nanosecond) or two byte units (byte, kilobyte, megabyte)',
    );
    expect(() => conversionRatio('constructor', 'constructor', 'm.x')).toThrow('cannot convert');
  });
});
