// The provider's service for bench/middleware.ts: one Express app, the same handler unprotected,
// behind a middleware that does nothing, behind @gatehouse/express verifying every request, and
// behind it with the short cache on.
// Usage reporting is on for both guarded routes. Env: PORT, GATEHOUSE_URL, SERVICE_KEY, CACHE_TTL_MS.
import express, { type RequestHandler } from 'express';
import { gatehouse } from '@gatehouse/express';

const env = (name: string) => process.env[name] ?? '';
const common = { url: env('GATEHOUSE_URL'), apiKey: env('SERVICE_KEY'), permission: 'products:read', onError: (e: Error) => process.stderr.write(`${e.message}\n`) };
const handler: RequestHandler = (_req, res) => {
  res.json({ id: 'p1', name: 'Product' });
};

const app = express();
app.disable('x-powered-by');
app.get('/none', handler);
// A yardstick: the same handler behind a middleware that only calls next(), the price Express puts
// on any middleware of a route.
app.get('/passthrough', (_req, _res, next) => next(), handler);
app.get('/verify', gatehouse(common), handler);
app.get('/cached', gatehouse({ ...common, cacheTtlMs: Number(env('CACHE_TTL_MS')) }), handler);
app.get('/healthz', (_req, res) => {
  res.send('ok');
});
app.listen(Number(env('PORT')), '127.0.0.1', () => process.stdout.write('ready\n'));
process.once('SIGTERM', () => process.exit(0));
