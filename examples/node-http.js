// Plain node:http with telemeter: a server has no router, so route templates give each request a bounded
// `route` label; the metrics are served on their own private port. `npm install telemeter`, then:
//
//   node node-http.js                     # http://localhost:4000/users/42, metrics on :9091
import { createServer } from 'node:http';
import { Telemeter } from 'telemeter';
import { httpMetrics, instrumentHttpServer, trackerOf } from 'telemeter/http';
import { instrumentRuntime, runtimeMetrics } from 'telemeter/runtime';
import { serveMetrics } from 'telemeter/server';

const port = Number(process.env.PORT ?? 4000);
const metricsPort = Number(process.env.METRICS_PORT ?? 9091);
const host = process.env.HOST ?? '::';

const telemeter = new Telemeter({ metrics: [...httpMetrics(), ...runtimeMetrics()] });
const runtime = instrumentRuntime();

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://app').pathname;
  const user = /^\/users\/([^/]+)$/.exec(path);
  if (req.method === 'GET' && user !== null) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: user[1] }));
  } else if (path === '/healthz') {
    res.end('ok');
  } else if (path === '/boom') {
    // No framework catches errors here: report them, so http.server.request.exception fires.
    trackerOf(res)?.fail(new Error('boom'));
    res.statusCode = 500;
    res.end();
  } else {
    res.statusCode = 404;
    res.end('not found');
  }
});
instrumentHttpServer(server, { route: ['/users/:id', '/boom'], ignore: ['/healthz'] });
await new Promise((resolve) => server.listen(port, host, resolve));
const metricsServer = await serveMetrics(telemeter, { port: metricsPort, host });

const shown = host === '::' || host === '0.0.0.0' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
console.log(`app: http://${shown}:${server.address().port}`);
console.log(`metrics: ${metricsServer.url}`);

async function shutdown() {
  await Promise.all([new Promise((resolve) => server.close(resolve)), metricsServer.close()]);
  runtime.stop();
  telemeter.close();
  console.log('stopped');
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
