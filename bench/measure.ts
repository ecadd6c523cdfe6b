import diagnosticsChannel from 'node:diagnostics_channel';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

/**
 * Measuring primitives shared by every bench section: loop timing with calibration and interleaved rounds,
 * allocation per operation, an event-loop stall probe, and heap readings after a forced GC.
 */

/** A benchmark loop: runs its operation `n` times and returns a number derived from the work, so it stays live. */
export type Loop = (n: number) => number;

/** One timed case; `group` cases are interleaved round by round so drift and load hit them alike. */
export interface LoopCase {
  readonly id: string;
  readonly run: Loop;
}

/**
 * Per-operation times over the rounds, in nanoseconds. `nsPerOp` and its spread are process CPU time (user +
 * system, all threads): on a shared machine a preempted round stretches wall time but not CPU time, so CPU time
 * is the figure that survives load. `wallNsPerOp` is the wall-clock median, kept to show how loaded the run was.
 */
export interface Timing {
  readonly nsPerOp: number;
  readonly minNs: number;
  readonly maxNs: number;
  readonly wallNsPerOp: number;
  readonly rounds: number;
  readonly opsPerRound: number;
  /** CPU ns per operation of each round, in round order (see {@link pairedRatio}). */
  readonly roundNs: readonly number[];
}

export interface LoopSettings {
  /** Target CPU time of one round of one case. */
  readonly roundMs: number;
  readonly rounds: number;
  /** Warm-up CPU time per case, after calibration. */
  readonly warmupMs: number;
}

/** Calibration never runs more operations than this in one call, so a loop that is elided still ends. */
const MAX_OPS_PER_ROUND = 200_000_000;

let sink = 0;

/** Folds a result into a module-level sink that is printed at exit, so no loop result is dead. */
export function consume(value: number): void {
  sink = (sink + value) % 1_000_003;
}

/** The sink's value; printing it keeps every consumed result observable. */
export function sinkValue(): number {
  return sink;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nanoseconds from a monotonic clock, as a float (precise to well under 1 µs for spans up to days). */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** CPU time this process has used (user + system, all threads), in nanoseconds (microsecond resolution). */
export function cpuNs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) * 1000;
}

export interface Elapsed {
  readonly wallNs: number;
  readonly cpuNs: number;
}

export function timeLoop(run: Loop, n: number): Elapsed {
  const wall = nowNs();
  const cpu = cpuNs();
  consume(run(n));
  const cpuEnd = cpuNs();
  return { wallNs: nowNs() - wall, cpuNs: cpuEnd - cpu };
}

/** Grows n until one call takes about `targetMs` of CPU time, then warms up at that size; returns n. */
export function calibrate(run: Loop, targetMs: number, warmupMs: number): number {
  let n = 64;
  // Wall-clock bound: on a saturated machine calibration must still end.
  const deadline = nowNs() + Math.max(warmupMs, targetMs) * 1e6 * 20;
  let elapsed = timeLoop(run, n).cpuNs;
  while (elapsed < targetMs * 1e6 * 0.25 && n < MAX_OPS_PER_ROUND && nowNs() < deadline) {
    n *= 4;
    elapsed = timeLoop(run, n).cpuNs;
  }
  const nsPerOp = Math.max(elapsed / n, 0.05);
  const sized = Math.max(1, Math.min(MAX_OPS_PER_ROUND, Math.round((targetMs * 1e6) / nsPerOp)));
  // Keep running at the calibrated size until the warm-up is spent, so the optimizing tier has settled.
  const warmEnd = cpuNs() + warmupMs * 1e6;
  const warmDeadline = nowNs() + warmupMs * 1e6 * 20;
  while (cpuNs() < warmEnd && nowNs() < warmDeadline) timeLoop(run, Math.min(sized, 1_000_000));
  return sized;
}

/**
 * Times several cases in interleaved rounds (each round runs every case once, starting from a rotating
 * position) and returns the median per-operation time of each. Bounded: rounds × cases × roundMs, plus warm-up.
 */
