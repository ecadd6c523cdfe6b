/**
 * Child processes for the end-to-end suites (the demo, the examples, VictoriaMetrics), started so that
 * none of them can outlive the test process:
 *
 * - `stop()` sends a signal and escalates to SIGKILL after a bound;
 * - an 'exit' hook SIGKILLs whatever is still running when the test process exits;
 * - a watchdog (`sh` blocked reading a pipe from this process) SIGKILLs the child when that pipe closes,
 *   which also covers the test process being killed by a signal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ChildHandle {
  readonly name: string;
  readonly pid: number;
  /** Everything the child wrote to stdout so far (capped at the last 1 MiB). */
  stdout(): string;
  /** Everything the child wrote to stderr so far (capped at the last 1 MiB). */
  stderr(): string;
  /** Undefined while the child runs. */
  exit(): ChildExit | undefined;
  /** Resolves with the first match of `pattern` in stdout; rejects if the child exits or time runs out. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` (default SIGINT), waits up to `timeoutMs` (default 10 s), then SIGKILLs; resolves with how it exited. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ChildExit>;
}

export interface StartChildOptions {
  readonly name: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

const OUTPUT_CAP = 1 << 20;
const live = new Map<number, ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live.values()) {
      try {
        child.kill('SIGKILL');
      } catch {}
    }
    live.clear();
  });
}

function spawnWatchdog(pid: number): ChildProcess {
  const dog = spawn(
    '/bin/sh',
    ['-c', 'cat >/dev/null; kill -KILL "$1" 2>/dev/null', 'e2e-watchdog', String(pid)],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    },
  );
  dog.on('error', () => {});
  dog.stdin?.on('error', () => {});
  // Neither the watchdog nor its pipe may keep the test process alive.
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return dog;
}

/** Starts `command args` with stdout/stderr captured; throws when it cannot be spawned. */
export function startChild(
  command: string,
  args: readonly string[],
  options: StartChildOptions,
): ChildHandle {
  installExitHook();
  const child = spawn(command, [...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${options.name} (${command})`);
  const pid = child.pid;
  live.set(pid, child);
  const dog = spawnWatchdog(pid);
  let out = '';
  let err = '';
  let exited: ChildExit | undefined;
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-OUTPUT_CAP);
    for (const listener of listeners) listener();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString('utf8')).slice(-OUTPUT_CAP);
  });
  const exitPromise = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(pid);
      try {
        dog.kill('SIGKILL');
      } catch {}
      for (const listener of listeners) listener();
      resolve(exited);
    });
  });
  child.on('error', () => {});

  let stopping: Promise<ChildExit> | undefined;
  return {
    name: options.name,
    pid,
    stdout: () => out,
    stderr: () => err,
    exit: () => exited,
    waitForStdout(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(out);
          if (match !== null) {
            done();
            resolve(match);
          } else if (exited !== undefined) {
            done();
            reject(
              new Error(
                `${options.name} exited (code ${exited.code}, signal ${exited.signal}) before printing ${pattern}\nstdout:\n${out}\nstderr:\n${err}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `${options.name} did not print ${pattern} within ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`,
            ),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    stop(signal = 'SIGINT', timeoutMs = 10_000) {
      stopping ??= (async () => {
        if (exited === undefined) {
          child.kill(signal);
          await Promise.race([exitPromise, sleep(timeoutMs)]);
        }
        if (exited === undefined) {
          child.kill('SIGKILL');
          await Promise.race([exitPromise, sleep(5_000)]);
        }
        return exited ?? { code: null, signal: 'SIGKILL' };
      })();
      return stopping;
    },
  };
}
