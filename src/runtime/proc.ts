import { readdirSync, readFileSync } from 'node:fs';

/**
 * Linux procfs readers. Reads are synchronous on purpose: /proc files are generated from kernel structures
 * and never wait on a disk, so a sync read costs less than scheduling an async one. Every reader returns
 * `undefined` instead of throwing, so the measurements that use them skip quietly where /proc is missing.
 */
export const HAS_PROCFS = process.platform === 'linux' && canRead('/proc/self/limits');

function canRead(path: string): boolean {
  try {
    readFileSync(path, 'utf8');
    return true;
  } catch {
    return false;
  }
}

/** Open file descriptors of this process. */
export function countOpenFds(): number | undefined {
  try {
    // The listing includes the descriptor readdir itself opened on /proc/self/fd.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

/** The soft limit on open file descriptors (`ulimit -n`), or undefined when unlimited or unknown. */
export function readMaxFds(): number | undefined {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const line = limits.split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    const value = Number(soft);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** VmSize, VmData and VmRSS from /proc/self/status, in bytes. */
export function readStatusMemory(): { virtual: number; data: number; resident: number } | undefined {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kib = (key: string): number => {
      const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
      return match === null ? Number.NaN : Number(match[1]) * 1024;
    };
    const result = { virtual: kib('VmSize'), data: kib('VmData'), resident: kib('VmRSS') };
    return Number.isNaN(result.virtual + result.data + result.resident) ? undefined : result;
  } catch {
    return undefined;
  }
}
