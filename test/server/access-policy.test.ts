import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessPolicy, type MountedTarget } from '../../src/server/access-policy.js';
import { AddressAllowlist } from '../../src/server/address-allowlist.js';
import { CredentialCheck } from '../../src/server/credentials.js';

const servers: Server[] = [];
const agents: Agent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) agent.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  reusedSocket: boolean;
}

/** A loopback server that answers `ok` to what `policy` admits; `mounted` makes it a mounted page. */
async function serve(policy: AccessPolicy, mounted?: MountedTarget): Promise<number> {
  const server = createServer((req, res) => {
    if (policy.admit(req, res, mounted)) res.end('ok');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function send(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; agent?: Agent } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: options.agent,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            reusedSocket: req.reusedSocket,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const bearer = () => new CredentialCheck({ bearer: 'tok', basic: { username: 'u', password: 'p' } }, 'auth');
const dashboard: MountedTarget = { path: '/dash', secure: false };

describe('AccessPolicy', () => {
  it('answers 403, without a challenge, to an address outside the allowlist, whatever its credentials', async () => {
    const port = await serve(new AccessPolicy(new AddressAllowlist(['10.0.0.0/8'], 'allow'), bearer()));
    const answer = await send(port, '/metrics', { headers: { authorization: 'Bearer tok' } });
    expect(answer.status).toBe(403);
    expect(answer.body).toBe('Forbidden\n');
    expect(answer.headers['www-authenticate']).toBeUndefined();
  });

  it('answers 401 with one challenge per accepted scheme to missing or wrong credentials', async () => {
    const port = await serve(new AccessPolicy(new AddressAllowlist(['127.0.0.0/8'], 'allow'), bearer()));
    for (const headers of [{}, { authorization: 'Bearer nope' }] as Record<string, string>[]) {
      const answer = await send(port, '/metrics', { headers });
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toBe(
        'Bearer realm="metrics", Basic realm="metrics", charset="UTF-8"',
      );
    }
    expect((await send(port, '/metrics', { headers: { authorization: 'Bearer tok' } })).body).toBe('ok');
  });

  it('signs a browser in on a mounted page with ?token=, on GET and HEAD, and keeps the connection open', async () => {
    const port = await serve(new AccessPolicy(undefined, bearer()), dashboard);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    const signedIn = await send(port, '/dash?token=tok', { agent });
    expect(signedIn.status).toBe(200);
    expect(signedIn.body).toContain('Signed in.');
    const cookie = String(signedIn.headers['set-cookie']);
    expect(cookie).toMatch(/^telemeter_session=[\w-]+; Path=\/dash; HttpOnly; SameSite=Strict$/);
    // The sign-in answer was the whole exchange: the same connection carries the next request.
    const next = await send(port, '/dash', { agent, headers: { cookie: cookie.split(';')[0] } });
    expect([next.status, next.body, next.reusedSocket]).toEqual([200, 'ok', true]);
    const head = await send(port, '/dash?token=tok', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(String(head.headers['set-cookie'])).toMatch(/^telemeter_session=/);
  });

  it('takes ?token= only on a GET or HEAD of a mounted page from an allowed address', async () => {
    const mounted = await serve(new AccessPolicy(undefined, bearer()), dashboard);
    const post = await send(mounted, '/dash?token=tok', { method: 'POST' });
    expect([post.status, post.headers['set-cookie']]).toEqual([401, undefined]);
    const wrong = await send(mounted, '/dash?token=nope');
    expect([wrong.status, wrong.headers['set-cookie']]).toEqual([401, undefined]);

    const scrape = await serve(new AccessPolicy(undefined, bearer()));
    expect((await send(scrape, '/metrics?token=tok')).status).toBe(401);

    const refused = await serve(
      new AccessPolicy(new AddressAllowlist(['10.0.0.0/8'], 'allow'), bearer()),
      dashboard,
    );
    const answer = await send(refused, '/dash?token=tok');
    expect([answer.status, answer.headers['set-cookie']]).toEqual([403, undefined]);
  });
});
