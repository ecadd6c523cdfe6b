import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { refuseCodeGenerationForTests } from '../../src/compile.js';
import { labelRenderer } from '../../src/reporter/label-block.js';
import { branchStep, INVALID_TAG, MISSING_TAG, SeriesTable } from '../../src/reporter/series-table.js';
import { codeGenerationAllowed } from '../support/code-generation.js';

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

/** The keys of a trie level: a branch's own keys, or a leaf's keys as they are (numbers stay numbers). */
function keysOf(node: unknown): unknown[] {
  return node instanceof Map ? [...node.keys()] : Object.keys(node as object);
}

describe('SeriesTable: the trie behind the fast path', () => {
  it('keeps one alias beside the string key for a number, boolean or bigint last tag, none for a string', () => {
    const t = new SeriesTable(['status'], labelRenderer(['status'], {}), 100);
    const ok = t.resolve({ status: 200 });
    expect(t.resolve({ status: '200' })).toBe(ok);
    const yes = t.resolve({ status: true });
    const big = t.resolve({ status: 7n });
    t.resolve({ status: 'text' });
    expect(keysOf(t.root)).toEqual(['200', 200, 'true', true, '7', 7n, 'text']);
    expect([ok, yes, big].map((s) => t.labelBlocks[s])).toEqual([
      'status="200"',
      'status="true"',
      'status="7"',
    ]);
  });

  it('grows no further once full: tag sets folded into the overflow series leave nothing in the trie', () => {
    const t = table(2);
    t.resolve({ a: 'x', b: 'y', c: 1 });
    t.resolve({ a: 'x', b: 'y', c: 2 });
    const overflow = t.resolve({ a: 'x', b: 'z', c: 3 });
    for (let i = 0; i < 50; i++) expect(t.resolve({ a: `new${i}`, b: i, c: i })).toBe(overflow);
    expect(t.resolveValues(['x', 'y', '9'])).toBe(overflow);
    const root = t.root as Record<string, Record<string, Map<unknown, number>>>;
    expect(keysOf(root)).toEqual(['x']);
    expect(keysOf(root.x)).toEqual(['y']);
    expect(keysOf(root.x.y)).toEqual(['1', 1, '2', 2]);
    expect(t.live).toBe(3);
  });

  it('keeps the other series of a shared prefix findable when one of them expires', () => {
    const t = table();
    const gone = t.resolve({ a: 'x', b: 'y', c: 'gone' });
    const sibling = t.resolve({ a: 'x', b: 'y', c: 'kept' });
    const cousin = t.resolve({ a: 'x', b: 'w', c: 'kept' });
    t.expire(1);
    t.touched[sibling] = t.generation;
    t.touched[cousin] = t.generation;
    expect(t.expire(1)).toBe(1);
    expect(t.holds(gone)).toBe(false);
    expect(t.resolve({ a: 'x', b: 'y', c: 'kept' })).toBe(sibling);
    expect(t.resolve({ a: 'x', b: 'w', c: 'kept' })).toBe(cousin);
    expect(t.live).toBe(2);
    const root = t.root as Record<string, Record<string, Map<unknown, number>>>;
    expect(keysOf(root.x)).toEqual(['y', 'w']);
    expect(keysOf(root.x.y)).toEqual(['kept']);
  });

  it('walks the trie in a generated lookup named after the tags', () => {
    const t = table();
    const lookup = String((t as unknown as { lookup: () => number }).lookup);
    if (codeGenerationAllowed) expect(lookup).toMatch(/\/\* lookup a,b,c #\d+ \*\//);
  });
});

describe('SeriesTable: expiry', () => {
  it('forgets a series after the given number of sweeps without a recording, counting each removal', () => {
    const t = table();
    const s = t.resolve({ a: '1', b: '1', c: '1' });
    expect([t.expire(2), t.expire(2)]).toEqual([0, 0]);
    expect(t.holds(s)).toBe(true);
    expect(t.expire(2)).toBe(1);
    expect([t.holds(s), t.incarnation(s)]).toEqual([false, 1]);
    // The index is reused for the next new series, and a second removal counts again.
    expect(t.resolve({ a: '2', b: '2', c: '2' })).toBe(s);
    expect(t.incarnation(s)).toBe(1);
    t.expire(0);
    expect(t.incarnation(s)).toBe(2);
    expect(t.incarnation(s + 1)).toBe(0);
  });

  it('never expires the overflow series or a metric without tags', () => {
    const full = table(1);
    full.resolve({ a: '1', b: '1', c: '1' });
    const overflow = full.resolve({ a: '2', b: '2', c: '2' });
    expect(full.expire(0)).toBe(1);
    expect(full.holds(overflow)).toBe(true);
    const none = new SeriesTable([], labelRenderer([], {}), 10);
    expect(none.expire(0)).toBe(0);
    expect([none.holds(0), none.resolve({}), none.resolveValues([]), none.live]).toEqual([true, 0, 0, 1]);
    expect(none.labelBlocks).toEqual(['']);
  });
});

describe('SeriesTable: order', () => {
  it('lists live series by label block, and sorts again after a series is created while it sorted', () => {
    const t = new SeriesTable(['k'], labelRenderer(['k'], {}), 10_000);
    const names = Array.from({ length: 3000 }, (_, i) => `v${(i * 7919) % 3000}`);
    for (const k of names) t.resolve({ k });
    const byLabel = (order: Uint32Array) => Array.from(order, (s) => t.labelBlocks[s]);
    // A clock that moves 10 ms per read: every check of the sort's time budget finds it spent, so it yields.
    let now = 0;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => (now += 10));
    const steps = t.orderSteps();
    let step = steps.next();
    clock.mockRestore();
    expect(step.done).toBe(false);
    t.resolve({ k: 'added-meanwhile' });
    while (!step.done) step = steps.next();
    expect(step.value.length).toBe(3000);
    const sorted = byLabel(t.order());
    expect(sorted).toHaveLength(3001);
    expect(sorted).toEqual([...sorted].sort());
    expect(sorted).toContain('k="added-meanwhile"');
  });
});

