/**
 * promtool as a judge of the Prometheus text format (0.0.4).
 *
 * `promtool check metrics` reads stdin only and uses the Go 0.0.4 text parser, then lints:
 *   exit 0 = clean, 1 = parse error ("error while linting: text format parsing error in line N: ..."),
 *   3 = lint problems, one per line on stderr as `<metric> <problem>`.
 * It does NOT understand OpenMetrics (`# EOF` is just a comment to it, `_created`/units are not
 * checked), and it does not check histogram bucket order or duplicate series.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROMTOOL, runTool } from './tools.js';

export interface PromtoolResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Lint problems (exit 3), one entry per line, e.g. `foo counter metrics should have "_total" suffix`. */
  lint: string[];
  /** True when exit code is 0. */
  ok: boolean;
  /** The parse error message (exit 1), without the "error while linting: " prefix. */
  error?: string;
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** Pipe `body` to `promtool check metrics`. */
export async function checkMetrics(body: string | Buffer): Promise<PromtoolResult> {
  const { code, stdout, stderr } = await runTool(PROMTOOL, ['check', 'metrics'], { input: body });
  if (code !== 0 && code !== 1 && code !== 3) {
    throw new Error(`promtool check metrics exited with unexpected code ${code}: ${stderr}${stdout}`);
  }
  const all = [...lines(stderr), ...lines(stdout)];
  const errorLines = all.filter((l) => l.startsWith('error while linting:'));
  const result: PromtoolResult = {
    code,
    stdout,
    stderr,
    lint: code === 3 ? all.filter((l) => !l.startsWith('error while linting:')) : [],
    ok: code === 0,
  };
  if (code === 1) {
    result.error =
      errorLines.map((l) => l.replace(/^error while linting:\s*/, '')).join('\n') || all.join('\n');
  }
  return result;
}

export interface CheckRulesOptions {
  /** Pass `--lint-fatal` so lint problems (duplicate rules) exit 3 instead of 0. */
  lintFatal?: boolean;
}

/** Write `yamlText` to a temp file and run `promtool check rules FILE` (exit 0 ok, 1 invalid). */
export async function checkRules(
  yamlText: string,
  opts: CheckRulesOptions = {},
): Promise<{ code: number; stdout: string; stderr: string; ok: boolean }> {
  const dir = await mkdtemp(join(tmpdir(), 'promtool-rules-'));
  try {
    const file = join(dir, 'rules.yml');
    await writeFile(file, yamlText);
    const args = ['check', 'rules', ...(opts.lintFatal ? ['--lint-fatal'] : []), file];
    const { code, stdout, stderr } = await runTool(PROMTOOL, args);
    return { code, stdout, stderr, ok: code === 0 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