export function timeInterleaved(cases: readonly LoopCase[], settings: LoopSettings): Map<string, Timing> {
  const sizes = cases.map((c) => calibrate(c.run, settings.roundMs, settings.warmupMs));
  const cpu: number[][] = cases.map(() => []);
  const wall: number[][] = cases.map(() => []);
  for (let round = 0; round < settings.rounds; round++) {
    for (let k = 0; k < cases.length; k++) {
      const index = (k + round) % cases.length;
      const elapsed = timeLoop(cases[index].run, sizes[index]);
      cpu[index].push(elapsed.cpuNs / sizes[index]);
      wall[index].push(elapsed.wallNs / sizes[index]);
    }
  }
  const result = new Map<string, Timing>();
  cases.forEach((c, i) => {
    result.set(c.id, {
      nsPerOp: median(cpu[i]),
      minNs: Math.min(...cpu[i]),
      maxNs: Math.max(...cpu[i]),
      wallNsPerOp: median(wall[i]),
      rounds: cpu[i].length,
      opsPerRound: sizes[i],
      roundNs: cpu[i],
    });
  });
  return result;
}

/**
 * How many times slower `peer` is than `own`: the median, over the rounds, of the ratio of the two cases' times
 * within the same round. Cases of one round run back to back, a fraction of a second apart, so a change in the
 * machine's speed between rounds (this VM's drifts by tens of percent over seconds) cancels out of each ratio;
 * a ratio of the two medians can pair one case's fast rounds with the other's slow ones.
 */
export function pairedRatio(peer: Timing, own: Timing): number {
  const rounds = Math.min(peer.roundNs.length, own.roundNs.length);
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) ratios.push(peer.roundNs[r] / own.roundNs[r]);
  return ratios.length === 0 ? peer.nsPerOp / own.nsPerOp : median(ratios);
}

function requireGc(): () => void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') {
    throw new Error('bench: run with `node --expose-gc --import tsx bench/run.ts` (npm run bench)');
  }
  return gc;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Live memory: V8 heap plus external memory (ArrayBuffer backing stores above all). Typed arrays larger than a
 * few dozen bytes keep their data outside the V8 heap, so heap used alone would miss most of a typed-array store.
 * Read from V8 directly: `process.memoryUsage()` also reads RSS from the OS, too slow to sample every millisecond.
 */
export function liveBytes(): number {
  const heap = getHeapStatistics();
  return heap.used_heap_size + heap.external_memory;
}

/** Forces full collections until memory has settled, and returns live bytes. */
export async function settledBytes(): Promise<number> {
  const gc = requireGc();
  // ArrayBuffer backing stores are released by a sweeper that runs after the GC, so external memory only drops
  // once it has finished: collect, give it time, and collect again.
  for (let i = 0; i < 3; i++) {
    await sleep(10);
    gc();
  }
  await sleep(10);
  return liveBytes();
}

/** Counts garbage collections (all kinds) from `perf_hooks` GC entries, which arrive asynchronously. */
class GcCounter {
  count = 0;
  private readonly observer = new PerformanceObserver((list) => {
    this.count += list.getEntries().length;
  });

  start(): void {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  stop(): void {
    this.observer.disconnect();
  }
}

/**
 * Bytes used by JavaScript objects: every heap space except code. Optimized code compiled while a window runs
 * (a late tier-up or a deopt) lands in code space; it is not allocation by the operation under test.
 */
function objectHeapBytes(): number {
  let bytes = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (!space.space_name.startsWith('code')) bytes += space.space_used_size;
  }
  return bytes;
}

/** Delivers pending GC entries to the observer. */
async function flushGcEntries(): Promise<void> {
  await sleep(5);
  await new Promise((resolve) => setImmediate(resolve));
}

export interface Allocation {
  /**
   * Bytes allocated per operation: heap growth across a window with no GC, divided by the operations in it.
   * Undefined when every window tried had a GC (then only `gcsPerMillion` speaks).
   */
  readonly bytesPerOp: number | undefined;
  /** Operations in the window that gave `bytesPerOp`. */
  readonly windowOps: number;
  /** Garbage collections observed while running `ops` operations, scaled to one million. */
  readonly gcsPerMillion: number;
}

/**
 * Measures allocation of an already-warm loop. Node 20 has no allocated-bytes counter, so: after a forced GC,
 * the young generation is empty; if a window of operations ends without a GC, heap growth is exactly what it
 * allocated (code was compiled during warm-up). Windows shrink until one has no GC. A separate, longer run
 * counts collections: zero scavenges over a million events means no per-event allocation.
 */
