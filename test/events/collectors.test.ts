import { afterEach, describe, expect, it } from 'vitest';
import { DeltaExporter } from '../../src/cluster/delta-exporter.js';
import { addCollector } from '../../src/events/index.js';
import { execute, lastValue, setLogger, Telemeter } from '../../src/index.js';
import { sampleValue } from '../http/helpers.js';

const EVENT = 'test.collectors.queue';
const telemeters: Telemeter[] = [];
const unregisters: Array<() => void> = [];

afterEach(() => {
  for (const unregister of unregisters.splice(0)) unregister();
  for (const telemeter of telemeters.splice(0)) telemeter.close();
  setLogger(null);
});

function queueTelemeter(): Telemeter {
  const telemeter = new Telemeter({
    metrics: [lastValue('test_queue_depth', { eventName: EVENT, measurement: 'depth' })],
  });
  telemeters.push(telemeter);
  return telemeter;
}

function collect(collector: () => void): void {
  unregisters.push(addCollector(collector));
}

describe('collectors: gauges reported just before each read', () => {
  it('runs before every scrape, and no longer once unregistered', () => {
    const telemeter = queueTelemeter();
    let depth = 3;
    let calls = 0;
    const unregister = addCollector(() => {
      calls++;
      execute(EVENT, { depth });
    });
    expect(sampleValue(telemeter.scrape(), 'test_queue_depth')).toBe(3);
    depth = 7;
    expect(sampleValue(telemeter.scrape(), 'test_queue_depth')).toBe(7);
    expect(calls).toBe(2);
    unregister();
    depth = 9;
    expect(sampleValue(telemeter.scrape(), 'test_queue_depth')).toBe(7);
    expect(calls).toBe(2);
  });

  it('logs a failing collector once, and still runs the others', () => {
    const errors: string[] = [];
    setLogger({ warn: () => {}, error: (_fields, message) => errors.push(message) });
    const telemeter = queueTelemeter();
    collect(() => {
      throw new Error('pool gone');
    });
    collect(() => execute(EVENT, { depth: 5 }));
    expect(sampleValue(telemeter.scrape(), 'test_queue_depth')).toBe(5);
    expect(sampleValue(telemeter.scrape(), 'test_queue_depth')).toBe(5);
    expect(errors).toEqual(['telemeter: a collector failed while reading the current value of a gauge']);
  });

  it('runs before a cluster worker ships its deltas', () => {
    const telemeter = queueTelemeter();
    collect(() => execute(EVENT, { depth: 11 }));
    const exporter = new DeltaExporter(telemeter);
    const deltas = exporter.collect().flat();
    const gauge = deltas.find((delta) => delta.name === 'test_queue_depth');
    expect(gauge?.data).toContain(11);
  });
});
