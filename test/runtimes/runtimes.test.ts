/**
 * telemeter on Bun, Deno and Cloudflare's workerd, as an application imports the installed package:
 *
 * - the golden fixture (every metric type, hostile tag values) gives Node's exposition on each runtime, which the
 *   strict OpenMetrics parser and promtool accept; the one difference allowed is in the last digits of Bun's
 *   summary quantiles (JavaScriptCore's Math.pow and Math.log are not V8's);
 * - in workerd the core runs with no `nodejs_compat` at all, and a Telemeter with summaries is made at a Worker's
 *   top level, where timers are refused;
 * - instrumentFetchHandler, instrumentBunRoutes and metricsFetchHandler on Bun.serve, Deno.serve and a Worker,
 *   with real requests: routes, a 404 of the handler's own, a fallback 404, a thrown error, an ignored path, a
 *   client that leaves, counted exactly;
 * - what `instrumentNodeHttp()` and `instrumentHttpClient()` see of `node:http` and `fetch` on each runtime;
 * - the README's Bun and Deno examples (```ts bun / ```ts deno) run on their runtime.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markdownSnippets, missingExpectation, withFreePorts } from '../docs/snippets.js';
import { type ChildHandle, startChild } from '../e2e/child-process.js';
import { sendCase } from '../http/conformance.js';
import { parseSamples } from '../http/helpers.js';
import { parseOpenMetricsStrict } from '../support/openmetrics-parser.js';
import { checkMetrics } from '../support/promtool.js';
import {
  bundleFixture,
  ensureRuntimes,
  installedPackage,
  ROOT,
  type RuntimeBinaries,
  removeInstalledPackage,
} from '../support/runtimes.js';
import { freePort, requirePromtool, requirePythonPrometheusClient, runTool } from '../support/tools.js';

const runtimes = await ensureRuntimes();
const hasJudges = requirePromtool() && requirePythonPrometheusClient();
const fixture = (name: string) => join(ROOT, 'test/runtimes/fixtures', `${name}.ts`);
const golden = {
  text: readFileSync(join(ROOT, 'test/golden/every-type.prom'), 'utf8'),
  openmetrics: readFileSync(join(ROOT, 'test/golden/every-type.om'), 'utf8'),
};

/** Deno's permissions for what these programs do: listen on loopback, nothing else. */
const DENO_RUN = ['run', '--no-prompt', '--allow-net=127.0.0.1'];

let app: string;
const children: ChildHandle[] = [];

beforeAll(async () => {
  if (runtimes === undefined) return;
  app = await installedPackage();
  await Promise.all([
    bundleFixture(app, fixture('every-type'), 'every-type'),
    bundleFixture(app, fixture('node-http'), 'node-http'),
    bundleFixture(app, fixture('bun-server'), 'bun-server'),
    bundleFixture(app, fixture('deno-server'), 'deno-server'),
    bundleFixture(app, fixture('worker'), 'worker', { worker: true }),
    bundleFixture(app, fixture('worker-core'), 'worker-core', { worker: true }),
  ]);
}, 180_000);

afterAll(async () => {
  await Promise.all(children.map((child) => child.stop('SIGKILL')));
  removeInstalledPackage(app);
});

type Exposition = { text: string; openmetrics: string };

async function everyType(command: string, args: readonly string[]): Promise<Exposition> {
  const run = await runTool(command, [...args, join(app, 'every-type.mjs')], { timeoutMs: 30_000 });
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Exposition;
}

/** The sample lines of a summary's quantiles, which Bun computes to within a few units in the last place. */
const QUANTILE = /^(\S+\{[^}]*quantile="[^"]+"\}) (\S+)$/;

/** Equal line by line, except quantile values that agree to within `tolerance` (relative). */
function expectSameExposition(actual: string, expected: string, tolerance = 0): void {
  if (tolerance === 0 || actual === expected) {
    expect(actual).toBe(expected);
    return;
  }
  const got = actual.split('\n');
  const want = expected.split('\n');
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (got[i] === want[i]) continue;
    const a = QUANTILE.exec(got[i]);
    const b = QUANTILE.exec(want[i]);
    expect(a?.[1], `line ${i + 1}: ${got[i]}`).toBe(b?.[1]);
    const relative = Math.abs(Number(a![2]) - Number(b![2])) / Math.abs(Number(b![2]));
    expect(relative, `line ${i + 1}: ${got[i]} against ${want[i]}`).toBeLessThan(tolerance);
  }
}

/**
 * The strict OpenMetrics parser accepts the OpenMetrics body, and promtool the text body: no parse error, and
 * naming lint only on names the fixture chose on purpose (`lintOnly`, as in test/conformance/judges.test.ts).
 */
