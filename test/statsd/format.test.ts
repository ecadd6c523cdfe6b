import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketValues } from '../../src/statsd/bucket-values.js';
import { formatDecimal, sampleRateSuffixes } from '../../src/statsd/decimal.js';
import type { Line } from '../../src/statsd/lines.js';
import { packLines } from '../../src/statsd/packets.js';
import { renderTagField, sanitizeMetricName } from '../../src/statsd/tags.js';

/** What a server that adds `1 / rate` per line counts for these suffixes. */
function reconstructed(suffixes: string[]): number {
  let total = 0;
  for (const suffix of suffixes) total += suffix === '' ? 1 : 1 / Number(suffix.slice(2));
  return total;
}

describe('formatDecimal', () => {
  it('writes the shortest round-trip decimal, positionally', () => {
    expect(formatDecimal(0.004)).toBe('0.004');
    expect(formatDecimal(1e-7)).toBe('0.0000001');
    expect(formatDecimal(1 / 3e7)).toBe('0.000000033333333333333334');
    expect(formatDecimal(-1.5e-10)).toBe('-0.00000000015');
    expect(formatDecimal(1e21)).toBe('1000000000000000000000');
    expect(formatDecimal(1.2345e25)).toBe('12345000000000000000000000');
    expect(formatDecimal(-0)).toBe('0');
  });

  it('reads back as the same double and never has an exponent', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const text = formatDecimal(x);
        expect(text).toMatch(/^-?\d+(\.\d+)?$/);
        expect(Number(text)).toBe(x === 0 ? 0 : x);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('sampleRateSuffixes', () => {
  it("fixes Peep's 6-decimal rates: 30 000 and 700 000 samples read back exactly", () => {
    expect(sampleRateSuffixes(30_000)).toEqual(['|@0.000033333333333333335']);
    expect(reconstructed(sampleRateSuffixes(30_000))).toBe(30_000);
    expect(reconstructed(sampleRateSuffixes(700_000))).toBe(700_000);
    expect(reconstructed(sampleRateSuffixes(2_000_000))).toBe(2_000_000);
    expect(reconstructed(sampleRateSuffixes(123_456_789))).toBe(123_456_789);
    // What Peep sends for the same counts, for contrast: +1% and +43%.
    expect(Math.round(1 / 0.000033)).toBe(30_303);
    expect(1 / 0.000001).toBe(1_000_000);
  });

  it('splits a count whose reciprocal does not round-trip into two exact lines', () => {
    expect(1 / (1 / 49)).not.toBe(49);
    const suffixes = sampleRateSuffixes(49);
    expect(suffixes).toHaveLength(2);
    expect(reconstructed(suffixes)).toBe(49);
  });

  it('reconstructs every count from 1 to 200 000 exactly, with no exponent', () => {
    let split = 0;
    for (let n = 1; n <= 200_000; n++) {
      const suffixes = sampleRateSuffixes(n);
      if (suffixes.length > 1) split++;
      if (reconstructed(suffixes) !== n)
        throw new Error(`count ${n} reads back as ${reconstructed(suffixes)}`);
      for (const s of suffixes) if (/e/i.test(s)) throw new Error(`exponent in ${s}`);
    }
    expect(split).toBeGreaterThan(0);
    expect(sampleRateSuffixes(1)).toEqual(['']);
  });
});

describe('bucketValues', () => {
  const bounds = Float64Array.from([10, 100, 1000]);
  const scratch = () => new Float64Array(4);

  it('sends the exact mean when one bucket grew, and never +Inf for the overflow', () => {
    const out = new Float64Array(4);
    bucketValues(bounds, Float64Array.from([0, 3, 0, 0]), 3 * 42, out, scratch(), scratch());
    expect(out[1]).toBe(42);
    bucketValues(bounds, Float64Array.from([0, 0, 0, 2]), 5000 + 7000, out, scratch(), scratch());
    expect(out[3]).toBe(6000);
    bucketValues(bounds, Float64Array.from([0, 0, 0, 2]), 2001, out, scratch(), scratch());
    expect(Number.isFinite(out[3])).toBe(true);
    expect(out[3]).toBeGreaterThanOrEqual(1000);
  });

  it('keeps every value inside its bucket and the sum exact whenever the samples allow it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -50, max: 5000, noNaN: true }), { minLength: 1, maxLength: 200 }),
        (samples) => {
          const counts = new Float64Array(4);
          let sum = 0;
          for (const x of samples) {
            let b = 0;
            while (b < 3 && x > bounds[b]) b++;
            counts[b]++;
            sum += x;
          }
          const out = new Float64Array(4);
          bucketValues(bounds, counts, sum, out, scratch(), scratch());
          let sent = 0;
          for (let b = 0; b < 4; b++) {
            if (counts[b] === 0) continue;
            sent += counts[b] * out[b];
            if (b > 0) expect(out[b]).toBeGreaterThanOrEqual(bounds[b - 1] - 1e-9);
            if (b < 3) expect(out[b]).toBeLessThanOrEqual(bounds[b] + 1e-9);
          }
          expect(Math.abs(sent - sum)).toBeLessThanOrEqual(
            1e-9 * Math.max(1, Math.abs(sum)) * samples.length,
          );
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('tags', () => {
  it('replaces separators in names and values, keeps colons in values, sorts, and writes no empty |#', () => {
    expect(renderTagField([], [])).toBe('');
    expect(
      renderTagField(
        [
          ['route', 'a|b,c#d:e\nf'],
          ['env', 'mine'],
        ],
        [
          ['bad:key|x', 'v,1'],
          ['env', 'global'],
        ],
      ),
    ).toBe('|#bad_key_x:v_1,env:mine,route:a_b_c_d:e_f');
    expect(sanitizeMetricName('a.b:c|d@e#f,g h\ni')).toBe('a.b_c_d_e_f_g_h_i');
  });
});

describe('packLines', () => {
  const makeLine = (text: string): Line => ({
    text,
    bytes: Buffer.byteLength(text),
    metric: 'm',
    set: undefined,
    setIndex: 0,
    setValue: 0,
    add: undefined,
    addIndex: 0,
    addValue: 0,
  });

  it('keeps every packet within mtu bytes (UTF-8), in order, and drops only lines that can never fit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 120 }), { maxLength: 300 }),
        fc.integer({ min: 64, max: 700 }),
        (texts, mtu) => {
          const lines = texts.map((t) => makeLine(t.replace(/\n/g, ' ')));
          const tooLong: Line[] = [];
          const packets = packLines(lines, mtu, (l) => tooLong.push(l));
          const carried = packets.flatMap((p) => p.lines);
          expect([...carried, ...tooLong].length).toBe(lines.length);
          expect(carried).toEqual(lines.filter((l) => l.bytes <= mtu));
          for (const l of tooLong) expect(l.bytes).toBeGreaterThan(mtu);
          for (let i = 0; i < packets.length; i++) {
            const p = packets[i];
            expect(p.payload.length).toBeLessThanOrEqual(mtu);
            expect(p.payload.toString('utf8')).toBe(p.lines.map((l) => l.text).join('\n'));
            // Greedy: the next packet's first line would not have fitted.
            if (i + 1 < packets.length) {
              expect(p.payload.length + 1 + packets[i + 1].lines[0].bytes).toBeGreaterThan(mtu);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
