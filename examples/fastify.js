// Fastify 5 with telemeter: the plugin measures every route (of every plugin, prefixes included), and the
// metrics are served on their own private port. `npm install telemeter fastify`, then:
//
//   node fastify.js                       # http://localhost:4000/users/42, metrics on :9091
import Fastify from 'fastify';
import { Telemeter } from 'telemeter';
import { fastifyPlugin, httpMetrics } from 'telemeter/http';
import { instrumentRuntime, runtimeMetrics } from 'telemeter/runtime';
import { serveMetrics } from 'telemeter/server';

const port = Number(process.env.PORT ?? 4000);
const metricsPort = Number(process.env.METRICS_PORT ?? 9091);
const host = process.env.HOST ?? '::';

const telemeter = new Telemeter({ metrics: [...httpMetrics(), ...runtimeMetrics()] });
const runtime = instrumentRuntime();

const app = Fastify();
await app.register(fastifyPlugin, { ignore: ['/healthz'] });
app.get('/healthz', async () => 'ok');
app.get('/users/:id', async (request) => ({ id: request.params.id }));
app.get('/boom', async () => {
  throw new Error('boom');
});

await app.listen({ port, host });
const metricsServer = await serveMetrics(telemeter, { port: metricsPort, host });

const shown = host === '::' || host === '0.0.0.0' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
console.log(`app: http://${shown}:${app.server.address().port}`);
console.log(`metrics: ${metricsServer.url}`);

async function shutdown() {
  await Promise.all([app.close(), metricsServer.close()]);
  runtime.stop();
  telemeter.close();
  console.log('stopped');
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
