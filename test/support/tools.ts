/**
 * Locating the outside tools the judges run, and small process/network helpers shared by them.
 *
 * Policy: on a developer machine a missing tool makes the suite skip (`describe.skipIf(!hasX)`);
 * in CI (`CI=true`) a missing tool is a hard failure, so a broken CI image can never turn the
 * outside judges into silently skipped suites.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { connect as connectTcp, createServer } from 'node:net';

export const PROMTOOL = '/usr/bin/promtool';
export const PROMETHEUS = '/usr/bin/prometheus';
export const PUSHGATEWAY = '/usr/bin/prometheus-pushgateway';
/** Debian's python: a pyenv `python3` on PATH cannot import Debian's dist-packages. */
export const PYTHON3 = '/usr/bin/python3';

/** Which Debian package provides each known tool path (used in the CI failure message). */
export const DEBIAN_PACKAGES: Record<string, string> = {
  [PROMTOOL]: 'prometheus',
  [PROMETHEUS]: 'prometheus',
  [PUSHGATEWAY]: 'prometheus-pushgateway',
  [PYTHON3]: 'python3-prometheus-client',
};

export interface RequireToolOptions {
  /** Debian package to name in the error; defaults to the DEBIAN_PACKAGES entry for `path`. */
  debianPackage?: string;
  /** Extra check: run `path` with these args; the tool only counts as present if it exits 0. */
  probeArgs?: string[];
  /** Human name used in messages; defaults to `path`. */
  name?: string;
}

export function isCI(): boolean {
  return /^(true|1)$/i.test(process.env.CI ?? '');
}

const cache = new Map<string, boolean>();

/**
 * True when the executable at `path` exists (and, with `probeArgs`, the probe exits 0).
 * When it is missing: throws in CI (the suite fails), returns false elsewhere (the suite may skip).
 */
export function requireTool(path: string, opts: RequireToolOptions = {}): boolean {
  const key = `${path}\0${(opts.probeArgs ?? []).join('\0')}`;
  let present = cache.get(key);
  let reason = '';
  if (present === undefined) {
    present = true;
    try {
      accessSync(path, constants.X_OK);
    } catch {
      present = false;
      reason = 'not found or not executable';
    }
    if (present && opts.probeArgs) {
      const probe = spawnSync(path, opts.probeArgs, { encoding: 'utf8', timeout: 15_000 });
      if (probe.status !== 0) {
        present = false;
        reason = `probe \`${[path, ...opts.probeArgs].join(' ')}\` failed: ${(probe.stderr || String(probe.error ?? probe.signal)).trim()}`;
      }
    }
    cache.set(key, present);
  }
  if (present) return true;
  const name = opts.name ?? path;
  const pkg = opts.debianPackage ?? DEBIAN_PACKAGES[path] ?? '(unknown package)';
  const message = `Required tool ${name} is missing (${reason || 'not available'}); install the Debian package "${pkg}" (apt-get install -y ${pkg}).`;
  if (isCI()) throw new Error(`${message} CI=true, so this suite fails instead of skipping.`);
  if (!warned.has(key)) {
    warned.add(key);
    console.warn(`[test] skipping: ${message}`);
  }
  return false;
}
const warned = new Set<string>();

export function requirePromtool(): boolean {
  return requireTool(PROMTOOL, { name: 'promtool' });
}

export function requirePrometheus(): boolean {
  return requireTool(PROMETHEUS, { name: 'prometheus' });
}

export function requirePushgateway(): boolean {
  return requireTool(PUSHGATEWAY, { name: 'prometheus-pushgateway' });
}

/** /usr/bin/python3 that can import the OpenMetrics parser from python3-prometheus-client. */
export function requirePythonPrometheusClient(): boolean {
  return requireTool(PYTHON3, {
    name: 'python3 with prometheus_client',
    debianPackage: 'python3-prometheus-client',
    probeArgs: ['-I', '-c', 'import prometheus_client.openmetrics.parser, prometheus_client.parser'],
  });
}

/** The local Redis the data-layer suites talk to (see .ci/run for how CI starts it). */
export const REDIS_PORT = 6379;

/**
 * True when a Redis on 127.0.0.1:6379 answers `PING` with `+PONG` within 2 s. When it does not: throws in CI
 * (the suite fails), returns false elsewhere (the suite may skip). Await it at the top of a test file.
 */
export async function requireRedis(): Promise<boolean> {
  const answer = await new Promise<string>((resolve) => {
    const socket = connectTcp({ host: '127.0.0.1', port: REDIS_PORT });
    let received = '';
    const done = (result: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(`no answer within 2 s (got ${JSON.stringify(received)})`), 2000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.includes('\r\n'))
        done(received.startsWith('+PONG') ? '' : `answered ${JSON.stringify(received)}`);
    });
    socket.once('error', (error) => done(error.message));
  });
  if (answer === '') return true;
  const message = `Required service Redis on 127.0.0.1:${REDIS_PORT} is unreachable (${answer}); start it (redis-server --daemonize yes).`;
  if (isCI()) throw new Error(`${message} CI=true, so this suite fails instead of skipping.`);
  if (!warned.has('redis')) {
    warned.add('redis');
    console.warn(`[test] skipping: ${message}`);
  }
  return false;
}

/** A free TCP port on `host`, found by listening on port 0 and closing again. Loopback only. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  assertLoopbackHost(host);
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`freePort: unexpected address ${String(address)}`));
        return;
      }
      server.close((err) => (err ? reject(err) : resolve(address.port)));
    });
  });
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(host);
}

export function assertLoopbackHost(host: string): void {
  if (!isLoopbackHost(host)) throw new Error(`Only loopback addresses are allowed in tests, got "${host}"`);
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the child's stdin, which is then closed. */
  input?: string | Buffer;
  /** Kill the child (SIGKILL) after this long and reject. Default 30 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Run a tool to completion, feeding `input` on stdin; resolves with exit code and captured output. */
export function runTool(path: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`${path} ${args.join(' ')} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    // A tool may exit before reading all of stdin; that is its answer, not our error.
    child.stdin.on('error', () => {});
    child.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === null) {
        reject(new Error(`${path} was killed by ${signal}; stderr: ${stderr}`));
        return;
      }
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

const serviceCache = new Map<string, boolean>();

/**
 * True when a server accepts TCP connections on 127.0.0.1:`port` (checked once, synchronously, so a suite can
 * `describe.skipIf` on it). When it does not: throws in CI, returns false elsewhere, like {@link requireTool}.
 */
export function requireService(name: string, port: number, startHint: string): boolean {
  const key = `${name}:${port}`;
  let up = serviceCache.get(key);
  if (up === undefined) {
    const probe = spawnSync(
      process.execPath,
      [
        '-e',
        `const s=require('node:net').connect(${port},'127.0.0.1');s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),3000)`,
      ],
      { timeout: 10_000 },
    );
    up = probe.status === 0;
    serviceCache.set(key, up);
  }
  if (up) return true;
  const message = `Required service ${name} is not reachable on 127.0.0.1:${port}; start it with: ${startHint}`;
  if (isCI()) throw new Error(`${message}. CI=true, so this suite fails instead of skipping.`);
  if (!warned.has(key)) {
    warned.add(key);
    console.warn(`[test] skipping: ${message}`);
  }
  return false;
}

/** PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres). */
export function requirePostgres(): boolean {
  return requireService(
    'PostgreSQL',
    5432,
    'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  );
}

/** MariaDB (or MySQL) on 127.0.0.1:3306 (root, empty password, database test). */
export function requireMariadb(): boolean {
  return requireService(
    'MariaDB',
    3306,
    'start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd',
  );
}
