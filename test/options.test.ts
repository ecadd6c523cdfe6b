import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkOptionKeys, closestName, unknownOption } from '../src/options.js';
import { thrown } from './support/thrown.js';

/** Optimal-string-alignment distance, ignoring case, written the plain recursive way, as the oracle. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const memo = new Map<string, number>();
  const d = (i: number, j: number): number => {
    if (i === 0) return j;
    if (j === 0) return i;
    const key = `${i},${j}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let best = Math.min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (x[i - 1] === y[j - 1] ? 0 : 1));
    if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1])
      best = Math.min(best, d(i - 2, j - 2) + 1);
    memo.set(key, best);
    return best;
  };
  return d(x.length, y.length);
}

describe('checkOptionKeys', () => {
  it.each([
    ['a string', 'x'],
    ['null', null],
    ['an array', [1]],
    ['a number', 3],
  ])('rejects options that are %s, naming the caller and where the object sits', (_label, options) => {
    const top = thrown(() => checkOptionKeys('telemeter/x: start', options, ['a']));
    expect(top.name).toBe('TypeError');
    expect(top.code).toBe('ERR_TELEMETER_INVALID_OPTION');
    expect(top.message).toBe('telemeter/x: start: options must be an object');
    const nested = thrown(() => checkOptionKeys('telemeter/x: start', options, ['a'], 'auth.basic.'));
    expect(nested.message).toBe('telemeter/x: start: option auth.basic must be an object');
  });

  it('accepts an object of known keys, from a list or a set', () => {
    expect(() => checkOptionKeys('w', {}, [])).not.toThrow();
    expect(() => checkOptionKeys('w', { a: 1, b: undefined }, ['a', 'b'])).not.toThrow();
    expect(() => checkOptionKeys('w', { b: 1 }, new Set(['a', 'b']))).not.toThrow();
  });

  it('names an unknown key with its path, the closest valid key and every valid one', () => {
    const error = thrown(() =>
      checkOptionKeys('telemeter/x', { realm: 'r', bearr: 't' }, ['bearer', 'realm'], 'auth.'),
    );
    expect(error.code).toBe('ERR_TELEMETER_UNKNOWN_OPTION');
    expect(error.message).toBe(
      'telemeter/x: option auth.bearr is unknown (did you mean auth.bearer? valid: bearer, realm)',
    );
    expect(unknownOption('w', 'zzzzzz', ['alpha', 'beta']).message).toBe(
      'w: option zzzzzz is unknown (valid: alpha, beta)',
    );
  });
});

describe('closestName', () => {
  it.each([
    ['maxSerie', ['maxSeries', 'metrics'], 'maxSeries'],
    ['maxSeires', ['maxSeries', 'metrics'], 'maxSeries'], // two neighbours swapped: one edit
    ['globaltags', ['globalTags', 'metrics'], 'globalTags'], // case does not count
    ['METRICS', ['maxSeries', 'metrics'], 'metrics'],
    ['tag', ['tags', 'tap'], 'tags'], // a tie goes to the first
    ['max', ['maxAgeSeconds', 'quantiles'], 'maxAgeSeconds'], // a name the option begins with
    ['maxAge', ['quantiles', 'maxAgeSeconds'], 'maxAgeSeconds'],
    ['relativAcurracy', ['quantiles', 'relativeAccuracy'], 'relativeAccuracy'], // 3 edits in 15 letters
    ['ab', ['ba', 'abc'], 'ba'],
    ['xab', ['xba', 'yyyy'], 'xba'],
  ])('reads %j as %j', (name, candidates, expected) => {
    expect(closestName(name, candidates)).toBe(expected);
  });

  it.each([
    ['ma', ['maxAgeSeconds']], // too short to stand for a longer name
    ['zzzzzz', ['maxSeries', 'metrics']],
    ['ageBucket', ['quantiles']],
    ['abcdef', ['abxyzw']], // 4 edits in 6 letters
  ])('finds nothing close to %j', (name, candidates) => {
    expect(closestName(name, candidates)).toBeUndefined();
  });

  it('suggests the candidate at the smallest edit distance, when it is within a third of the name', () => {
    const letters = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'A', 'B'), maxLength: 9 });
    fc.assert(
      fc.property(letters, fc.uniqueArray(letters, { minLength: 1, maxLength: 5 }), (name, candidates) => {
        const lower = name.toLowerCase();
        const limit = Math.max(2, Math.floor(name.length / 3));
        let expected: string | undefined =
          lower.length >= 3 ? candidates.find((c) => c.toLowerCase().startsWith(lower)) : undefined;
        let best = limit + 1;
        for (const candidate of candidates) {
          const d = distance(name, candidate);
          if (d < best) {
            expected = candidate;
            best = d;
          }
        }
        expect(closestName(name, candidates)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });
});
