import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * The plain recording path in a real process that refuses code generation from strings, against one that allows
 * it (test/reporter/plain-path.test.ts compares the two paths within one process). Child processes and a cluster
 * merge take seconds, so this file is not among the suites that `npm run mutate` runs.
 */

describe('a process that refuses code generation from strings', () => {
  const script = fileURLToPath(new URL('../fixtures/plain-path-scenario.ts', import.meta.url));
  const runScenario = async (flags: string[]) => {
    const { stdout } = await promisify(execFile)(process.execPath, [...flags, '--import', 'tsx', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    return JSON.parse(stdout) as { codeGeneration: string; single: string; singleOm: string; merged: string };
  };
  // The time a cluster collection took is the one value that differs between two runs: its sum, and the buckets it
  // falls in (a collection of 0.9 ms in one run and 5.1 ms in the other moves three of them).
  const timeless = (body: string) =>
    body
      .split('\n')
      .filter(
        (line) =>
          !line.startsWith('telemeter_cluster_collect_duration_seconds_sum') &&
          !line.startsWith('telemeter_cluster_collect_duration_seconds_bucket'),
      )
      .join('\n');

  it('records every metric type, bound handles, idle expiry and a cluster merge exactly as the generated path', async () => {
    const [refused, allowed] = await Promise.all([
      runScenario(['--disallow-code-generation-from-strings']),
      runScenario([]),
    ]);
    expect([refused.codeGeneration, allowed.codeGeneration]).toEqual(['refused', 'allowed']);
    expect(refused.single).toBe(allowed.single);
    expect(refused.singleOm).toBe(allowed.singleOm);
    expect(timeless(refused.merged)).toBe(timeless(allowed.merged));
    // The scenario did reach every feature: expiry, the bound series, the merge.
    expect(refused.single).toContain('scn_req_duration_count{app="scn",route="/bound",status="200"} 8');
    expect(refused.single).toContain('scn_req_duration_count{app="scn",route="/gone",status="200"} 6');
    expect(refused.merged).toContain('scn_req_count_total{route="/w",status="200"} 13');
  });
});
