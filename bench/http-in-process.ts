/**
 * The CPU that HTTP instrumentation adds to each request, measured without a network: a `node:http` server's
 * request path runs in this process over a socket that discards what it is written, with and without
 * `instrumentHttpServer`, in interleaved rounds. Loopback benchmarks (bench/http-overhead.ts) move by more than
 * the difference between runs; this one does not see the kernel, so it isolates telemeter's own cost.
 *
 *   npm run bench:one -- bench/http-in-process.ts [--rounds 11] [--requests 10000]
 *     [--only node|express]
 *
 * Each case and round runs in a process of its own (interleaved), after a warm-up of three times its requests.
 *
 * `end via channel` is a socket of a Node server: the response ends through Node's `http.server.response.finish`
 * channel, published here as Node's server publishes it. `end via listener` is a socket that is not a server's (as
 * Fastify's `inject` makes): telemeter adds a `close` listener to each response.
 */
import { execFileSync } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { createServer, IncomingMessage, type Server, ServerResponse } from 'node:http';
import { Duplex } from 'node:stream';
import express from 'express';
import { Telemeter } from 'telemeter';
import { expressMiddleware, httpMetrics, instrumentHttpServer } from 'telemeter/http';

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? fallback : Number(process.argv[index + 1]);
}

const rounds = argument('rounds', 11);
const onlyIndex = process.argv.indexOf('--only');
/** `node` or `express`: one family of cases. Default both. */
const only = onlyIndex < 0 ? undefined : process.argv[onlyIndex + 1];
const requests = argument('requests', 10_000);
new Telemeter({ metrics: httpMetrics() });

const BODY = JSON.stringify({ id: 42, name: 'Ada Lovelace' });
const finishChannel = diagnosticsChannel.channel('http.server.response.finish');

class DiscardingSocket extends Duplex {
  override _read(): void {}
  override _write(_chunk: unknown, _encoding: string, done: () => void): void {
    done();
  }
}

type OneRequest = () => Promise<void>;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function plainHandler(): Handler {
  return (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(BODY);
  };
}

/** Express 5 with the same route, bare or with expressMiddleware first, as bench/http-overhead.ts serves it. */
function expressHandler(instrumented: boolean): Handler {
  const app = express();
  if (instrumented) app.use(expressMiddleware());
  app.get('/users/:id', (_req, res) => {
    res.json({ id: 42, name: 'Ada Lovelace' });
  });
  return app as unknown as Handler;
}

/** `instrumentServer`: instrumentHttpServer on the server (the Express cases instrument through the app). */
function serverCase(
  instrumentServer: boolean,
  endViaChannel: boolean,
  handler: Handler = plainHandler(),
): OneRequest {
  const server: Server = createServer(handler);
  if (instrumentServer) instrumentHttpServer(server, { route: ['/users/:id'] });
  const socket = new DiscardingSocket() as DiscardingSocket & { server?: Server };
  if (endViaChannel) socket.server = server;
  return () =>
    new Promise<void>((resolve) => {
      const req = new IncomingMessage(socket as never);
      req.method = 'GET';
      req.url = '/users/42';
      req.httpVersionMajor = 1;
      req.httpVersionMinor = 1;
      req.httpVersion = '1.1';
      req.headers = { host: 'bench' };
      req.rawHeaders = ['host', 'bench'];
      req.complete = true;
      req.push(null);
      const res = new ServerResponse(req);
      res.assignSocket(socket as never);
      res.on('finish', () => {
        // What Node's server does when a response finishes: publish, detach, and emit close on the next tick.
        if (finishChannel.hasSubscribers)
          finishChannel.publish({ request: req, response: res, socket, server });
        res.detachSocket(socket as never);
        process.nextTick(() => {
          res.emit('close');
          resolve();
        });
      });
      server.emit('request', req, res);
    });
}

async function cpuPerRequest(one: OneRequest, count: number): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) await one();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

// Each case runs in a process of its own: expressMiddleware patches the layer prototype that every Express
// application of the process shares, so a bare Express measured next to it would pay part of its cost.
const nodeCases: Record<string, () => OneRequest> = {
  'bare node:http': () => serverCase(false, true),
  'telemeter, end via channel': () => serverCase(true, true),
  'telemeter, end via listener': () => serverCase(true, false),
};
const expressCases: Record<string, () => OneRequest> = {
  'bare Express 5': () => serverCase(false, true, expressHandler(false)),
  'Express 5 + expressMiddleware': () => serverCase(false, true, expressHandler(true)),
};
const allCases = { ...nodeCases, ...expressCases };
const childCase = process.env.TELEMETER_IN_PROCESS_CASE;
if (childCase !== undefined) {
  const one = allCases[childCase as keyof typeof allCases]();
  await cpuPerRequest(one, 3 * requests);
  process.stdout.write(`${await cpuPerRequest(one, requests)}\n`);
  process.exit(0);
}
const cases = only === 'express' ? expressCases : only === 'node' ? nodeCases : allCases;
const names = Object.keys(cases);
const results: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
for (let round = 0; round < rounds; round++) {
  for (const name of round % 2 === 0 ? names : [...names].reverse()) {
    const output = execFileSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      env: { ...process.env, TELEMETER_IN_PROCESS_CASE: name },
      encoding: 'utf8',
    });
    results[name].push(Number(output.trim()));
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log('| case | CPU µs/request | added over bare (median of per-round differences) |');
console.log('|---|---:|---:|');
for (const name of names) {
  const bareName = name in expressCases ? 'bare Express 5' : 'bare node:http';
  const bare = results[bareName];
  const added = median(results[name].map((value, i) => value - bare[i]));
  console.log(
    `| ${name} | ${median(results[name]).toFixed(2)} | ${name === bareName ? '–' : `+${added.toFixed(2)}`} |`,
  );
}
