/**
 * How a reporter does its periodic work (sliding summary windows along, expiring idle series): on an interval, or
 * by the clock when the data is next read or written.
 *
 * An interval is right where the runtime keeps one for the life of the process: Node.js, Bun and Deno. A Cloudflare
 * Worker does not: it refuses to set a timer while its module's top level runs, which is where a Telemeter is
 * normally created (`new Telemeter()` threw there), and it cancels a request's timers when that request ends, so a
 * window set sliding during one request would have stopped with it. There the work is caught up from the clock
 * instead, which costs a clock reading per summary observation and is otherwise the same.
 */
let clockDriven = isCloudflareWorker();
let forcedForTests: boolean | undefined;

/** The documented way to tell a Workers runtime (workerd, Miniflare, Cloudflare's edge): its `navigator.userAgent`. */
function isCloudflareWorker(): boolean {
  return (
    (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent === 'Cloudflare-Workers'
  );
}

/** Whether a reporter created now catches its periodic work up from the clock instead of setting intervals. */
export function periodicWorkByClock(): boolean {
  return forcedForTests ?? clockDriven;
}

/**
 * Makes reporters created from now on behave as in a Worker (true), as elsewhere (false), or as this runtime does
 * (undefined). For tests only; not exported from the package.
 */
export function periodicWorkByClockForTests(byClock: boolean | undefined): void {
  forcedForTests = byClock;
  clockDriven = isCloudflareWorker();
}

/**
 * Milliseconds on a monotonic clock, or undefined while it stands still at 0: a Worker's clock reads 0 while its
 * module's top level runs and jumps to the Unix time at its first request, so periods are counted from the first
 * reading after that.
 */
export function clockMs(): number | undefined {
  const now = performance.now();
  return now > 0 ? now : undefined;
}

/**
 * Work due every `periodMs`, run when {@link PeriodicTask.catchUp} finds a period over: once however many periods
 * went by, because each run sweeps everything that went quiet since the last run.
 */
export class PeriodicTask {
  private last = clockMs();

  constructor(
    private readonly periodMs: number,
    private readonly run: () => void,
  ) {}

  catchUp(): void {
    const now = clockMs();
    if (now === undefined) return;
    if (this.last === undefined || now - this.last < this.periodMs) {
      this.last ??= now;
      return;
    }
    this.last = now;
    this.run();
  }
}
