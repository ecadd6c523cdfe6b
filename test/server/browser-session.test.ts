/**
 * Browser sign-in on mounted routes: `?token=` exchanges a bearer token for an HttpOnly, SameSite=Strict
 * session cookie scoped to the mounted path, which then works on that path only.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { counter, Telemeter } from '../../src/index.js';
import {
  canScopeCookie,
  readCookie,
  SESSION_COOKIE,
  tokenParameter,
} from '../../src/server/browser-session.js';
import { CredentialCheck } from '../../src/server/credentials.js';
import { type MetricsServer, type ServeMetricsOptions, serveMetrics } from '../../src/server/index.js';
import { isCI } from '../support/tools.js';
import { basicHeader, send } from './http-client.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function start(
  options: ServeMetricsOptions,
): Promise<{ server: MetricsServer; base: string; seen: string[] }> {
  const telemeter = new Telemeter({
    metrics: [counter('session.test.count', { eventName: 'session.test' })],
  });
  cleanups.push(() => telemeter.close());
  const server = await serveMetrics(telemeter, { port: 0, host: '127.0.0.1', ...options });
  cleanups.push(() => server.close());
  const seen: string[] = [];
  server.mount('/dashboard', (req, res) => {
    seen.push(req.url ?? '');
    res.end('dashboard');
  });
  return { server, base: `http://127.0.0.1:${server.port}`, seen };
}

function sessionCookie(setCookie: string[] | undefined): string {
  const cookie = setCookie?.[0] ?? '';
  return cookie.slice(0, cookie.indexOf(';'));
}

describe('CredentialCheck sessions', () => {
  it('derives a session value from each accepted token, never the token itself', () => {
    const check = new CredentialCheck({ bearer: ['old-token', 'new-token'] }, 'auth');
    const session = check.sessionFor(Buffer.from('new-token'));
    expect(session).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session).not.toContain('new-token');
    expect(check.sessionFor(Buffer.from('old-token'))).not.toBe(session);
    expect(check.sessionFor(Buffer.from('wrong'))).toBeUndefined();
    expect(check.verifySession(session)).toBe(true);
    expect(check.verifySession(check.sessionFor(Buffer.from('old-token')))).toBe(true);
    expect(check.verifySession('new-token')).toBe(false);
    expect(check.verifySession(undefined)).toBe(false);
    // Rotating the token out ends its sessions.
    expect(new CredentialCheck({ bearer: 'old-token' }, 'auth').verifySession(session)).toBe(false);
    const basicOnly = new CredentialCheck({ basic: { username: 'u', password: 'p' } }, 'auth');
    expect(basicOnly.acceptsBearer).toBe(false);
    expect(basicOnly.verifySession(session)).toBe(false);
  });

  it('reads cookies and the token parameter', () => {
    expect(readCookie('a=1; telemeter_session=xyz; b=2', SESSION_COOKIE)).toBe('xyz');
    expect(readCookie('xtelemeter_session=1', SESSION_COOKIE)).toBeUndefined();
    expect(readCookie(undefined, SESSION_COOKIE)).toBeUndefined();
    const token = (url: string) => tokenParameter(url)?.toString('utf8');
    expect(token('/dashboard?a=1&token=t%2Bk')).toBe('t+k');
    expect(token('/dashboard?token=t+k/=')).toBe('t+k/=');
    expect(token('/dashboard?token=p%C3%A4ss%zz%4')).toBe('päss%zz%4');
    expect(token('/dashboard?token=first&token=second')).toBe('first');
    expect(token('/dashboard?xtoken=1&token')).toBe('');
    expect(token('/dashboard?tokens=1')).toBeUndefined();
    expect(tokenParameter('/dashboard')).toBeUndefined();
    expect(canScopeCookie('/dashboard')).toBe(true);
    expect(canScopeCookie('/a;b')).toBe(false);
    expect(canScopeCookie('/a,b')).toBe(false);
  });
});

describe('serveMetrics: browser sign-in on mounted routes', () => {
  it('exchanges ?token= for a session cookie that opens the mounted path and nothing else', async () => {
    const { server, base, seen } = await start({ auth: { bearer: 'sesame-token' } });
    expect((await send(`${base}/dashboard`)).status).toBe(401);

    const wrong = await send(`${base}/dashboard?token=nope`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="metrics"');

    const signIn = await send(`${base}/dashboard?token=sesame-token`);
    expect(signIn.status).toBe(200);
    const setCookie = signIn.headers['set-cookie'];
    expect(setCookie).toHaveLength(1);
    expect(setCookie![0]).toMatch(
      /^telemeter_session=[A-Za-z0-9_-]{43}; Path=\/dashboard; HttpOnly; SameSite=Strict$/,
    );
    expect(setCookie![0]).not.toContain('sesame-token');
    expect(signIn.text).toContain('<meta http-equiv="refresh" content="0; url=/dashboard">');
    expect(signIn.text).not.toContain('sesame-token');
    expect(signIn.headers['referrer-policy']).toBe('no-referrer');
    expect(signIn.headers['content-security-policy']).toContain("default-src 'none'");
    expect(seen).toEqual([]); // the handler never sees the token

    const cookie = sessionCookie(setCookie);
    const page = await send(`${base}/dashboard/api/data?x=1`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.text).toBe('dashboard');
    expect(seen).toEqual(['/dashboard/api/data?x=1']);
    // The cookie is not a credential for the metrics, the index page, or with a tampered value.
    expect((await send(server.url, { headers: { cookie } })).status).toBe(401);
    expect((await send(`${base}/`, { headers: { cookie } })).status).toBe(401);
    expect((await send(`${base}/dashboard`, { headers: { cookie: `${cookie}x` } })).status).toBe(401);
    // The header still works, and a POST with a token is not a sign-in.
    expect(
      (await send(`${base}/dashboard`, { headers: { authorization: 'Bearer sesame-token' } })).status,
    ).toBe(200);
    const post = await send(`${base}/dashboard?token=sesame-token`, { method: 'POST' });
    expect(post.status).toBe(401);
    expect(post.headers['set-cookie']).toBeUndefined();
  });

  it('keeps the allowlist first, and offers no sign-in with basic auth alone', async () => {
    // A peer outside allow is closed as it connects: it gets no answer, let alone a cookie.
    const denied = await start({ auth: { bearer: 'sesame-token' }, allow: ['10.0.0.0/8'] });
    await expect(send(`${denied.base}/dashboard?token=sesame-token`)).rejects.toThrow(
      /ECONNRESET|EPIPE|socket hang up/,
    );
    expect(denied.server.refused.notAllowed).toBe(1);

    const basic = await start({ auth: { basic: { username: 'ops', password: 'pw' } } });
    const attempt = await send(`${basic.base}/dashboard?token=pw`);
    expect(attempt.status).toBe(401);
    expect(attempt.headers['www-authenticate']).toBe('Basic realm="metrics", charset="UTF-8"');
    expect(
      (await send(`${basic.base}/dashboard`, { headers: { authorization: basicHeader('ops', 'pw') } })).text,
    ).toBe('dashboard');
  });

  it('marks the cookie Secure over TLS', async (ctx) => {
    const hasOpenssl = (() => {
      try {
        execFileSync('openssl', ['version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
    if (!hasOpenssl) {
      if (isCI()) throw new Error('openssl is required for the TLS test (apt-get install -y openssl)');
      ctx.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'telemeter-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const [keyFile, certFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'],
        ...['-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile],
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(certFile, 'utf8');
    const { server } = await start({
      tls: { key: readFileSync(keyFile, 'utf8'), cert },
      auth: { bearer: 'sesame-token' },
    });
    const reply = await send(`https://127.0.0.1:${server.port}/dashboard?token=sesame-token`, { ca: cert });
    expect(reply.status).toBe(200);
    expect(reply.headers['set-cookie']![0]).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);
  });

  it('leaves servers without auth alone: the handler gets the token parameter like any other', async () => {
    const open = await start({});
    const reply = await send(`${open.base}/dashboard?token=anything`);
    expect(reply.status).toBe(200);
    expect(reply.text).toBe('dashboard');
    expect(reply.headers['set-cookie']).toBeUndefined();
    expect(open.seen).toEqual(['/dashboard?token=anything']);
  });
});
