// The provider's service for bench/oauth.ts: one Express app, the same handler behind four guards,
// so the routes differ only in how a caller is checked. Env: PORT, GATEHOUSE_URL, SERVICE_KEY, AUDIENCE.
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
// Bearer tokens checked here against the cached JWKS: no round trip to Gatehouse.
app.get('/offline', gatehouse({ ...common, audience: env('AUDIENCE') }), handler);
// Bearer tokens asked of Gatehouse's introspection on every request.
app.get('/online', gatehouse({ ...common, audience: env('AUDIENCE'), introspect: true }), handler);
// The key itself on every request (x-api-key, POST /v1/keys/verify): the online check before OAuth.
app.get('/key', gatehouse(common), handler);
app.get('/healthz', (_req, res) => {
  res.send('ok');
});
app.listen(Number(env('PORT')), '127.0.0.1', () => process.stdout.write('ready\n'));
process.once('SIGTERM', () => process.exit(0));