describe('branchStep', () => {
  it('finds the entry of the string form of a finite number, a boolean or a bigint, and nothing else', () => {
    const branch: Record<string, unknown> = { '200': 'a', '-1.5': 'b', true: 'c', false: 'd', '10': 'e' };
    const step = (value: unknown) => branchStep(branch as never, value);
    expect([step(200), step(-1.5), step(true), step(false), step(10n)]).toEqual(['a', 'b', 'c', 'd', 'e']);
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, '200', undefined, null, {}, Symbol('s')]) {
      expect(step(value)).toBeUndefined();
    }
    expect(branchStep({ NaN: 'x', Infinity: 'y' } as never, Number.NaN)).toBeUndefined();
    expect(branchStep({ NaN: 'x', Infinity: 'y' } as never, Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});

describe.each([
  ['generated', false],
  ['plain, where code generation is refused', true],
])('SeriesTable lookups, %s', (_label, plain) => {
  function built(maxSeries = 1000): SeriesTable {
    refuseCodeGenerationForTests(plain);
    try {
      return table(maxSeries);
    } finally {
      refuseCodeGenerationForTests(false);
    }
  }

  it('finds an existing series on the fast path, without the slow path that validates and allocates', () => {
    const t = built();
    const slow = vi.spyOn(t as unknown as { insertFrom: () => number }, 'insertFrom');
    const strings = t.resolve({ a: 'x', b: 'y', c: 'z' });
    const numbers = t.resolve({ a: 1, b: true, c: 200 });
    const bigint = t.resolve({ a: 'x', b: 'y', c: 7n });
    expect(slow).toHaveBeenCalledTimes(3);
    for (let i = 0; i < 3; i++) {
      expect(t.resolve({ a: 'x', b: 'y', c: 'z' })).toBe(strings);
      expect(t.resolve({ a: '1', b: 'true', c: 200 })).toBe(numbers);
      expect(t.resolve({ a: 1, b: true, c: 200 })).toBe(numbers);
      expect(t.resolve({ a: 'x', b: 'y', c: 7n })).toBe(bigint);
    }
    expect(slow).toHaveBeenCalledTimes(3);
    expect(t.resolve({ a: 'x', b: 'y', c: '200' })).not.toBe(numbers);
  });

  it('tells a missing tag from an invalid one at every level, even where a string of the same name exists', () => {
    const t = built();
    const named = t.resolve({ a: 'NaN', b: 'Infinity', c: 'NaN' });
    expect(t.resolve({ a: 'NaN', b: 'Infinity', c: 'NaN' })).toBe(named);
    for (const position of TAGS) {
      const tags: Record<string, unknown> = { a: 'NaN', b: 'Infinity', c: 'NaN' };
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, {}, Symbol('s')]) {
        tags[position] = bad;
        expect(t.resolve(tags as Record<string, string>)).toBe(INVALID_TAG);
      }
      tags[position] = undefined;
      expect(t.resolve(tags as Record<string, string>)).toBe(MISSING_TAG);
    }
    expect(t.live).toBe(1);
  });

  it('gives a one-tag and a tagless metric their series', () => {
    refuseCodeGenerationForTests(plain);
    const one = new SeriesTable(['k'], labelRenderer(['k'], {}), 10);
    const none = new SeriesTable([], labelRenderer([], {}), 10);
    refuseCodeGenerationForTests(false);
    const s = one.resolve({ k: 5 });
    expect([
      one.resolve({ k: '5' }),
      one.resolve({ k: 5 }),
      one.resolve({}),
      one.resolve({ k: Number.NaN }),
    ]).toEqual([s, s, MISSING_TAG, INVALID_TAG]);
    expect([none.resolve({}), none.resolve({ k: 1 })]).toEqual([0, 0]);
  });
});

describe('SeriesTable: sorting in steps', () => {
  it('answers order() in full while the sort yields, and sorts nothing again until a series comes or goes', () => {
    const t = new SeriesTable(['k'], labelRenderer(['k'], {}), 10_000);
    for (let i = 0; i < 3000; i++) t.resolve({ k: `v${(i * 7919) % 3000}` });
    let now = 0;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => (now += 10));
    try {
      const order = t.order();
      expect(order).toHaveLength(3000);
      expect(Array.from(order, (s) => t.labelBlocks[s])).toEqual(
        Array.from(order, (s) => t.labelBlocks[s]).sort(),
      );
      // Cached: the next scrape's walk takes no step at all.
      expect(t.orderSteps().next().done).toBe(true);
      t.resolve({ k: 'new' });
      expect(t.orderSteps().next().done).toBe(false);
    } finally {
      clock.mockRestore();
    }
  });
});
