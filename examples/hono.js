// Hono on Node.js with telemeter: the middleware measures every request under the template of the route that
// answered, and the metrics are served on their own private port. `npm install telemeter hono @hono/node-server`:
//
//   node hono.js                          # http://localhost:4000/users/42, metrics on :9091
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Telemeter } from 'telemeter';
import { honoMiddleware, httpMetrics } from 'telemeter/http';
import { instrumentRuntime, runtimeMetrics } from 'telemeter/runtime';
import { serveMetrics } from 'telemeter/server';

const port = Number(process.env.PORT ?? 4000);
const metricsPort = Number(process.env.METRICS_PORT ?? 9091);
const host = process.env.HOST ?? '::';

const telemeter = new Telemeter({ metrics: [...httpMetrics(), ...runtimeMetrics()] });
const runtime = instrumentRuntime();

const app = new Hono();
app.use(honoMiddleware({ ignore: ['/healthz'] })); // first, for all paths
app.get('/healthz', (c) => c.text('ok'));
app.get('/users/:id', (c) => c.json({ id: c.req.param('id') }));
app.get('/boom', () => {
  throw new Error('boom');
});

const server = await new Promise((resolve) => {
  const s = serve({ fetch: app.fetch, port, hostname: host }, () => resolve(s));
});
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
