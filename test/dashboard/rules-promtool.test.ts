/**
 * `promtool test rules` judges the generated alert rules: the unit tests in test/dashboard/rules/*.test.yaml
 * feed input series to the rule file that `alertRules` writes, and assert at given times which alerts fire,
 * with their exact labels and annotations, and which do not (start-up growth, one slow request, a quiet
 * service). The rule files are generated into a temporary directory next to copies of the test files, whose
 * `rule_files` name them.
 */
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bullmqMetrics } from '../../src/bullmq/index.js';
import { alertRuleList, alertRules } from '../../src/dashboard/index.js';
import { httpMetrics } from '../../src/http/index.js';
import { pgMetrics } from '../../src/pg/index.js';
import { redisMetrics } from '../../src/redis/index.js';
import { runtimeMetrics } from '../../src/runtime/index.js';
import { PROMTOOL, requirePromtool, runTool } from '../support/tools.js';

const hasPromtool = requirePromtool();
const TESTS_DIR = join(import.meta.dirname, 'rules');
const definitions = [
  ...httpMetrics(),
  ...runtimeMetrics(),
  ...pgMetrics(),
  ...redisMetrics(),
  ...bullmqMetrics(),
];
/** The rule files the test files name in `rule_files`, and the options each is generated with. */
const RULE_FILES = {
  'telemeter-rules.yml': {},
  'telemeter-rules-memory-limit.yml': { memoryLimitBytes: 512 * 1024 ** 2 },
} as const;

/** Each `alertname` of a test file, with whether that evaluation expects alerts (`exp_alerts` not `[]`). */
function evaluations(yaml: string): Array<{ alert: string; fires: boolean }> {
  const result: Array<{ alert: string; fires: boolean }> = [];
  const lines = yaml.split('\n').filter((line) => !/^\s*(#|$)/.test(line));
  lines.forEach((line, i) => {
    const named = /^\s+alertname:\s*(\S+)\s*$/.exec(line);
    const expected = /^\s+exp_alerts:\s*(\[\])?\s*$/.exec(lines[i + 1] ?? '');
    if (named && expected) result.push({ alert: named[1], fires: expected[1] === undefined });
  });
  return result;
}

describe.skipIf(!hasPromtool)('alertRules judged by promtool test rules', () => {
  let dir: string;
  let testFiles: string[];

  /** Writes `rules` (file name → YAML) into the temp dir and runs promtool on `files`. */
  async function promtoolTest(files: readonly string[], rules?: Record<string, string>) {
    for (const [name, options] of Object.entries(RULE_FILES)) {
      await writeFile(join(dir, name), rules?.[name] ?? alertRules(definitions, options));
    }
    const paths = files.map((name) => join(dir, name));
    const run = await runTool(PROMTOOL, ['test', 'rules', ...paths], { timeoutMs: 60_000 });
    return { ok: run.code === 0, output: run.stdout + run.stderr };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'telemeter-rule-tests-'));
    testFiles = (await readdir(TESTS_DIR)).filter((name) => name.endsWith('.test.yaml')).sort();
    for (const name of testFiles) await copyFile(join(TESTS_DIR, name), join(dir, name));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('has, for every generated alert, a case where it fires and one where it must not', async () => {
    const covered = new Map<string, Set<boolean>>();
    for (const name of testFiles) {
      for (const { alert, fires } of evaluations(await readFile(join(TESTS_DIR, name), 'utf8'))) {
        covered.set(alert, (covered.get(alert) ?? new Set()).add(fires));
      }
    }
    const alerts = alertRuleList(definitions).map((rule) => rule.alert);
    expect(alerts).toHaveLength(13 + 3);
    for (const alert of alerts) expect([...(covered.get(alert) ?? [])].sort(), alert).toEqual([false, true]);
  });

  it('passes every test file', async () => {
    expect(testFiles.length).toBeGreaterThanOrEqual(6);
    for (const name of testFiles) {
      const { ok, output } = await promtoolTest([name]);
      expect(output, name).toContain('SUCCESS');
      expect(ok, output).toBe(true);
    }
  });

  it('can fail: an annotation that differs by one word fails the test', async () => {
    const rules = alertRules(definitions).replace('keeps stalling', 'stalls');
    const { ok, output } = await promtoolTest(['event-loop.test.yaml'], { 'telemeter-rules.yml': rules });
    expect(ok).toBe(false);
    expect(output).toMatch(/FAILED[\s\S]*blocked 1 s every 5 s fires/);
  });

  it('can fail: without `for`, the one-off cases go over the thresholds and fire', async () => {
    // So the must-not cases really cross each threshold once, and it is `for` that keeps them quiet.
    const rules = alertRules(definitions).replaceAll(/for: "\d+m"/g, 'for: "0s"');
    const { ok, output } = await promtoolTest(testFiles, { 'telemeter-rules.yml': rules });
    expect(ok).toBe(false);
    for (const name of [
      'a restart that misses two scrapes does not fire',
      'one failed request of a low-traffic service does not fire',
      'one slow request, of a busy or of a low-traffic service, and a quiet service do not fire',
      'a quiet service, one slow request, and two slow requests 3 minutes apart do not fire',
      'one refused scrape, and a service that only answers 200, do not fire',
      'one skipped event does not fire',
      'one event in the overflow series does not fire',
      'one dropped connection does not fire',
      'one server restart (every client reconnecting once) and steady connects do not fire',
      'one stalled job, as after a deploy that killed a busy worker, does not fire',
    ]) {
      expect(output, name).toContain(`name: ${name},`);
    }
  });

  it('can fail: counting retried attempts as failures, or a backlog rule blind to draining, fires', async () => {
    const rules = alertRules(definitions)
      .replace('outcome=\\"failed\\"', 'outcome=~\\"failed|retried\\"')
      .replace('outcome=~\\"completed|failed\\"', 'outcome=~\\".+\\"')
      .replace(
        / and on \(job, queue\) max by \(job, queue\) \(min_over_time\(.*?\)\) > 0"\n {8}for: "15m"/,
        '"\n        for: "0s"',
      );
    const { ok, output } = await promtoolTest(['bullmq.test.yaml'], { 'telemeter-rules.yml': rules });
    expect(ok).toBe(false);
    for (const name of [
      'many retried attempts with few final failures, and a quiet queue, do not fire',
      'a large steady backlog, and bursts the workers drain every 10 minutes, do not fire',
    ]) {
      expect(output, name).toContain(`name: ${name},`);
    }
  });

  it('can fail: without the start-up guard, memory growth of start-up fires at 35 and 45 minutes', async () => {
    const guard = ' and on (job, instance) time() - process_start_time_seconds > 75 * 60';
    const rules = Object.fromEntries(
      Object.entries(RULE_FILES).map(([name, options]) => {
        const yaml = alertRules(definitions, options);
        expect(yaml, name).toContain(guard);
        return [name, yaml.replace(guard, '')];
      }),
    );
    const { ok, output } = await promtoolTest(['memory.test.yaml', 'memory-limit.test.yaml'], rules);
    expect(ok).toBe(false);
    const failures = [...output.matchAll(/name: (.+),\n\s+alertname: ProcessMemoryGrowing, time: (\w+)/g)];
    expect(failures.map((m) => `${m[2]} ${m[1]}`)).toEqual(
      expect.arrayContaining([
        '35m growth during start-up (60 to 100 MiB in the first 5 minutes, then flat) does not fire',
        '45m growth during start-up (60 to 100 MiB in the first 5 minutes, then flat) does not fire',
        '35m a fast start-up (300 to 500 MiB in 5 minutes, then flat) under the limit does not fire',
      ]),
    );
  });
});
