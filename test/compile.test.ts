import { afterEach, describe, expect, it } from 'vitest';
import { generate, refuseCodeGenerationForTests, sourceTag } from '../src/compile.js';
import { codeGenerationAllowed } from './support/code-generation.js';

afterEach(() => refuseCodeGenerationForTests(false));

describe('sourceTag', () => {
  it('names what was generated in a comment of its own, which no label can close early', () => {
    const tag = sourceTag('record http.request.count');
    expect(tag).toMatch(/^\/\* record http\.request\.count #\d+ \*\/$/);
    const hostile = sourceTag('a */ b */');
    expect(hostile).toMatch(/^\/\* a \* \/ b \* \/ #\d+ \*\/$/);
    if (codeGenerationAllowed) expect(new Function(`${hostile} return 1;`)()).toBe(1);
  });

  it('never gives two functions the same source text', () => {
    const tags = new Set(Array.from({ length: 100 }, () => sourceTag('dispatch x')));
    expect(tags.size).toBe(100);
  });
});

describe('generate', () => {
  it('compiles the body with its parameters bound to the arguments', () => {
    const add = generate<(x: number) => number>(['offset'], 'return (x) => x + offset;', [10]);
    if (codeGenerationAllowed) expect(add?.(5)).toBe(15);
    else expect(add).toBeUndefined();
  });

  it('gives undefined where code generation is refused, so the caller takes its plain path', () => {
    refuseCodeGenerationForTests(true);
    expect(generate(['a'], 'return a;', [1])).toBeUndefined();
    refuseCodeGenerationForTests(false);
    if (codeGenerationAllowed) expect(generate(['a'], 'return a;', [1])).toBe(1);
  });

  it('throws a generated syntax error, which is a bug, instead of hiding it on the plain path', () => {
    if (!codeGenerationAllowed) return;
    expect(() => generate([], 'return (;', [])).toThrow(SyntaxError);
  });
});
