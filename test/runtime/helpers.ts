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
