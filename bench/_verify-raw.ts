// The ceiling for bench/verify.ts: a bare node:http server reading and parsing the same JSON body
// and answering the same JSON a successful verification answers, with no framework, auth, cache or
// database. What a Node process can do per request at all.
import http from 'node:http';

const port = Number(process.argv[2]);
const answer = Buffer.from(process.argv[3] ?? '{}');
http
  .createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // The bench's readiness probe is a GET with no body.
      if (chunks.length > 0) JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Content-Length', answer.length);
      res.end(answer);
    });
  })
  .listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
// Exit normally on SIGTERM, so a --cpu-prof profile gets written.
process.once('SIGTERM', () => process.exit(0));
