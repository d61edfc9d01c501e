// The yardstick for bench/verify.ts: a bare Express app parsing the same JSON body and answering
// the same JSON a successful verification answers, with no auth, cache or database.
import express from 'express';

const port = Number(process.argv[2]);
const answer = JSON.parse(process.argv[3] ?? '{}') as unknown;
const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '300kb' }));
app.post('/v1/keys/verify', (_req, res) => {
  res.json(answer);
});
app.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
// Exit normally on SIGTERM, so a --cpu-prof profile gets written.
process.once('SIGTERM', () => process.exit(0));
