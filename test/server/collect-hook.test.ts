import { describe, expect, it, vi } from 'vitest';
import { counter, execute, setLogger, Telemeter } from '../../src/index.js';
import { serveMetrics } from '../../src/server/index.js';
import { send } from './http-client.js';

describe('a render source with collect()', () => {
  it('is collected before each render, so a scrape sees values brought in just before it', async () => {
    const telemeter = new Telemeter({
      metrics: [counter('hook.pulls_total', { eventName: 'hook.pull', measurement: 'n' })],
    });
    let collects = 0;
    const source = {
      render: (options: { format: 'text' | 'openmetrics' }) => telemeter.render(options),
      async collect() {
        collects++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        execute('hook.pull', { n: 1 });
      },
    };
    const server = await serveMetrics(source, { port: 0, host: '127.0.0.1', format: 'text' });
    try {
      const first = await send(server.url);
      expect(first.text).toContain('hook_pulls_total 1\n');
      const second = await send(server.url);
      expect(second.text).toContain('hook_pulls_total 2\n');
      expect(collects).toBe(2);
    } finally {
      await server.close();
      telemeter.close();
    }
  });

  it('renders anyway, with one log line, when collect() rejects', async () => {
    const error = vi.fn();
    setLogger({ warn: vi.fn(), error });
    const telemeter = new Telemeter({ metrics: [] });
    const source = {
      render: (options: { format: 'text' | 'openmetrics' }) => telemeter.render(options),
      collect: () => Promise.reject(new Error('workers are gone')),
    };
    const server = await serveMetrics(source, { port: 0, host: '127.0.0.1' });
    try {
      const reply = await send(server.url);
      expect(reply.status).toBe(200);
      expect(error).toHaveBeenCalledTimes(1);
    } finally {
      await server.close();
      telemeter.close();
      setLogger(null);
    }
  });
});
