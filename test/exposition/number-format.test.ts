import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCanonical, formatValue } from '../../src/exposition/number-format.js';

describe('formatCanonical (OpenMetrics le and quantile)', () => {
  it.each([
    [0, '0.0'],
    [0.001, '0.001'],
    [0.005, '0.005'],
    [0.1, '0.1'],
    [1, '1.0'],
    [2.5, '2.5'],
    [10, '10.0'],
    [100000, '100000.0'],
    [999999, '999999.0'],
    [1e6, '1e+06'],
    [1234567, '1.234567e+06'],
    [1e10, '1e+10'],
    [1e-5, '1e-05'],
    [1e-9, '1e-09'],
    [0.0001, '0.0001'],
    [-2.5, '-2.5'],
    [1e21, '1e+21'],
    [1.5e-300, '1.5e-300'],
  ])('%d → %s', (value, expected) => {
    expect(formatCanonical(value)).toBe(expected);
  });

  it('spells NaN and the infinities the way OpenMetrics does', () => {
    expect(formatCanonical(Number.NaN)).toBe('NaN');
    expect(formatCanonical(Number.POSITIVE_INFINITY)).toBe('+Inf');
    expect(formatCanonical(Number.NEGATIVE_INFINITY)).toBe('-Inf');
    expect(formatCanonical(-0)).toBe('-0.0');
  });

  it('round-trips every finite double exactly', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const s = formatCanonical(x);
        expect(Number(s)).toBe(x);
        expect(s).toMatch(/^-?\d+(\.\d+)?(e[+-]\d{2,3})?$|^-?\d\.?\d*e[+-]\d{2,3}$/);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('formatValue', () => {
  it('spells the special values the way both formats require', () => {
    expect(formatValue(Number.NaN)).toBe('NaN');
    expect(formatValue(Number.POSITIVE_INFINITY)).toBe('+Inf');
    expect(formatValue(Number.NEGATIVE_INFINITY)).toBe('-Inf');
    expect(formatValue(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(formatValue(42)).toBe('42');
  });

  it('spells every integer as its decimal digits, at and around the end of the small-integer table', () => {
    for (const n of [0, 1, 4095, 4096, 4097, 65_536, 2 ** 32, 2 ** 53])
      expect(formatValue(n)).toBe(String(n));
    expect(formatValue(-0)).toBe('0');
    expect(formatValue(-1)).toBe('-1');
    expect(formatValue(-4096)).toBe('-4096');
    expect(formatValue(4095.5)).toBe('4095.5');
  });

  it('round-trips every double, in the spelling of both text formats', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer({ min: -10_000, max: 10_000 })), (x) => {
        const s = formatValue(x);
        if (Number.isNaN(x)) expect(s).toBe('NaN');
        else {
          const read = s === '+Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s);
          expect(read).toBe(x === 0 ? 0 : x);
        }
        expect(s).toMatch(/^(NaN|[+-]Inf|-?\d+(\.\d+)?(e[+-]\d+)?)$/);
      }),
      { numRuns: 5000 },
    );
  });
});
