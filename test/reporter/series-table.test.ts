import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { labelRenderer } from '../../src/reporter/family.js';
import { INVALID_TAG, MISSING_TAG, SeriesTable } from '../../src/reporter/series-table.js';

const TAGS = ['a', 'b', 'c'];

function table(maxSeries = 1000): SeriesTable {
  return new SeriesTable(TAGS, labelRenderer(TAGS, {}), maxSeries);
}

/** Values that an object used as a dictionary could confuse with its own machinery or with each other. */
const TRICKY = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '',
  '0',
  '-0',
  '00',
  '200',
  '2147483648',
  '4294967295',
  '1e+21',
  'true',
  'NaN',
];

describe('SeriesTable', () => {
  it('keys every tag value by its string form at every level, even names an object holds itself', () => {
    const t = table();
    const seen = new Map<number, string>();
    for (const a of TRICKY) {
      for (const b of TRICKY) {
        const index = t.resolve({ a, b, c: a });
        expect(index).toBeGreaterThanOrEqual(0);
        expect(seen.has(index)).toBe(false);
        seen.set(index, `${a}|${b}`);
        expect(t.resolve({ a, b, c: a })).toBe(index);
      }
    }
    expect(t.live).toBe(TRICKY.length ** 2);
    expect(t.labelBlocks[t.resolve({ a: '__proto__', b: 'constructor', c: '__proto__' })]).toBe(
      'a="__proto__",b="constructor",c="__proto__"',
    );
    // Nothing leaked onto the shared prototype.
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('finds the series of a string through a number, boolean or bigint of the same form, at every level', () => {
    const t = table();
    const pairs: Array<[unknown, string]> = [
      [200, '200'],
      [-0, '0'],
      [1e21, '1e+21'],
      [2 ** 31, '2147483648'],
      [1.5, '1.5'],
      [true, 'true'],
      [10n, '10'],
    ];
    for (const [raw, text] of pairs) {
      const byText = t.resolve({ a: text, b: text, c: text });
      expect(t.resolve({ a: raw, b: raw, c: raw })).toBe(byText);
      expect(t.resolve({ a: raw, b: text, c: raw })).toBe(byText);
      expect(t.labelBlocks[byText]).toBe(`a="${text}",b="${text}",c="${text}"`);
    }
    expect(t.live).toBe(pairs.length);
  });

  it('rejects values with no string form at every level, even where a string of their name exists', () => {
    const t = table();
    t.resolve({ a: 'NaN', b: 'Infinity', c: 'NaN' });
    for (const position of TAGS) {
      const tags: Record<string, unknown> = { a: 'NaN', b: 'Infinity', c: 'NaN' };
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, {}, [], Symbol('s'), () => 1]) {
        tags[position] = bad;
        expect(t.resolve(tags as Record<string, string>)).toBe(INVALID_TAG);
      }
      for (const missing of [undefined, null]) {
        tags[position] = missing;
        expect(t.resolve(tags as Record<string, string>)).toBe(MISSING_TAG);
      }
    }
    expect(t.live).toBe(1);
  });

  it('agrees with a map of tuples through creation and expiry, and leaves no empty level behind', () => {
    const value = fc.constantFrom<unknown>('x', '__proto__', '', '0', 0, '7', 7, true, 'true', 'toString');
    const op = fc.oneof(
      fc.record({ kind: fc.constant('resolve' as const), a: value, b: value, c: value }),
      fc.record({ kind: fc.constant('expire' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const t = table();
        const model = new Map<string, number>();
        for (const step of ops) {
          if (step.kind === 'expire') {
            t.expire(0);
            model.clear();
            continue;
          }
          const key = [step.a, step.b, step.c].map(String).join('\u0000');
          const index = t.resolve({ a: step.a, b: step.b, c: step.c } as Record<string, string>);
          const known = model.get(key);
          if (known === undefined) {
            expect([...model.values()]).not.toContain(index);
            model.set(key, index);
          } else expect(index).toBe(known);
          expect(t.live).toBe(model.size);
        }
        t.expire(0);
        expect(t.live).toBe(0);
        expect(Object.keys(t.root)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('SeriesTable: tag values that are one label set on the wire', () => {
  it('keys lone surrogates by their UTF-8 form, U+FFFD, at every level, without an alias per spelling', () => {
    const t = table();
    const repaired = t.resolve({ a: '\uFFFD', b: 'x\uFFFD', c: '\uFFFD' });
    for (let unit = 0xd800; unit <= 0xdfff; unit += 7) {
      const lone = String.fromCharCode(unit);
      expect(t.resolve({ a: lone, b: `x${lone}`, c: lone })).toBe(repaired);
    }
    expect(t.live).toBe(1);
    // The last level holds the one key, not an alias for each of the 293 spellings.
    const leaves = Object.values(
      (t as unknown as { root: Record<string, Record<string, Map<unknown, number>>> }).root,
    );
    expect(Object.values(leaves[0]).map((leaf) => leaf.size)).toEqual([1]);
    // A well-formed pair is not a lone surrogate and stays its own series.
    expect(t.resolve({ a: '\uD83D\uDE80', b: 'x', c: '\uD83D\uDE80' })).not.toBe(repaired);
  });

  it('gives a tag set of "__overflow__" values the overflow series, which it is on the wire', () => {
    const t = table(2);
    let overflows = 0;
    t.onOverflow = () => overflows++;
    const real = t.resolve({ a: '__overflow__', b: '__overflow__', c: '__overflow__' });
    t.resolve({ a: '1', b: '1', c: '1' });
    const folded = t.resolve({ a: '2', b: '2', c: '2' });
    const again = t.resolve({ a: '3', b: '3', c: '3' });
    expect([folded, again]).toEqual([real, real]);
    expect(overflows).toBe(2);
    // Only all three tags make the overflow tuple.
    const fresh = table(10);
    expect(fresh.resolve({ a: '__overflow__', b: '__overflow__', c: 'x' })).not.toBe(
      fresh.resolve({ a: '__overflow__', b: '__overflow__', c: '__overflow__' }),
    );
  });
});
