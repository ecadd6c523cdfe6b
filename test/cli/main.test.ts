import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliIo, UsageError } from '../../src/cli/command.js';
import { startDemo } from '../../src/cli/demo/start.js';
import { main } from '../../src/cli/main.js';
import { loadDefinitions } from '../../src/cli/metric-source.js';
import { checkRules } from '../support/promtool.js';
import { requirePromtool, runTool } from '../support/tools.js';

const hasPromtool = requirePromtool();
const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURE = 'test/fixtures/telemetry.ts';

/** The CLI as a user runs it: a separate Node process, with tsx to load the TypeScript sources. */
function cli(args: string[]) {
  return runTool(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    timeoutMs: 60_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
}

function capture(): CliIo & { out: string; err: string } {
  const io = {
    cwd: ROOT,
    out: '',
    err: '',
    stdout(text: string) {
      io.out += text;
    },
    stderr(text: string) {
      io.err += text;
    },
  };
  return io;
}

describe('telemeter CLI (spawned)', () => {
  it('grafana --module prints a dashboard with panels', async () => {
    const { code, stdout, stderr } = await cli(['grafana', '--module', FIXTURE, '--title', 'Fixture']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const dashboard = JSON.parse(stdout);
    expect(dashboard.title).toBe('Fixture');
    const exprs = dashboard.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr));
    expect(exprs.some((e: string) => e.includes('shop_orders_count_total'))).toBe(true);
    expect(exprs.some((e: string) => e.includes('jobs_processed_total'))).toBe(true);
  });

  it('grafana --metrics default uses the built-in HTTP and runtime metrics', async () => {
    const { code, stdout } = await cli(['grafana', '--metrics', 'default']);
    expect(code).toBe(0);
    const rows = JSON.parse(stdout)
      .panels.filter((p: any) => p.type === 'row')
      .map((p: any) => p.title);
    expect(rows).toEqual(['Overview', 'HTTP', 'Node.js runtime', 'telemeter']);
  });

  it.skipIf(!hasPromtool)('rules output passes promtool check rules', async () => {
    for (const source of [
      ['--module', FIXTURE],
      ['--metrics', 'default', '--job', 'shop'],
    ]) {
      const { code, stdout, stderr } = await cli(['rules', ...source]);
      expect(code, stderr).toBe(0);
      expect(stdout).toContain('- alert: "TargetDown"');
      const judged = await checkRules(stdout, { lintFatal: true });
      expect(judged.ok, judged.stdout + judged.stderr).toBe(true);
    }
  });

  it('--help prints the usage and exits 0', async () => {
    const { code, stdout } = await cli(['grafana', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: telemeter grafana');
  });
});

describe('telemeter CLI (in process)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'telemeter-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('describes each command with --help', async () => {
    for (const command of ['grafana', 'rules']) {
      const io = capture();
      expect(await main([command, '--help'], io)).toBe(0);
      expect(io.out).toContain(`Usage: telemeter ${command}`);
      expect(io.out).toContain('--module');
    }
    const io = capture();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.out).toMatch(/grafana .*\n\s+rules /);
  });

  it('reports usage mistakes with exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /Usage: telemeter <command>/],
      [['deploy'], /unknown command "deploy"/],
      [['grafana'], /--module <path> or --metrics default/],
      [['grafana', '--metrics', 'everything'], /unknown set "everything"/],
      [['rules', '--module'], /--module/],
      [['rules', '--metrics', 'default', '--error-ratio', 'lots'], /--error-ratio must be a number/],
      [['grafana', '--colour'], /Unknown option '--colour'/],
      [['demo', '--database-url', 'mysql://127.0.0.1/test'], /--database-url must be a postgres:\/\//],
      [['demo', '--database-schema', 'shop'], /--database-schema needs --database-url/],
      [
        ['demo', '--database-url', 'postgres://127.0.0.1/test', '--database-schema', 'Shop; DROP'],
        /--database-schema must be a lower-case name/,
      ],
    ];
    for (const [args, message] of cases) {
      const io = capture();
      expect(await main(args, io), args.join(' ')).toBe(2);
      expect(io.err, args.join(' ')).toMatch(message);
      expect(io.out).toBe('');
    }
  });

  it('passes --event-loop-stall to the rules, which must be a bucket bound of the delay histogram', async () => {
    const io = capture();
    expect(await main(['rules', '--metrics', 'default', '--event-loop-stall', '1'], io)).toBe(0);
    expect(io.out).toContain('nodejs_eventloop_delay_seconds_bucket{le=\\"1.0\\"}[2m]');
    expect(io.out).toContain('keeps stalling (blocked over 1s)');
    const wrong = capture();
    expect(await main(['rules', '--metrics', 'default', '--event-loop-stall', '0.3'], wrong)).toBe(1);
    expect(wrong.err).toMatch(/option eventLoopStallSeconds must be a bucket bound/);
  });

  it('fails with exit code 1 and a clear message when the module is unusable', async () => {
    await writeFile(join(dir, 'empty.mjs'), 'export const other = 1;\n');
    await writeFile(join(dir, 'wrong.mjs'), 'export const metrics = [{ nope: true }];\n');
    const cases: Array<[string, RegExp]> = [
      [join(dir, 'missing.mjs'), /cannot import .*missing\.mjs/],
      [join(dir, 'empty.mjs'), /exports neither `metrics` nor a default export/],
      [join(dir, 'wrong.mjs'), /\(export metrics\)\[0\] is not a metric definition/],
    ];
    for (const [path, message] of cases) {
      const io = capture();
      expect(await main(['grafana', '--module', path], io)).toBe(1);
      expect(io.err).toMatch(message);
    }
  });

  it('accepts a default export, a function, and a path relative to the working directory', async () => {
    const src = pathToFileURL(join(ROOT, 'src/index.ts')).href;
    await writeFile(
      join(dir, 'telemetry.mjs'),
      `import { counter } from ${JSON.stringify(src)};\nexport default async () => [counter('app.jobs.count', { eventName: 'app.jobs.done' })];\n`,
    );
    const io = { ...capture(), cwd: dir };
    const sink = capture();
    io.stdout = sink.stdout;
    io.stderr = sink.stderr;
    expect(await main(['grafana', '--module', './telemetry.mjs', '--no-self-metrics'], io)).toBe(0);
    const dashboard = JSON.parse(sink.out);
    expect(dashboard.panels.map((p: any) => p.title)).toContain('app_jobs_count_total per second');
    expect(dashboard.panels.map((p: any) => p.title)).not.toContain('telemeter');

    expect(await main(['rules', '--module', './telemetry.mjs', '-o', 'rules.yml'], io)).toBe(0);
    expect(await readFile(join(dir, 'rules.yml'), 'utf8')).toContain('TelemeterDroppedEvents');
  });
});

