// The Node floor for a reverse proxy: a node:http server that reads the request body, forwards it with
// an undici Pool (keep-alive) and pipes the upstream's answer back. No parsing, no routing, no metrics —
// whatever the Aviary router adds on top of this is the router's own cost.
//
//   node bench/undici-passthrough.mjs --upstream http://127.0.0.1:8090 [--port 0] [--host 127.0.0.1]
//
// Prints `listening http://host:port` on stdout once it accepts connections.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { Pool } = require('undici');

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    connections: { type: 'string', default: '256' },
  },
});
if (!values.upstream) {
  console.error('usage: node bench/undici-passthrough.mjs --upstream http://host:port [--port N]');
  process.exit(2);
}

const pool = new Pool(values.upstream, {
  connections: Number(values.connections),
  pipelining: 1,
  keepAliveTimeout: 30_000,
  keepAliveMaxTimeout: 600_000,
});

// Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded. Towards the upstream, undici sets host and
// content-length itself (the body is a Buffer); back to the client, content-length is kept.
const HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade'];
const REQUEST_SKIP = new Set([...HOP, 'host', 'content-length']);
const RESPONSE_SKIP = new Set(HOP);

function pick(headers, skip) {
  const out = {};
  for (const name in headers) if (!skip.has(name)) out[name] = headers[name];
  return out;
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length === 0 ? null : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    pool.request({ path: req.url, method: req.method, headers: pick(req.headers, REQUEST_SKIP), body }).then(
      (up) => {
        res.writeHead(up.statusCode, pick(up.headers, RESPONSE_SKIP));
        up.body.pipe(res);
      },
      (err) => {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(err?.message ?? err), type: 'upstream_error' } }));
      },
    );
  });
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(Number(values.port), values.host, () => {
  const { port } = server.address();
  console.log(`listening http://${values.host}:${port}`);
});

const stop = () => {
  server.close();
  server.closeAllConnections();
  void pool.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
