/**
 * Credentials as real clients put them on the wire: curl and Prometheus send a token's UTF-8 bytes, Node's and
 * Python's HTTP clients send Latin-1, and a browser follows a `?token=` link as it was pasted. Requests here are
 * written byte for byte over node:net, through Node's own client, and with curl when the machine has it.
 */
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { counter, Telemeter } from '../../src/index.js';
import { type MetricsServer, type ServeMetricsOptions, serveMetrics } from '../../src/server/index.js';
import { requireTool } from '../support/tools.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** à is C3 A0 and Å is C3 85 in UTF-8: bytes that a JavaScript `\s` takes for blanks once Node decodes them. */
const UTF8_TOKEN = 'pässwörd-à-Å-秘密';
const LATIN1_TOKEN = 'pässwörd-à';
const BASE64_TOKEN = 'k7+Gx/3aQ9==';

async function start(options: ServeMetricsOptions): Promise<MetricsServer> {
  const telemeter = new Telemeter({
    metrics: [counter('wire.test.count', { eventName: 'wire.test', measurement: 'n' })],
  });
  cleanups.push(() => telemeter.close());
  const server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1', ...options });
  cleanups.push(() => server.close());
  server.mount('/dashboard', (_req, res) => {
    res.end('dashboard');
  });
  return server;
}

interface RawAnswer {
  status: number;
  head: string;
}

