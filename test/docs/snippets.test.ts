import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  markdownSnippets,
  missingExpectation,
  ROOT,
  type Snippet,
  tsdocSnippets,
  withFreePorts,
  withLocalImports,
} from './snippets.js';

const work = mkdtempSync(join(ROOT, '.tmp-snippets-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', file],
      { cwd: work, timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } },
      (error, stdout, stderr) =>
        done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let sequence = 0;

async function check(snippet: Snippet): Promise<void> {
  expect(snippet.expected.length, `${snippet.where} shows no value: add //=> lines`).toBeGreaterThan(0);
  const file = join(work, `snippet-${++sequence}.mts`);
  // An example may leave a server or a timer running, as an application would: end it once its code has run.
  const source = `${withFreePorts(withLocalImports(snippet.code))}\nsetTimeout(() => process.exit(0), 300).unref();\n`;
  writeFileSync(file, source);
  const result = await run(file);
  expect(result.stderr, snippet.where).not.toMatch(/\b(Error|TypeError|ReferenceError|SyntaxError)\b/);
  expect(result.code, `${snippet.where}\n${result.stderr}`).toBe(0);
  const missing = missingExpectation(result.stdout, snippet.expected);
  expect(
    missing,
    `${snippet.where} did not print, in order:\n${missing}\nIt printed:\n${result.stdout}`,
  ).toBeUndefined();
}

describe('the expectation matcher', () => {
  it('finds each expected line in order, and says which one is missing', () => {
    expect(missingExpectation('a 1\nb 2\nc 3\n', ['a 1', 'c 3'])).toBeUndefined();
    expect(missingExpectation('a 1\nb 2\n', ['b 2', 'a 1'])).toBe('a 1');
    expect(missingExpectation('x', ['y'])).toBe('y');
    expect(
      missingExpectation('http://127.0.0.1:41234/metrics', ['http://127.0.0.1:9091/metrics']),
    ).toBeUndefined();
  });
});

describe('every example in README.md and docs/ runs and prints what it shows', () => {
  // Examples for Bun and Deno run on their runtime, in test/runtimes/.
  const snippets = markdownSnippets().filter((s) => s.runtime === undefined);
  it('finds the examples', () => {
    expect(snippets.length).toBeGreaterThan(10);
  });
  it.each(snippets.map((s) => [s.where, s] as const))('%s', async (_where, snippet) => check(snippet));
});

describe('every example in a TSDoc comment runs and prints what it shows', () => {
  const snippets = tsdocSnippets().filter((s) => s.runtime === undefined);
  it('finds the examples', () => {
    expect(snippets.length).toBeGreaterThan(5);
  });
  it.each(snippets.map((s) => [s.where, s] as const))('%s', async (_where, snippet) => check(snippet));
});
