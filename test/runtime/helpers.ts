import { attach, detach, type Measurements, type Metadata } from '../../src/index.js';

export interface CapturedEvent {
  name: string;
  measurements: Measurements;
  metadata: Metadata;
}

let captureSequence = 0;

/** Records every event of the given names until `stop()`. */
export function capture(...eventNames: string[]): { events: CapturedEvent[]; stop(): void } {
  const events: CapturedEvent[] = [];
  const ids = eventNames.map((eventName) => {
    const id = `test-capture-${++captureSequence}`;
    attach(id, eventName, (name, measurements, metadata) => {
      events.push({ name, measurements, metadata });
    });
    return id;
  });
  return {
    events,
    stop: () => {
      for (const id of ids) detach(id);
    },
  };
}

/** The value of one sample line of a Prometheus text body; labels must match exactly (in any order). */
export function sampleValue(
  body: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      found[pair[1]] = pair[2];
    }
    const keys = Object.keys(labels);
    if (keys.length !== Object.keys(found).length) continue;
    if (keys.every((k) => found[k] === labels[k])) return Number(match[3]);
  }
  return undefined;
}

/** Family names declared by `# TYPE` lines. */
export function familyNames(body: string): string[] {
  return [...body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
}

export function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Blocks the event loop on purpose.
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 5 ms until it holds; fails after `timeoutMs`. A bounded wait for an expected thing. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Resolves after every `setImmediate` callback queued before the call has run: the positive signal that work a
 * call could have queued for the check phase did not happen.
 */
export const afterQueuedImmediates = () => new Promise<void>((resolve) => setImmediate(resolve));
