// Readiness probe for scripts/services/kafka.sh, with no dependencies (it runs before `npm ci` may have):
// one Kafka Metadata v1 request over a raw socket. Exits 0 when the broker answers and lists at least one
// broker (it has registered with the controller and is unfenced), 1 otherwise.
//
//   node scripts/services/kafka/probe.mjs 127.0.0.1 19092 [timeoutMs]
import { connect } from 'node:net';

const [host = '127.0.0.1', portArg = '19092', timeoutArg = '2000'] = process.argv.slice(2);
const clientId = Buffer.from('aviary-kafka-probe');
const correlationId = 0x41564941;

// Request header v1 (api_key, api_version, correlation_id, client_id) + Metadata v1 body (topics: [] = none).
const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4);
let o = 0;
o = body.writeInt16BE(3, o); // Metadata
o = body.writeInt16BE(1, o);
o = body.writeInt32BE(correlationId, o);
o = body.writeInt16BE(clientId.length, o);
o += clientId.copy(body, o);
body.writeInt32BE(0, o);
const size = Buffer.alloc(4);
size.writeInt32BE(body.length);

const socket = connect({ host, port: Number(portArg) });
const fail = (why) => {
  if (process.env.AVIARY_KAFKA_PROBE_DEBUG) console.error(`probe: ${why}`);
  socket.destroy();
  process.exit(1);
};
socket.setTimeout(Number(timeoutArg), () => fail('timeout'));
socket.on('error', (e) => fail(e.message));
socket.on('connect', () => socket.write(Buffer.concat([size, body])));
let received = Buffer.alloc(0);
socket.on('data', (chunk) => {
  received = Buffer.concat([received, chunk]);
  if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
  // Response header v0 (correlation_id), then brokers: [node_id, host, port, rack].
  if (received.readInt32BE(4) !== correlationId) return fail('unexpected correlation id');
  const brokers = received.readInt32BE(8);
  if (brokers < 1) return fail('no brokers in metadata yet');
  socket.destroy();
  process.exit(0);
});
