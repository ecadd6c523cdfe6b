import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/index.js';
import { ROOT } from './snippets.js';

describe('docs/errors.md', () => {
  it('lists every error code, with the description the code carries, and no other', () => {
    const page = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
    const rows = [...page.matchAll(/^\|\s*`([A-Za-z_]+)`\s*\|\s*(.+?)\s*\|$/gm)].map((m) => [m[1], m[2]]);
    expect(Object.fromEntries(rows)).toEqual(ERROR_CODES);
  });

  it('gives every code thrown in src/ a row', () => {
    const sources = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[])
      .filter((name) => name.endsWith('.ts'))
      .map((name) => readFileSync(join(ROOT, 'src', name), 'utf8'))
      .join('\n');
    const used = new Set([...sources.matchAll(/'(ERR_TELEMETER_[A-Z_]+)'/g)].map((m) => m[1]));
    expect([...used].filter((code) => !(code in ERROR_CODES))).toEqual([]);
  });
});
