import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Telemeter } from '../../src/index.js';
import { everyTypeFixture } from './fixture.js';

const golden = (name: string) => fileURLToPath(new URL(`../golden/${name}`, import.meta.url));

/** Whether `env` is a CI run: `CI` set to anything but empty, `0` or `false`, as CI services set it. */
function isCi(env: NodeJS.ProcessEnv): boolean {
  const ci = env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * The golden text of `path`, to compare `body` with. A golden file is written only when asked for with
 * `UPDATE_GOLDEN=1` (after an intended format change; review the diff by hand), and never in CI: there a missing
 * golden fails, so a run cannot pass by writing down whatever it produced.
 */
function goldenText(path: string, body: string, env: NodeJS.ProcessEnv = process.env): string {
  const update = env.UPDATE_GOLDEN === '1';
  if (isCi(env)) {
    if (update) throw new Error(`UPDATE_GOLDEN=1 under CI: golden files are never written in CI (${path})`);
    if (!existsSync(path)) {
      throw new Error(
        `golden file ${path} is missing; CI only compares. Run UPDATE_GOLDEN=1 npx vitest run test/exposition/golden.test.ts locally, review and commit it`,
      );
    }
  } else if (update) {
    writeFileSync(path, body);
  } else if (!existsSync(path)) {
    throw new Error(
      `golden file ${path} is missing; write it with UPDATE_GOLDEN=1 npx vitest run test/exposition/golden.test.ts, then review it`,
    );
  }
  return readFileSync(path, 'utf8');
}

describe('golden exposition', () => {
  // Built for each test rather than once for the file, so that `npm run mutate` knows which test covers what.
  let telemeter: Telemeter;
  beforeEach(() => {
    telemeter = everyTypeFixture('g');
  });
  afterEach(() => telemeter.close());

  it.each([
    ['every-type.prom', 'text'],
    ['every-type.om', 'openmetrics'],
  ] as const)('%s holds the exact %s rendering of every metric type', (file, format) => {
    const body = telemeter.scrape({ format });
    expect(body).toBe(goldenText(golden(file), body));
  });

  it('renders both formats from one walk: the same sample lines, counters named *_total in both', () => {
    const text = telemeter.scrape();
    const om = telemeter.scrape({ format: 'openmetrics' });
    const samples = (body: string) => body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(samples(om)).toEqual(samples(text));
    expect(samples(text)).toContain('g_shop_order_amount_total{currency="USD",service="shop"} 5');
    expect(text).toContain('# TYPE g_shop_order_amount_total counter\n');
    expect(om).toContain('# TYPE g_shop_order_amount counter\n');
    expect(om.endsWith('# EOF\n')).toBe(true);
    expect(text).not.toContain('# EOF');
    expect(text).not.toContain('\r\n');
  });
});

describe('golden files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'telemeter-golden-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const path = (name: string) => join(dir, name);

  it('are never written under CI=true, even when asked, and a missing one fails with the fix', () => {
    expect(() => goldenText(path('missing.prom'), 'x\n', { CI: 'true' })).toThrow(
      /golden file .*missing\.prom is missing; CI only compares\. Run UPDATE_GOLDEN=1/,
    );
    expect(() => goldenText(path('asked.prom'), 'x\n', { CI: 'true', UPDATE_GOLDEN: '1' })).toThrow(
      /never written in CI/,
    );
    expect(existsSync(path('missing.prom'))).toBe(false);
    expect(existsSync(path('asked.prom'))).toBe(false);
    // An existing golden under CI is read, not rewritten: a different body is what the comparison catches.
    writeFileSync(path('kept.prom'), 'old\n');
    expect(goldenText(path('kept.prom'), 'new\n', { CI: 'true' })).toBe('old\n');
    expect(readFileSync(path('kept.prom'), 'utf8')).toBe('old\n');
  });

  it('are written outside CI only when UPDATE_GOLDEN=1 asks for it', () => {
    expect(() => goldenText(path('local.prom'), 'x\n', {})).toThrow(/missing; write it with UPDATE_GOLDEN=1/);
    expect(existsSync(path('local.prom'))).toBe(false);
    expect(goldenText(path('local.prom'), 'x\n', { UPDATE_GOLDEN: '1' })).toBe('x\n');
    expect(goldenText(path('local.prom'), 'y\n', { UPDATE_GOLDEN: '1', CI: 'false' })).toBe('y\n');
    expect(goldenText(path('local.prom'), 'z\n', {})).toBe('y\n');
  });
});
