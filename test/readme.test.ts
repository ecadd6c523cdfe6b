import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
const work = mkdtempSync(join(root, '.tmp-readme-'));

/** The package's own names, pointed at the sources so the snippets run without a build. */
function localImports(code: string): string {
  return code.replace(/from 'telemeter(\/[a-z]+)?'/g, (_m, sub: string | undefined) => {
    const entry = join(root, 'src', sub ? `${sub.slice(1)}/index.ts` : 'index.ts');
    return `from ${JSON.stringify(entry)}`;
  });
}

function run(file: string): Promise<{ code: number; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', file],
      { cwd: root, timeout: 30_000 },
      (error, _stdout, stderr) =>
        done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('every TypeScript snippet in the README runs', () => {
  it('has snippets to run', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(8);
  });

  it.each(blocks.map((code, i) => [i + 1, code] as const))('snippet %i exits 0', async (i, code) => {
    const file = join(work, `snippet-${i}.mts`);
    // Fixed ports may be taken on a shared machine; the snippets read the bound port from the server.
    const source = localImports(code).replace(/port: 9091\b/g, 'port: 0');
    writeFileSync(file, `${source}\nsetTimeout(() => process.exit(0), 200).unref();\n`);
    const result = await run(file);
    expect(result.stderr).not.toMatch(/Error|TypeError|ReferenceError/);
    expect(result.code).toBe(0);
  });
});