describe('bin/telemeter.js', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'telemeter-bin-'));
    await mkdir(join(dir, 'bin'));
    await cp(join(ROOT, 'bin/telemeter.js'), join(dir, 'bin/telemeter.js'));
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('asks for a build when dist/ is missing', async () => {
    const { code, stderr } = await runTool(process.execPath, [join(dir, 'bin/telemeter.js'), 'grafana']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/dist\/cli\/main\.js is missing; run `npm run build`/);
  });

  it('runs dist/cli/main.js with the arguments and its exit code', async () => {
    await mkdir(join(dir, 'dist/cli'), { recursive: true });
    await writeFile(
      join(dir, 'dist/cli/main.js'),
      'export async function main(argv) { process.stdout.write(JSON.stringify(argv)); return 3; }\n',
    );
    const { code, stdout } = await runTool(process.execPath, [
      join(dir, 'bin/telemeter.js'),
      'rules',
      '--help',
    ]);
    expect(stdout).toBe('["rules","--help"]');
    expect(code).toBe(3);
  });
});

describe('CLI error codes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'telemeter-cli-codes-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives usage mistakes and unusable modules a stable code beside the exit code', async () => {
    await writeFile(join(dir, 'empty.mjs'), 'export const other = 1;\n');
    await expect(loadDefinitions({}, dir)).rejects.toMatchObject({
      name: 'UsageError',
      code: 'ERR_TELEMETER_INVALID_ARGUMENT',
    });
    await expect(loadDefinitions({ metrics: 'everything' }, dir)).rejects.toBeInstanceOf(UsageError);
    await expect(loadDefinitions({ module: 'missing.mjs' }, dir)).rejects.toMatchObject({
      code: 'ERR_TELEMETER_INVALID_ARGUMENT',
      message: expect.stringMatching(/^cannot import missing\.mjs/),
      cause: expect.anything(),
    });
    await expect(loadDefinitions({ module: 'empty.mjs' }, dir)).rejects.toMatchObject({
      code: 'ERR_TELEMETER_INVALID_ARGUMENT',
      message: expect.stringMatching(/exports neither/),
    });
  });

  it('startDemo rejects a misspelt option, naming the closest valid one', async () => {
    await expect(startDemo({ metricPort: 0 } as never)).rejects.toMatchObject({
      name: 'TypeError',
      code: 'ERR_TELEMETER_UNKNOWN_OPTION',
      message: expect.stringMatching(
        /^telemeter demo: startDemo: option metricPort is unknown \(did you mean metricsPort\?/,
      ),
    });
  });

  it('startDemo fails with ERR_TELEMETER_LISTEN, the address and the cause when the shop port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', () => done()));
    const { port } = taken.address() as AddressInfo;
    try {
      await expect(startDemo({ port, metricsPort: 0, traffic: false })).rejects.toMatchObject({
        code: 'ERR_TELEMETER_LISTEN',
        message: expect.stringMatching(
          new RegExp(`the shop API cannot listen on 127\\.0\\.0\\.1:${port}: .*--port`),
        ),
        cause: expect.objectContaining({ code: 'EADDRINUSE' }),
      });
    } finally {
      await new Promise((done) => taken.close(done));
    }
  });

  it('startDemo names --database-url, without its password, when that PostgreSQL cannot be used', async () => {
    // Port 1 on loopback refuses connections: nothing is listening there.
    const error = await startDemo({
      port: 0,
      metricsPort: 0,
      traffic: false,
      databaseUrl: 'postgres://shop:s3cret@127.0.0.1:1/test',
    }).catch((failure: unknown) => failure);
    expect(error).toMatchObject({
      code: 'ERR_TELEMETER_INVALID_OPTION',
      message: expect.stringMatching(
        /^telemeter demo: cannot use --database-url postgres:\/\/shop:\*\*\*@127\.0\.0\.1:1\/test: /,
      ),
      cause: expect.objectContaining({ code: 'ECONNREFUSED' }),
    });
    expect((error as Error).message).not.toContain('s3cret');
  });
});
