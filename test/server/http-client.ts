/**
 * A small HTTP(S) client for the server tests: it chooses the client's address family, never
 * decompresses (so gzip is checked byte for byte), and bounds every request in time.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { gunzipSync } from 'node:zlib';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as received (still gzipped when Content-Encoding is gzip). */
  raw: Buffer;
  /** The body decoded as UTF-8, after gunzip when the response is gzipped. */
  text: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** PEM of the CA that signed the server certificate (https). */
  ca?: string;
  timeoutMs?: number;
}

/** Sends one request to `url` (host literal decides the client family: 127.0.0.1 or [::1]). */
export function send(url: string, options: RequestOptions = {}): Promise<Reply> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        ca: options.ca,
        agent: false,
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const body = res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, text: body.toString('utf8') });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** `url` with its host replaced, e.g. to reach the same port from 127.0.0.1 instead of [::1]. */
export function onHost(url: string, host: string): string {
  const target = new URL(url);
  target.hostname = host.includes(':') ? `[${host}]` : host;
  return target.toString();
}

export function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** Polls `condition` every 5 ms, at most `attempts` times; throws when it never holds. */
export async function until(what: string, condition: () => boolean, attempts = 2_000): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}
