/**
 * kafkajs 2.2.4 checksums every record batch it produces (CRC-32C, Kafka's v2 message format) in
 * JavaScript, a byte at a time: about 4 ns a byte on this kind of machine, the largest single item of
 * the router's evidence path in its CPU profile (~10 µs of main-thread time per request with one
 * outcome event; more with the shadow's pair event, and a pair that captures a long prompt and both
 * answers is tens of kilobytes, a quarter of a millisecond of checksum). `@node-rs/crc32` (napi-rs,
 * SSE 4.2 / ARMv8 CRC instructions) computes the same checksum at well under a nanosecond a byte.
 *
 * kafkajs loads its record-batch encoder lazily, with the first produce request, and the encoder
 * takes the checksum function from `recordBatch/crc32C` when it loads. So the module's export is
 * replaced before that happens: `createKafka` installs this before any producer exists. The swap is
 * checked first (known CRC-32C vectors, and kafkajs' own function on the same bytes) and skipped,
 * leaving kafkajs as it is, when the native module is missing (a platform without a prebuilt binary)
 * or disagrees, or when the encoder has already loaded. The broker verifies every batch's checksum
 * (CORRUPT_MESSAGE otherwise), so the integration tests against a real broker exercise it end to end.
 */

/** kafkajs' checksum module: a Buffer in, the unsigned CRC-32C out. */
export type Crc32c = (buffer: Buffer) => number;

/** Where kafkajs keeps it, and the encoder that reads it once when it loads. */
const CRC_MODULE = 'kafkajs/src/protocol/recordBatch/crc32C';
const ENCODER_MODULE = 'kafkajs/src/protocol/recordBatch/v0';

/** RFC 3720 (iSCSI) B.4 test vectors, and the customary check value of "123456789". */
export const CRC32C_VECTORS: ReadonlyArray<readonly [string, Buffer, number]> = [
  ['32 bytes of zeros', Buffer.alloc(32, 0x00), 0x8a9136aa],
  ['32 bytes of 0xff', Buffer.alloc(32, 0xff), 0x62a8ab43],
  ['32 incrementing bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
  ['32 decrementing bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c],
  ['"123456789"', Buffer.from('123456789'), 0xe3069283],
];

/** The native CRC-32C, or null when `@node-rs/crc32` cannot load here. */
export function nativeCrc32c(): Crc32c | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional native module
    const { crc32c } = require('@node-rs/crc32') as { crc32c: (input: Buffer, seed?: number) => number };
    return (buffer) => crc32c(buffer) >>> 0;
  } catch {
    return null;
  }
}

/** Whether `candidate` computes CRC-32C: the vectors, and `reference` on a spread of lengths. */
export function agreesWithCrc32c(candidate: Crc32c, reference: Crc32c): boolean {
  if (!CRC32C_VECTORS.every(([, input, expected]) => candidate(input) === expected)) return false;
  const sample = Buffer.from(Array.from({ length: 4099 }, (_, i) => (i * 131 + 7) & 0xff));
  return [0, 1, 7, 8, 9, 63, 64, 1000, 4099].every(
    (n) => candidate(sample.subarray(0, n)) === reference(sample.subarray(0, n)),
  );
}

export type Crc32cInstall =
  { readonly installed: true } | { readonly installed: false; readonly reason: string };

let outcome: Crc32cInstall | null = null;
/** The function put into kafkajs, to tell it apart from kafkajs' own. */
let installedFn: Crc32c | null = null;

/** Puts the native CRC-32C into kafkajs once (see the top of this file); says whether it did. */
export function installKafkajsNativeCrc32c(): Crc32cInstall {
  outcome ??= install();
  return outcome;
}

function install(): Crc32cInstall {
  const native = nativeCrc32c();
  if (!native) return { installed: false, reason: '@node-rs/crc32 is not available on this platform' };
  let crcPath: string;
  let encoderPath: string;
  try {
    crcPath = require.resolve(CRC_MODULE);
    encoderPath = require.resolve(ENCODER_MODULE);
  } catch {
    return { installed: false, reason: 'kafkajs has no recordBatch/crc32C module (changed internals)' };
  }
  if (require.cache[encoderPath])
    return { installed: false, reason: "kafkajs' record-batch encoder was loaded before the swap" };
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- kafkajs exports no path to it
  const own = require(crcPath) as unknown;
  const entry = require.cache[crcPath];
  if (typeof own !== 'function' || !entry)
    return { installed: false, reason: 'kafkajs has no recordBatch/crc32C module (changed internals)' };
  if (!agreesWithCrc32c(native, own as Crc32c))
    return { installed: false, reason: "@node-rs/crc32 disagrees with kafkajs' CRC-32C" };
  entry.exports = native;
  installedFn = native;
  return { installed: true };
}

/** Whether kafkajs' checksum module is now the native one (what its encoder gets when it loads). */
export function kafkajsUsesNativeCrc32c(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- kafkajs exports no path to it
    return installedFn !== null && require(CRC_MODULE) === installedFn;
  } catch {
    return false;
  }
}
