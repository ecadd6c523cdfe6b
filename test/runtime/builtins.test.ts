import { createSocket } from 'node:dgram';
import { closeSync, openSync, readFile } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Measurements, Telemeter } from '../../src/index.js';
import {
  type BuiltinMeasurementName,
  RUNTIME_EVENTS,
  runtimeMetrics,
  startPoller,
} from '../../src/runtime/index.js';
import { capture, sampleValue, sleep } from './helpers.js';

const linux = process.platform === 'linux';
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Polls one built-in once and returns the events it emitted. */
function pollOnce(name: BuiltinMeasurementName, ...events: string[]) {
  const captured = capture(...events);
  const poller = startPoller({ measurements: [name], initDelay: 60_000 });
  poller.poll();
  poller.stop();
  captured.stop();
  return captured.events;
}

function listen(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

describe('built-in measurements', () => {
  it('memory emits the BEAM keys and Node keys, total being the RSS', () => {
    const [event] = pollOnce('memory', RUNTIME_EVENTS.memory);
    const m = event.measurements as Record<string, number>;
    expect(Object.keys(m).sort()).toEqual(
      [
        'total',
        'processes',
        'processes_used',
        'system',
        'binary',
        'rss',
        'heap_total',
        'heap_used',
        'external',
        'array_buffers',
      ].sort(),
    );
    expect(m.total).toBe(m.rss);
    expect(m.processes).toBe(m.heap_total);
    expect(m.processes_used).toBe(m.heap_used);
    expect(m.binary).toBe(m.array_buffers);
    expect(m.system).toBe(m.rss - m.heap_total);
  });

  it('total_run_queue_lengths counts in-flight libuv requests, cpu 0, io = total', async () => {
    let pending = 0;
    const done = new Promise<void>((resolve) => {
      for (let i = 0; i < 3; i++) {
        pending++;
        readFile(import.meta.filename, () => {
          if (--pending === 0) resolve();
        });
      }
    });
    const [event] = pollOnce('total_run_queue_lengths', RUNTIME_EVENTS.runQueueLengths);
    await done;
    const m = event.measurements as Record<string, number>;
    expect(m.total).toBeGreaterThanOrEqual(3);
    expect(m.cpu).toBe(0);
    expect(m.io).toBe(m.total);
  });

  it('system_counts counts a listening server as a port', async () => {
    const [before] = pollOnce('system_counts', RUNTIME_EVENTS.systemCounts);
    const server = await listen();
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const [after] = pollOnce('system_counts', RUNTIME_EVENTS.systemCounts);
    expect((after.measurements.port_count as number) - (before.measurements.port_count as number)).toBe(1);
    expect(after.measurements.process_count).toBeGreaterThanOrEqual(after.measurements.port_count as number);
    if (linux) expect(after.measurements.port_limit).toBeGreaterThan(0);
  });

  it('active_resources reports each type, and 0 for a type that went away', async () => {
    const telemeter = new Telemeter({ metrics: runtimeMetrics(), selfMetrics: false });
    const poller = startPoller({ measurements: ['active_resources'], initDelay: 60_000 });
    cleanups.push(
      () => telemeter.close(),
      () => poller.stop(),
    );
    expect(process.getActiveResourcesInfo()).not.toContain('UDPWrap');
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    poller.poll();
    let body = telemeter.scrape();
    expect(sampleValue(body, 'nodejs_active_resources', { type: 'UDPWrap' })).toBe(1);
    expect(sampleValue(body, 'nodejs_active_handles', { type: 'UDPWrap' })).toBe(1);
    expect(sampleValue(body, 'nodejs_active_requests', { type: 'UDPWrap' })).toBeUndefined();
    const all = sampleValue(body, 'nodejs_active_resources_all')!;
    const handles = sampleValue(body, 'nodejs_active_handles_all')!;
    expect(handles).toBeGreaterThanOrEqual(1);
    expect(all).toBeGreaterThanOrEqual(handles + sampleValue(body, 'nodejs_active_requests_all')!);

    await new Promise<void>((resolve) => socket.close(() => resolve()));
    // 'close' fires before libuv has released the handle.
    for (let i = 0; i < 100 && process.getActiveResourcesInfo().includes('UDPWrap'); i++) await sleep(5);
    poller.poll();
    body = telemeter.scrape();
    expect(sampleValue(body, 'nodejs_active_resources', { type: 'UDPWrap' })).toBe(0);
    expect(sampleValue(body, 'nodejs_active_handles', { type: 'UDPWrap' })).toBe(0);
  });

  it('cpu emits cumulative nanoseconds', () => {
    const before = process.cpuUsage();
    const [event] = pollOnce('cpu', RUNTIME_EVENTS.cpu);
    const m = event.measurements as Record<string, number>;
    expect(m.user).toBeGreaterThanOrEqual(before.user * 1000);
    expect(m.total).toBe(m.user + m.system);
  });

  it.skipIf(!linux)('fds counts an opened file', () => {
    const [before] = pollOnce('fds', RUNTIME_EVENTS.fds);
    const fd = openSync(import.meta.filename, 'r');
    cleanups.push(() => closeSync(fd));
    const [after] = pollOnce('fds', RUNTIME_EVENTS.fds);
    expect((after.measurements.open as number) - (before.measurements.open as number)).toBe(1);
    expect(after.measurements.max).toBeGreaterThan(after.measurements.open as number);
  });

  it('heap_spaces emits one event per V8 space, named like prom-client', () => {
    const events = pollOnce('heap_spaces', RUNTIME_EVENTS.heapSpace);
    const spaces = events.map((e) => e.metadata.space);
    expect(spaces).toContain('old');
    expect(spaces).toContain('new');
    expect(spaces.every((s) => typeof s === 'string' && !String(s).endsWith('_space'))).toBe(true);
    const old = events.find((e) => e.metadata.space === 'old')!.measurements as Measurements;
    expect(old.used as number).toBeLessThanOrEqual(old.size as number);
  });

  it('process_info emits the start time and the version', () => {
    const [event] = pollOnce('process_info', RUNTIME_EVENTS.processInfo);
    expect(event.metadata).toMatchObject({ version: process.version });
    expect((event.measurements.start_time as number) / 1e6).toBeCloseTo(performance.timeOrigin, 0);
    if (linux) {
      expect(event.measurements.virtual_memory).toBeGreaterThan(event.measurements.heap_memory as number);
    }
  });
});
