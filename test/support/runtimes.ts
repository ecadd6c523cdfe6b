/**
 * Bun, Deno and Cloudflare's workerd for the runtime suites (test/runtimes/), and telemeter laid out as an
 * installed package for them to import.
 *
 * The three runtimes weigh about 350 MB unpacked (140 MB of downloads), too much for every checkout's first
 * `npm install`: they are not dev dependencies. The first suite that needs them installs the pinned versions
 * below from the npm registry (their packages ship the binaries) into `.cache/runtimes/`, which later runs reuse.
 * Policy as for the other outside tools (tools.ts): without them a suite skips on a developer machine, and fails
 * under CI=true.
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isCI, runTool } from './tools.js';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The pinned runtime packages; change a version here and the cache is filled again. */
export const RUNTIME_PACKAGES = {
  bun: '1.4.5',
  deno: '2.9.6',
  workerd: '1.20261123.1',
} as const;

export type RuntimeName = keyof typeof RUNTIME_PACKAGES;

export const RUNTIME_CACHE = join(ROOT, '.cache', 'runtimes');
const LOCK = `${RUNTIME_CACHE}.lock`;
/** What the cache holds, written after a complete install. */
const STAMP = join(RUNTIME_CACHE, 'installed.json');

export type RuntimeBinaries = Readonly<Record<RuntimeName, string>>;

function binaries(): RuntimeBinaries {
  const bin = join(RUNTIME_CACHE, 'node_modules', '.bin');
  return { bun: join(bin, 'bun'), deno: join(bin, 'deno'), workerd: join(bin, 'workerd') };
}

function cacheIsCurrent(): boolean {
  try {
    return readFileSync(STAMP, 'utf8') === JSON.stringify(RUNTIME_PACKAGES);
  } catch {
    return false;
  }
}

/** Takes the install lock (a directory, created atomically), waiting while another test process holds it. */
async function withLock<T>(work: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(LOCK), { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // A lock left by a killed process is older than any install takes.
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 15 * 60_000) rmSync(LOCK, { recursive: true, force: true });
      } catch {}
      if (Date.now() > deadline) throw new Error(`${LOCK} is held for more than 10 minutes`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

async function install(): Promise<string | undefined> {
  rmSync(STAMP, { force: true });
  mkdirSync(RUNTIME_CACHE, { recursive: true });
  // A package.json of its own, so npm installs here and never walks up into the repository's.
  writeFileSync(
    join(RUNTIME_CACHE, 'package.json'),
    `${JSON.stringify({ private: true, description: 'telemeter test runtimes', dependencies: RUNTIME_PACKAGES }, null, 2)}\n`,
  );
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: RUNTIME_CACHE,
    encoding: 'utf8',
    timeout: 9 * 60_000,
    env: npmEnvironment(),
  });
  if (result.status !== 0) {
    return `npm install in ${relative(ROOT, RUNTIME_CACHE)} failed: ${(result.stderr || String(result.error)).trim()}`;
  }
  for (const [name, path] of Object.entries(binaries())) {
    const probe = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 });
    const version = RUNTIME_PACKAGES[name as RuntimeName];
    // workerd prints its compatibility date (2026-11-23) for version 1.20261123.x.
    const expected =
      name === 'workerd' ? version.split('.')[1].replace(/^(\d{4})(\d\d)(\d\d)$/, '$1-$2-$3') : version;
    if (probe.status !== 0 || !probe.stdout.includes(expected)) {
      return `${name} from ${relative(ROOT, RUNTIME_CACHE)} does not run as version ${expected}: ${(probe.stderr || probe.stdout || String(probe.error)).trim()}`;
    }
  }
  writeFileSync(STAMP, JSON.stringify(RUNTIME_PACKAGES));
  return undefined;
}

/**
 * This process's environment without what `npm test` sets for the repository's own package (`npm_config_local_prefix`
 * would send the install into the repository's node_modules), keeping the registry and cache the user chose.
 */
function npmEnvironment(): NodeJS.ProcessEnv {
  const kept = new Set(['npm_config_registry', 'npm_config_cache', 'npm_config_userconfig']);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toLowerCase().startsWith('npm_') || kept.has(key.toLowerCase())) env[key] = value;
  }
  return env;
}