async function expectJudgesAccept(exposition: Exposition, lintOnly?: string): Promise<void> {
  if (!hasJudges) return;
  const parsed = await parseOpenMetricsStrict(exposition.openmetrics);
  expect(parsed.ok, parsed.error).toBe(true);
  const checked = await checkMetrics(exposition.text);
  expect(checked.error, checked.stderr).toBeUndefined();
  if (lintOnly === undefined) expect(checked.code, checked.stderr).toBe(0);
  for (const line of checked.lint) expect(line.startsWith(lintOnly ?? '\0'), line).toBe(true);
}

describe.skipIf(runtimes === undefined)('the core on Bun, Deno and workerd', () => {
  const bin = runtimes as RuntimeBinaries;

  it("gives Node's exposition of the golden fixture on Node.js itself, from the installed package", async () => {
    const node = await everyType(process.execPath, []);
    expect(node).toEqual(golden);
  });

  it("gives Node's exposition on Deno, byte for byte, and the judges accept it", async () => {
    const deno = await everyType(bin.deno, DENO_RUN);
    expectSameExposition(deno.text, golden.text);
    expectSameExposition(deno.openmetrics, golden.openmetrics);
    await expectJudgesAccept(deno, 'g_');
  });

  it("gives Node's exposition on Bun but for the last digits of quantiles, and the judges accept it", async () => {
    const bun = await everyType(bin.bun, []);
    expectSameExposition(bun.text, golden.text, 1e-12);
    expectSameExposition(bun.openmetrics, golden.openmetrics, 1e-12);
    await expectJudgesAccept(bun, 'g_');
  });
});

describe.skipIf(runtimes === undefined)('telemeter/http on node:http through diagnostics channels', () => {
  const bin = runtimes as RuntimeBinaries;
  // What docs/runtimes.md says: Bun publishes no http.server.* channel, and neither Bun's nor Deno's fetch
  // publishes undici's; node:http client requests are seen everywhere.
  it.each([
    ['Node.js', process.execPath, [], { server: 2, client: 2 }],
    ['Bun', bin?.bun, [], { server: 0, client: 1 }],
    ['Deno', bin?.deno, DENO_RUN, { server: 2, client: 1 }],
  ] as const)('on %s, counts what the runtime publishes', async (_name, command, args, expected) => {
    const run = await runTool(command!, [...args, join(app, 'node-http.mjs')], { timeoutMs: 30_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(expected);
  });
});

interface Served {
  readonly name: string;
  port: number;
}

/** Starts `command`, which prints `listening <port>`. */
async function startListening(name: string, command: string, args: readonly string[]): Promise<number> {
  const child = startChild(command, args, { name, cwd: app });
  children.push(child);
  const [, port] = await child.waitForStdout(/listening (\d+)/, 30_000);
  return Number(port);
}

/** workerd with two Workers: the application (compatibility date 2026-08-04, `nodejs_compat` on by default), and the core alone on a date before `nodejs_compat`, without it. */
async function startWorkerd(workerd: string): Promise<{ app: number; core: number }> {
  const [appPort, corePort] = [await freePort(), await freePort()];
  const config = join(app, 'workerd.capnp');
  writeFileSync(
    config,
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "app", worker = .app), (name = "core", worker = .core) ],
  sockets = [
    (name = "app", address = "127.0.0.1:${appPort}", http = (), service = "app"),
    (name = "core", address = "127.0.0.1:${corePort}", http = (), service = "core"),
  ],
);
const app :Workerd.Worker = (
  modules = [ (name = "worker.mjs", esModule = embed "worker.mjs") ],
  compatibilityDate = "2026-08-04",
);
const core :Workerd.Worker = (
  modules = [ (name = "worker-core.mjs", esModule = embed "worker-core.mjs") ],
  compatibilityDate = "2024-01-01",
);
`,
  );
  const child = startChild(workerd, ['serve', config], { name: 'workerd', cwd: app });
  children.push(child);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const [a, c] = await Promise.all(
        [appPort, corePort].map((port) =>
          fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) }),
        ),
      );
      await Promise.all([a.arrayBuffer(), c.arrayBuffer()]);
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`workerd did not answer: ${child.stderr()}${String(error)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { app: appPort, core: corePort };
}

async function get(port: number, path: string, accept?: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    headers: accept === undefined ? {} : { accept },
    signal: AbortSignal.timeout(10_000),
  });
  expect(response.status, path).toBe(200);
  return response.text();
}