/** Sends `target` with `headers` (each given as the exact bytes of its line) and reads the answer's head. */
function raw(port: number, target: string, headers: Buffer[] = []): Promise<RawAnswer> {
  const request = Buffer.concat([
    Buffer.from(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`, 'latin1'),
    ...headers.flatMap((line) => [line, Buffer.from('\r\n')]),
    Buffer.from('\r\n'),
  ]);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? 0), head });
    });
  });
}

/** The line `Authorization: <value>` with the value's UTF-8 bytes, as curl and Prometheus write it. */
const utf8Authorization = (value: string) => Buffer.from(`Authorization: ${value}`, 'utf8');

/** A GET through Node's own client: it writes a header string's characters as Latin-1 bytes. */
function nodeClient(url: string, authorization: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization }, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end();
  });
}

// Outside CI a missing curl skips its tests; under CI=true it fails them (.ci/run installs it).
const hasCurl = requireTool('/usr/bin/curl', { name: 'curl', debianPackage: 'curl' });

/** The status curl gets with `args`, in a UTF-8 locale so its arguments are UTF-8 bytes. */
function curl(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(
      '/usr/bin/curl',
      ['--silent', '--max-time', '10', '--output', '/dev/null', '--write-out', '%{http_code}', ...args],
      { env: { ...process.env, LC_ALL: 'C.UTF-8' } },
      (error, stdout) => (error ? reject(error) : resolve(Number(stdout))),
    );
  });
}

describe('bearer tokens on the wire', () => {
  it('a non-ASCII token signs in with the UTF-8 bytes curl and Prometheus send', async () => {
    const server = await start({ auth: { bearer: UTF8_TOKEN } });
    expect((await raw(server.port, '/metrics', [utf8Authorization(`Bearer ${UTF8_TOKEN}`)])).status).toBe(
      200,
    );
    expect((await raw(server.port, '/metrics', [utf8Authorization('Bearer pässwörd-à-Å-秘')])).status).toBe(
      401,
    );
    expect((await raw(server.port, '/metrics', [utf8Authorization(`Bearer ${UTF8_TOKEN} x`)])).status).toBe(
      401,
    );
    // Node's client, given the UTF-8 bytes as a byte string, sends them as they are.
    const bytes = Buffer.from(`Bearer ${UTF8_TOKEN}`, 'utf8').toString('latin1');
    expect(await nodeClient(server.url, bytes)).toBe(200);
  });

  it('a token of Latin-1 characters signs in both as UTF-8 (curl) and as Latin-1 (Node, Python)', async () => {
    const server = await start({ auth: { bearer: LATIN1_TOKEN } });
    expect((await raw(server.port, '/metrics', [utf8Authorization(`Bearer ${LATIN1_TOKEN}`)])).status).toBe(
      200,
    );
    const latin1 = Buffer.from(`Authorization: Bearer ${LATIN1_TOKEN}`, 'latin1');
    expect((await raw(server.port, '/metrics', [latin1])).status).toBe(200);
    expect(await nodeClient(server.url, `Bearer ${LATIN1_TOKEN}`)).toBe(200);
    expect(await nodeClient(server.url, 'Bearer passwörd-à')).toBe(401);
  });

  it.skipIf(!hasCurl)(
    'curl -H "Authorization: Bearer <non-ASCII token>" gets 200, a wrong one 401',
    async () => {
      const server = await start({ auth: { bearer: UTF8_TOKEN } });
      expect(await curl(['-H', `Authorization: Bearer ${UTF8_TOKEN}`, server.url])).toBe(200);
      expect(await curl(['-H', `Authorization: Bearer ${UTF8_TOKEN}x`, server.url])).toBe(401);
    },
  );
});

describe('basic credentials on the wire', () => {
  const auth = { basic: { username: 'üser', password: 'pässwörd-秘' } };
  const header = (encoding: BufferEncoding, pair = 'üser:pässwörd-秘') =>
    Buffer.from(`Authorization: Basic ${Buffer.from(pair, encoding).toString('base64')}`, 'latin1');

  it('non-ASCII credentials sign in in UTF-8 (curl -u, browsers, Prometheus)', async () => {
    const server = await start({ auth });
    expect((await raw(server.port, '/metrics', [header('utf8')])).status).toBe(200);
    expect((await raw(server.port, '/metrics', [header('utf8', 'üser:pässwörd-秘x')])).status).toBe(401);
  });

  it('Latin-1 credentials sign in as Python requests sends them', async () => {
    const server = await start({ auth: { basic: { username: 'üser', password: 'pässwörd' } } });
    expect((await raw(server.port, '/metrics', [header('latin1', 'üser:pässwörd')])).status).toBe(200);
    expect((await raw(server.port, '/metrics', [header('utf8', 'üser:pässwörd')])).status).toBe(200);
  });

  it.skipIf(!hasCurl)('curl -u with non-ASCII credentials gets 200, a wrong password 401', async () => {
    const server = await start({ auth });
    expect(await curl(['-u', 'üser:pässwörd-秘', server.url])).toBe(200);
    expect(await curl(['-u', 'üser:pässwörd', server.url])).toBe(401);
  });
});

describe('?token= sign-in links', () => {
  const signedIn = (answer: RawAnswer) =>
    answer.status === 200 && /\r\nSet-Cookie: telemeter_session=/i.test(answer.head);

  it('a base64 token pasted as it is signs in: + is a plus, not a space', async () => {
    const server = await start({ auth: { bearer: BASE64_TOKEN } });
    const answer = await raw(server.port, `/dashboard?token=${BASE64_TOKEN}`);
    expect(signedIn(answer)).toBe(true);
    expect(signedIn(await raw(server.port, `/dashboard?token=${BASE64_TOKEN.replace('+', '%20')}`))).toBe(
      false,
    );
  });

  it('a percent-encoded token signs in, non-ASCII ones as a browser encodes them (UTF-8)', async () => {
    const server = await start({ auth: { bearer: [BASE64_TOKEN, UTF8_TOKEN] } });
    expect(signedIn(await raw(server.port, `/dashboard?token=${encodeURIComponent(BASE64_TOKEN)}`))).toBe(
      true,
    );
    expect(signedIn(await raw(server.port, `/dashboard?a=1&token=${encodeURIComponent(UTF8_TOKEN)}`))).toBe(
      true,
    );
    const wrong = await raw(server.port, `/dashboard?token=${encodeURIComponent(`${UTF8_TOKEN}x`)}`);
    expect(wrong.status).toBe(401);
    expect(signedIn(wrong)).toBe(false);
  });

  it('the session of either form of one token is the same cookie', async () => {
    const server = await start({ auth: { bearer: BASE64_TOKEN } });
    const cookie = (answer: RawAnswer) => /\r\nSet-Cookie: (telemeter_session=[^;]+)/i.exec(answer.head)?.[1];
    const pasted = cookie(await raw(server.port, `/dashboard?token=${BASE64_TOKEN}`));
    const encoded = cookie(await raw(server.port, `/dashboard?token=${encodeURIComponent(BASE64_TOKEN)}`));
    expect(pasted).toBeDefined();
    expect(encoded).toBe(pasted);
    const page = await raw(server.port, '/dashboard', [Buffer.from(`Cookie: ${pasted}`)]);
    expect(page.status).toBe(200);
  });
});
