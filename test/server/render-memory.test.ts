/**
 * A text render's bytes live in memory that the next render writes again, once the render and every scrape that
 * read it are done: never sooner, or a scrape still sending would send the next render's bytes.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { counter, distribution, execute, Telemeter } from '../../src/index.js';
import { type MetricsServer, serveMetrics } from '../../src/server/index.js';
import { RenderCoalescer, type RenderJob } from '../../src/server/render-coalescer.js';
import { send } from './http-client.js';

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const item of open.splice(0)) await item.close();
});

function shop(): Telemeter {
  const telemeter = new Telemeter({
    metrics: [
      counter('mem.orders.count', { eventName: 'mem.order', measurement: 'n', tags: ['status', 'sku'] }),
      distribution('mem.order.seconds', {
        eventName: 'mem.order',
        measurement: 'n',
        tags: ['status', 'sku'],
      }),
    ],
    selfMetrics: false,
  });
  open.push(telemeter);
  return telemeter;
}

/** Every byte of a job's body, once it is complete. */
async function bodyOf(job: RenderJob): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of job.body.read()) chunks.push(chunk as Uint8Array);
  return chunks;
}

const text = (chunks: readonly Uint8Array[]) => Buffer.concat(chunks).toString('utf8');

describe('the memory of text renders', () => {
  it('is written again by the next render only once the previous one is released', async () => {
    const telemeter = shop();
    execute('mem.order', { n: 1 }, { status: 'paid', sku: 'a' });
    const coalescer = new RenderCoalescer(telemeter);

    const [first, releaseFirst] = coalescer.acquire('text');
    const firstChunks = await bodyOf(first);
    const firstText = text(firstChunks);
    expect(firstText).toBe(telemeter.scrape());

    // Still held: a second render gets memory of its own, and the first body's bytes stay as they were.
    execute('mem.order', { n: 1 }, { status: 'failed', sku: 'b' });
    const [second, releaseSecond] = coalescer.acquire('text');
    const secondChunks = await bodyOf(second);
    expect(secondChunks[0].buffer).not.toBe(firstChunks[0].buffer);
    expect(text(firstChunks)).toBe(firstText);
    expect(text(secondChunks)).toBe(telemeter.scrape());

    // Released (twice: the second call is a no-op), the first render's memory serves the next one.
    releaseFirst();
    releaseFirst();
    releaseSecond();
    const [third, releaseThird] = coalescer.acquire('text');
    const thirdChunks = await bodyOf(third);
    expect([firstChunks[0].buffer, secondChunks[0].buffer]).toContain(thirdChunks[0].buffer);
    expect(text(thirdChunks)).toBe(telemeter.scrape());
    releaseThird();
  });

  it('is held by a gzip stream until it has read every chunk', async () => {
    const telemeter = shop();
    for (let i = 0; i < 2000; i++) execute('mem.order', { n: i }, { status: 'paid', sku: `sku-${i}` });
    const coalescer = new RenderCoalescer(telemeter);
    const [job, release] = coalescer.acquire('text');
    const zipped = job.gzip();
    const plain = await bodyOf(job);
    // The reader lets go before the gzip stream has finished: the stream's own hold keeps the memory.
    release();
    const [next, releaseNext] = coalescer.acquire('text');
    const nextChunks = await bodyOf(next);
    const held = new Set(plain.map((chunk) => chunk.buffer));
    const gzipDone = await (async () => {
      const parts: Buffer[] = [];
      for await (const part of zipped.read()) parts.push(part);
      return Buffer.concat(parts);
    })();
    expect(nextChunks.some((chunk) => held.has(chunk.buffer))).toBe(false);
    const { gunzipSync } = await import('node:zlib');
    expect(gunzipSync(gzipDone).toString('utf8')).toBe(text(plain));
    releaseNext();
  });

  it('keeps every body whole across rounds of concurrent, gzipped, slow and abandoned scrapes', async () => {
    const telemeter = shop();
    const server: MetricsServer = await serveMetrics(telemeter, {
      port: 0,
      host: '127.0.0.1',
      maxInFlight: 50,
    });
    open.push(server);
    const url = `http://127.0.0.1:${server.port}/metrics`;
    const slowReplies: Promise<{ text: string }>[] = [];
    const expectations: string[] = [];
    for (let round = 0; round < 6; round++) {
      // New values each round, none recorded while the round's scrapes run: every body must be this scrape.
      // About 12 MB: more than the sockets' buffers hold, so the slow scrape's server still has bytes to send.
      for (let i = 0; i < 10_000; i++) {
        execute(
          'mem.order',
          { n: round + i / 1000 },
          { status: round % 2 ? 'paid' : 'failed', sku: `s${i}` },
        );
      }
      const expected = telemeter.scrape();
      expectations.push(expected);
      // The slow scrape is still reading when the next rounds render: their memory must not be its memory.
      slowReplies.push(slowly(url));
      const abandoned = abandon(url);
      const replies = await Promise.all([
        send(url),
        send(url, { headers: { 'accept-encoding': 'gzip' } }),
        send(url),
      ]);
      await abandoned;
      // Compared whole but reported short: a diff of two 12 MB bodies would take minutes to print.
      for (const reply of replies) expect(reply.text === expected, `round ${round}`).toBe(true);
    }
    const slow = await Promise.all(slowReplies);
    for (const [round, reply] of slow.entries()) {
      expect(reply.text === expectations[round], `slow, round ${round}`).toBe(true);
    }
  });
});

/** A scrape read slowly: one chunk, then a pause, so later renders run while its bytes are still to be sent. */
function slowly(url: string): Promise<{ text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        res.pause();
        setTimeout(() => res.resume(), 5);
      });
      res.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A scrape whose client goes away after the first bytes. */
function abandon(url: string): Promise<void> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => resolve());
    req.end();
  });
}