describe.skipIf(runtimes === undefined)('the fetch adapters on Bun.serve, Deno.serve and workerd', () => {
  const bin = runtimes as RuntimeBinaries;
  const servers: Served[] = [
    { name: 'Bun.serve', port: 0 },
    { name: 'Deno.serve', port: 0 },
    { name: 'workerd', port: 0 },
  ];
  let corePort = 0;

  beforeAll(async () => {
    if (runtimes === undefined) return;
    const [bun, deno, workerd] = await Promise.all([
      startListening('Bun.serve', bin.bun, [join(app, 'bun-server.mjs')]),
      startListening('Deno.serve', bin.deno, [...DENO_RUN, join(app, 'deno-server.mjs')]),
      startWorkerd(bin.workerd),
    ]);
    servers[0].port = bun;
    servers[1].port = deno;
    servers[2].port = workerd.app;
    corePort = workerd.core;
  }, 60_000);

  it.each(servers)('counts every request of $name exactly, by route, method and status', async (server) => {
    const cases = [
      { path: '/users/1', status: 200 },
      { path: '/users/2?tab=orders', status: 200 },
      { path: '/users/0', status: 404 },
      { method: 'POST', path: '/users/3', status: 200 },
      { path: '/boom', status: 500 },
      { path: '/no/such/page', status: 404 },
      { path: '/healthz', status: 200 },
    ] as const;
    for (const routeCase of cases) {
      const result = await sendCase(server.port, routeCase);
      expect(result.status, `${server.name} ${routeCase.path}`).toBe(String(routeCase.status));
    }
    const expected = {
      'GET /users/:id 200': 2,
      'GET /users/:id 404': 1,
      'POST /users/:id 200': 1,
      'GET /boom 500': 1,
      'GET <unmatched> 404': 1,
    };
    const counts: Record<string, number> = {};
    for (const s of parseSamples(await get(server.port, '/metrics'))) {
      if (s.name === 'http_server_requests_total') {
        counts[`${s.labels.method} ${s.labels.route} ${s.labels.status}`] = s.value;
      }
    }
    expect(counts).toEqual(expected);
  });

  it.each(servers.slice(0, 2))('counts a client that leaves before $name answers as 499', async (server) => {
    const result = await sendCase(server.port, {
      path: '/slow?ms=5000',
      mode: 'abort-before',
      abortAfterMs: 200,
    });
    expect(result.status).toBe('499');
    const deadline = Date.now() + 5_000;
    let aborted = 0;
    while (aborted === 0 && Date.now() < deadline) {
      const body = await get(server.port, '/metrics');
      aborted =
        parseSamples(body).find(
          (s) =>
            s.name === 'http_server_requests_total' &&
            s.labels.route === '/slow' &&
            s.labels.status === '499',
        )?.value ?? 0;
      if (aborted === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(aborted).toBe(1);
  });

  it.each(servers)('serves /metrics from $name in both formats, accepted by the judges', async (server) => {
    const openmetrics = await get(server.port, '/metrics', 'application/openmetrics-text; version=1.0.0');
    expect(openmetrics.endsWith('# EOF\n')).toBe(true);
    expect(openmetrics).toMatch(/^telemeter_scrapes_total\{status="200"\} \d+$/m);
    const text = await get(server.port, '/metrics');
    expect(text).not.toContain('# EOF');
    await expectJudgesAccept({ text, openmetrics });
  });

  it("gives Node's exposition of the golden fixture in a Worker, made at its top level, with and without nodejs_compat", async () => {
    for (const port of [servers[2].port, corePort]) {
      expect(await get(port, '/every-type?format=text')).toBe(golden.text);
      expect(await get(port, '/every-type?format=openmetrics')).toBe(golden.openmetrics);
    }
  });
});

describe.skipIf(runtimes === undefined)('the README examples for Bun and Deno', () => {
  const bin = runtimes as RuntimeBinaries;
  const snippets = markdownSnippets().filter((s) => s.runtime !== undefined);

  it('finds them', () => {
    expect(snippets.map((s) => s.runtime).sort()).toEqual(['bun', 'deno']);
  });

  it.each(snippets.map((s) => [s.where, s] as const))(
    '%s runs and prints what it shows',
    async (_where, snippet) => {
      const file = join(app, `snippet-${snippet.where.replace(/\W/g, '-')}.ts`);
      // An example leaves its server running, as an application would: end it once its code has run.
      writeFileSync(
        file,
        `${withFreePorts(snippet.code)}\nsetTimeout(() => ((globalThis as any).Deno ?? (globalThis as any).process).exit(0), 500);\n`,
      );
      const args = snippet.runtime === 'deno' ? [...DENO_RUN, file] : [file];
      const run = await runTool(snippet.runtime === 'deno' ? bin.deno : bin.bun, args, { timeoutMs: 30_000 });
      expect(run.code, run.stderr).toBe(0);
      const missing = missingExpectation(run.stdout, snippet.expected);
      expect(
        missing,
        `${snippet.where} did not print, in order:\n${missing}\nIt printed:\n${run.stdout}`,
      ).toBeUndefined();
    },
  );
});
