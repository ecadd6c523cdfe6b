// Express 5 with telemeter: the middleware measures every request under its route template, and the metrics
// endpoint shares the application's port (metricsHandler). `npm install telemeter express`, then:
//
//   node express.js                       # http://localhost:4000/users/42, metrics at /metrics
//   METRICS_TOKEN=change-me-please node express.js
import express from 'express';
import { Telemeter } from 'telemeter';
import { expressMiddleware, httpMetrics } from 'telemeter/http';
import { instrumentRuntime, runtimeMetrics } from 'telemeter/runtime';
import { metricsHandler } from 'telemeter/server';

const port = Number(process.env.PORT ?? 4000);
const host = process.env.HOST ?? '::';
const token = process.env.METRICS_TOKEN;

const telemeter = new Telemeter({ metrics: [...httpMetrics(), ...runtimeMetrics()] });
const runtime = instrumentRuntime();

const app = express();
// First, before every route; the scrapes themselves are not counted.
const metrics = expressMiddleware({ ignore: ['/metrics', '/healthz'] });
app.use(metrics);
// On a public port, protect the metrics with a token.
app.get('/metrics', metricsHandler(telemeter, { auth: token ? { bearer: token } : undefined }));
app.get('/healthz', (_req, res) => {
  res.send('ok');
});
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id });
});
app.get('/boom', () => {
  throw new Error('boom');
});
// After the routes: the only place Express shows a route's error to the instrumentation.
app.use(metrics.errorHandler);

const server = app.listen(port, host, () => {
  const shown = host === '::' || host === '0.0.0.0' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  console.log(`app: http://${shown}:${server.address().port}`);
  console.log(`metrics: http://${shown}:${server.address().port}/metrics`);
});

function shutdown() {
  server.close(() => console.log('stopped'));
  runtime.stop();
  telemeter.close();
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
