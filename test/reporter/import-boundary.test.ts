import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The reporter's storage is reached only through `src/reporter/index.ts`: its read model and its merge interface.
 * Every other module of `src/` that imports from `reporter/` imports that file, so the tables and stores can change
 * without touching an exporter.
 */

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const REPORTER = join(SRC, 'reporter');
const ENTRY = join(REPORTER, 'index.ts');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * The imports of one file, as `<file> imports <specifier>`, that reach into `reporter/` past its index: static
 * imports and re-exports, `import type`, and dynamic `import()`, as TypeScript's own pre-processor finds them.
 */
function deepImports(file: string, source: string): string[] {
  if (file.startsWith(REPORTER + sep)) return [];
  const { importedFiles } = ts.preProcessFile(source, true, true);
  return importedFiles
    .map((imported) => imported.fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .filter((specifier) => {
      const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts');
      return target.startsWith(REPORTER + sep) && target !== ENTRY;
    })
    .map((specifier) => `${relative(SRC, file)} imports ${specifier}`);
}

describe('the reporter boundary', () => {
  it('finds a deep import in every form a module can write one (the check can fail)', () => {
    const file = join(SRC, 'exposition', 'example.ts');
    const source = [
      "import type { StoredFamily } from '../reporter/family.js';",
      "import { SeriesTable } from '../reporter/series-table.js';",
      "export { ensureCapacity } from '../reporter/growable.js';",
      "const store = await import('../reporter/summary-store.js');",
      "import { Reporter } from '../reporter/index.js';",
      "import { formatValue } from './number-format.js';",
    ].join('\n');
    expect(deepImports(file, source)).toEqual([
      'exposition/example.ts imports ../reporter/family.js',
      'exposition/example.ts imports ../reporter/series-table.js',
      'exposition/example.ts imports ../reporter/growable.js',
      'exposition/example.ts imports ../reporter/summary-store.js',
    ]);
    // Inside reporter/, its files import each other freely.
    expect(deepImports(join(REPORTER, 'merge.ts'), "import { x } from './family.js';")).toEqual([]);
  });

  it('no module outside src/reporter imports anything of it but src/reporter/index.ts', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(50);
    const found = files.flatMap((file) => deepImports(file, readFileSync(file, 'utf8')));
    expect(found).toEqual([]);
  });
});