export async function measureAllocation(run: Loop, ops: number, firstWindow = 100_000): Promise<Allocation> {
  const gc = requireGc();
  const counter = new GcCounter();
  counter.start();
  try {
    let bytesPerOp: number | undefined;
    let windowOps = 0;
    for (let window = firstWindow; window >= 1_000 && bytesPerOp === undefined; window /= 10) {
      gc();
      await flushGcEntries();
      counter.count = 0;
      const before = objectHeapBytes();
      consume(run(window));
      const after = objectHeapBytes();
      await flushGcEntries();
      if (counter.count === 0) {
        bytesPerOp = Math.max(0, (after - before) / window);
        windowOps = window;
      }
    }
    gc();
    await flushGcEntries();
    counter.count = 0;
    let done = 0;
    while (done < ops) {
      const step = Math.min(100_000, ops - done);
      consume(run(step));
      done += step;
    }
    await flushGcEntries();
    return { bytesPerOp, windowOps, gcsPerMillion: (counter.count * 1e6) / ops };
  } finally {
    counter.stop();
  }
}

/** The worst event-loop stall and the peak live memory seen while a probe ran. */
export interface ProbeReading {
  /** Longest gap between two ticks of a 1 ms interval timer, in milliseconds (about 1 ms when idle). */
  readonly maxGapMs: number;
  /**
   * Longest gap counted in this process's CPU time (capped at the gap's wall time, since GC helper threads add
   * CPU time in parallel): the stall the work itself caused, without the time the process sat preempted.
   */
  readonly maxCpuGapMs: number;
  /** Highest live bytes sampled at a tick or by `sample()`. */
  readonly peakBytes: number;
}

/**
 * Watches the event loop with a 1 ms interval timer: a synchronous task shows up as one long gap between
 * ticks. Each tick also samples live memory, so the peak of a task that yields is seen as it happens.
 */
export class StallProbe {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private lastCpu = 0;
  private maxGap = 0;
  private maxCpuGap = 0;
  private peak = 0;

  start(): void {
    this.last = performance.now();
    this.lastCpu = cpuNs();
    this.peak = liveBytes();
    this.timer = setInterval(() => this.tick(), 1);
  }

  /** Records live memory now (call it while a result is still referenced). */
  sample(): void {
    const bytes = liveBytes();
    if (bytes > this.peak) this.peak = bytes;
  }

  stop(): ProbeReading {
    clearInterval(this.timer);
    return { maxGapMs: this.maxGap, maxCpuGapMs: this.maxCpuGap, peakBytes: this.peak };
  }

  private tick(): void {
    const now = performance.now();
    const cpu = cpuNs();
    const gap = now - this.last;
    const cpuGap = Math.min(gap, (cpu - this.lastCpu) / 1e6);
    if (gap > this.maxGap) this.maxGap = gap;
    if (cpuGap > this.maxCpuGap) this.maxCpuGap = cpuGap;
    this.last = now;
    this.lastCpu = cpu;
    this.sample();
  }
}

/** A seeded generator (mulberry32), so every run benchmarks the same values and tag sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values spread log-uniformly over [low, high], so they land in every histogram bucket. */
export function logUniform(random: () => number, low: number, high: number): number {
  return low * (high / low) ** random();
}

/**
 * Subscribes handlers that do nothing to the tracing channels a library publishes, which makes the library trace
 * (build its context, wrap its promise) as it does for any consumer; returns the unsubscribe. What that costs is
 * the reference the data-layer benchmarks read telemeter's own cost against.
 */
export function subscribeDoingNothing(names: readonly string[]): () => void {
  const nothing = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
  const channels = names.map((name) => diagnosticsChannel.tracingChannel(name));
  for (const channel of channels) channel.subscribe(nothing);
  return () => {
    for (const channel of channels) channel.unsubscribe(nothing);
  };
}

/**
 * The floor cases' histogram: counts a duration, in milliseconds, into one unlabelled bucket of `boundsMs` and
 * adds it to a sum, the least a duration metric records.
 */
export function floorHistogram(boundsMs: readonly number[]): (elapsedMs: number) => void {
  const counts = new Float64Array(boundsMs.length + 1);
  const sum = new Float64Array(1);
  return (elapsedMs) => {
    let bucket = 0;
    while (bucket < boundsMs.length && elapsedMs > boundsMs[bucket]) bucket++;
    counts[bucket]++;
    sum[0] += elapsedMs;
  };
}
