/**
 * The code examples of the documentation, as runnable programs: every ```ts (or js) block of README.md and
 * docs/*.md, and every ```ts block in a TSDoc comment under src/. An example states what it prints with `//=>`
 * comments, one per line of output it promises, and test/docs/snippets.test.ts runs it and holds it to them.
 *
 * An example written for another runtime names it after the language: ```ts bun or ```ts deno. Those run on that
 * runtime, in test/runtimes/runtimes.test.ts, instead of on Node.js.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export interface Snippet {
  /** Where it is, as `file:line`. */
  readonly where: string;
  readonly code: string;
  /** What it promises to print, in order: the text after each `//=>`. */
  readonly expected: readonly string[];
  /** The runtime it is written for, when not Node.js. */
  readonly runtime?: 'bun' | 'deno';
}

const RUNNABLE = /^(ts|typescript|js|javascript|mjs)$/;
const RUNTIMES = new Set(['bun', 'deno']);
const EXPECTATION = /\/\/=>\s?(.*)$/;

function blocks(file: string, text: string, lineOffset = 0): Snippet[] {
  const lines = text.split('\n');
  const found: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```(\S*)(?:\s+(\S+))?\s*$/.exec(lines[i]);
    if (open === null) continue;
    const start = i;
    let end = i + 1;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end])) end++;
    const runtime = open[2];
    if (runtime !== undefined && !RUNTIMES.has(runtime)) {
      throw new Error(`${relative(ROOT, file)}:${start + 1 + lineOffset}: unknown runtime "${runtime}"`);
    }
    if (RUNNABLE.test(open[1])) {
      const code = lines.slice(start + 1, end).join('\n');
      const expected = code
        .split('\n')
        .map((line) => EXPECTATION.exec(line)?.[1]?.trimEnd())
        .filter((e): e is string => e !== undefined);
      const where = `${relative(ROOT, file)}:${start + 1 + lineOffset}`;
      found.push(
        runtime === undefined
          ? { where, code, expected }
          : { where, code, expected, runtime: runtime as 'bun' | 'deno' },
      );
    }
    i = end;
  }
  return found;
}

/** The examples of README.md and of every page in docs/. */
export function markdownSnippets(): Snippet[] {
  const files = [
    join(ROOT, 'README.md'),
    ...readdirSync(join(ROOT, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .sort()
      .map((name) => join(ROOT, 'docs', name)),
  ];
  return files.flatMap((file) => blocks(file, readFileSync(file, 'utf8')));
}

/** The ```ts examples inside the TSDoc comments of src/, with each comment's leading ` * ` removed. */
export function tsdocSnippets(): Snippet[] {
  const files = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[])
    .filter((name) => name.endsWith('.ts'))
    .sort()
    .map((name) => join(ROOT, 'src', name));
  const found: Snippet[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
      if (!comment[0].includes('```')) continue;
      const line = text.slice(0, comment.index).split('\n').length - 1;
      const body = comment[0]
        .split('\n')
        .map((l) => l.replace(/^\s*\/?\*+\/?\s?/, ''))
        .join('\n');
      found.push(...blocks(file, body, line));
    }
  }
  return found;
}

/** The package's own names, pointed at the sources, so the examples run without a build. */
export function withLocalImports(code: string): string {
  return code.replace(
    /(from |import\()'telemeter(\/[a-z0-9-]+)?'/g,
    (_m, keyword: string, sub: string | undefined) => {
      const entry = join(ROOT, 'src', sub ? `${sub.slice(1)}/index.ts` : 'index.ts');
      return `${keyword}${JSON.stringify(entry)}`;
    },
  );
}

/** Port numbers a page shows (9091, 4000) are real ports elsewhere on a shared machine: examples bind port 0. */
export function withFreePorts(code: string): string {
  return code.replace(/\bport: (9091|4000|8125)\b/g, 'port: 0');
}

/** Addresses with their port as `host:PORT`, so an example can show the default port it does not really bind. */
export function withoutPorts(text: string): string {
  return text.replace(/(127\.0\.0\.1|\[::1\]|localhost):\d+/g, '$1:PORT');
}

/**
 * Where each expected line is found in `output`, in order, or the first one that is not: each must appear after
 * the one before it.
 */
export function missingExpectation(output: string, expected: readonly string[]): string | undefined {
  const text = withoutPorts(output);
  let from = 0;
  for (const line of expected) {
    const at = text.indexOf(withoutPorts(line), from);
    if (at < 0) return line;
    from = at + withoutPorts(line).length;
  }
  return undefined;
}