let ensured: Promise<RuntimeBinaries | undefined> | undefined;

/**
 * The runtime binaries, installed on first use. When they cannot be had: throws under CI=true (the suite fails),
 * returns undefined elsewhere (the suite skips), with the reason.
 */
export function ensureRuntimes(): Promise<RuntimeBinaries | undefined> {
  ensured ??= (async () => {
    let problem: string | undefined;
    if (!cacheIsCurrent()) problem = await withLock(async () => (cacheIsCurrent() ? undefined : install()));
    if (problem === undefined) return binaries();
    const message = `Bun, Deno and workerd are missing: ${problem}`;
    if (isCI()) throw new Error(`${message}. CI=true, so this suite fails instead of skipping.`);
    console.warn(`[test] skipping: ${message}`);
    return undefined;
  })();
  return ensured;
}

/**
 * telemeter as an application sees it after `npm install telemeter`: `<dir>/node_modules/telemeter` with the
 * package.json, a fresh `dist/` (built as `npm run build` does, without the type check), `bin/` and `src/`
 * (the dashboard's page files), beside its dependency uplot; and `<dir>/package.json` of an ESM application.
 * Returns the application directory, under the repository (`.tmp-runtimes-*`, ignored by git).
 */
export async function installedPackage(): Promise<string> {
  const app = mkdtempSync(join(ROOT, '.tmp-runtimes-'));
  const pkg = join(app, 'node_modules', 'telemeter');
  mkdirSync(pkg, { recursive: true });
  const build = await runTool(
    process.execPath,
    [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--noCheck',
      '--outDir',
      join(pkg, 'dist'),
    ],
    { timeoutMs: 120_000 },
  );
  if (build.code !== 0) throw new Error(`the build failed:\n${build.stdout}${build.stderr}`);
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(ROOT, 'bin'), join(pkg, 'bin'), { recursive: true });
  symlinkSync(join(ROOT, 'src'), join(pkg, 'src'));
  symlinkSync(join(ROOT, 'node_modules', 'uplot'), join(app, 'node_modules', 'uplot'));
  writeFileSync(join(app, 'package.json'), '{ "type": "module", "private": true }\n');
  return app;
}

/** Removes an application directory made by {@link installedPackage}. */
export function removeInstalledPackage(app: string | undefined): void {
  if (app !== undefined && existsSync(app)) rmSync(app, { recursive: true, force: true });
}

/**
 * Bundles `entry` (a TypeScript file under test/) into `<app>/<name>.mjs`. Its imports of telemeter's sources
 * (`../../src/index.js`, `../../src/http/index.js`) become imports of the package (`telemeter`, `telemeter/http`),
 * so a fixture shared with the Node tests runs against the installed package. For Bun and Deno the package stays
 * an import; for workerd (`worker: true`) it is bundled in as Wrangler does, with the `workerd`, `worker` and
 * `browser` conditions, and `node:*` left to the runtime's `nodejs_compat`.
 */
export async function bundleFixture(
  app: string,
  entry: string,
  name: string,
  options: { worker?: boolean } = {},
): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = join(app, `${name}.mjs`);
  const src = join(ROOT, 'src');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: options.worker ? 'neutral' : 'node',
    target: 'es2022',
    logLevel: 'error',
    ...(options.worker
      ? { conditions: ['workerd', 'worker', 'browser'], mainFields: ['module', 'main'], external: ['node:*'] }
      : {}),
    plugins: [
      {
        name: 'telemeter-by-package-name',
        setup(esbuild) {
          esbuild.onResolve({ filter: /src\/([a-z0-9-]+\/)?index\.js$/ }, async (args) => {
            const target = resolve(args.resolveDir, args.path);
            const sub = relative(src, dirname(target));
            if (sub.startsWith('..')) return undefined;
            const specifier = sub === '' ? 'telemeter' : `telemeter/${sub}`;
            if (!options.worker) return { path: specifier, external: true };
            return esbuild.resolve(specifier, { resolveDir: app, kind: 'import-statement' });
          });
        },
      },
    ],
  });
  return outfile;
}
