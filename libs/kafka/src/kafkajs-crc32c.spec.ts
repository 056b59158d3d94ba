import {
  CRC32C_VECTORS,
  agreesWithCrc32c,
  installKafkajsNativeCrc32c,
  kafkajsUsesNativeCrc32c,
  nativeCrc32c,
  type Crc32c,
} from './kafkajs-crc32c';

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs' internals have no typed paths */
/** kafkajs' own byte-at-a-time CRC-32C (the function itself, not the module that is swapped). */
const kafkajsCrc32c = (): Crc32c => {
  const raw = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C') as Crc32c;
  return (b) => raw(b) >>> 0;
};

/** kafkajs' record-batch encoder (v2 message format), loaded after the swap like in production. */
type EncodeBatch = (o: { records: object[] }) => Promise<{ buffer: Buffer }>;
type EncodeRecord = (o: { key: string; value: Buffer; offsetDelta: number; headers: object }) => object;
/* eslint-enable @typescript-eslint/no-require-imports */

describe("kafkajs' record-batch checksum", () => {
  const native = nativeCrc32c();

  it('has the native CRC-32C on this platform', () => expect(native).not.toBeNull());

  it.each(CRC32C_VECTORS)('computes CRC-32C of %s, natively and in kafkajs', (_what, input, expected) => {
    expect(native!(input)).toBe(expected);
    expect(kafkajsCrc32c()(input)).toBe(expected);
  });

  it.each([
    ['one that ignores its input', () => 0],
    ['CRC-32C off by one bit', (b: Buffer) => (native!(b) ^ 1) >>> 0],
    ['one that is right only on short inputs', (b: Buffer) => (b.length < 64 ? native!(b) : 0)],
  ])('refuses a checksum function that is not CRC-32C: %s', (_what, candidate) => {
    expect(agreesWithCrc32c(candidate, kafkajsCrc32c())).toBe(false);
  });

  it("agrees with kafkajs' own CRC-32C", () => {
    expect(agreesWithCrc32c(native!, kafkajsCrc32c())).toBe(true);
  });

  it("leaves kafkajs' checksum alone until installed", () => expect(kafkajsUsesNativeCrc32c()).toBe(false));

  describe('once installed', () => {
    beforeAll(() => expect(installKafkajsNativeCrc32c()).toEqual({ installed: true }));

    it("is what kafkajs' checksum module gives its encoder", () => {
      expect(kafkajsUsesNativeCrc32c()).toBe(true);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const crc = require('kafkajs/src/protocol/recordBatch/crc32C') as Crc32c;
      const sample = Buffer.from('the native checksum is in place');
      expect(crc(sample)).toBe(kafkajsCrc32c()(sample));
    });

    it('writes record batches whose CRC field is the CRC-32C of the bytes after it', async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: EncodeBatch };
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const record = require('kafkajs/src/protocol/recordBatch/record/v0') as EncodeRecord;
      const value = Buffer.from(JSON.stringify({ type: 'outcome', text: 'é'.repeat(3000) }));
      const records = Array.from({ length: 20 }, (_, i) =>
        record({ key: `k${i}`, value, offsetDelta: i, headers: {} }),
      );
      const { buffer } = await RecordBatch({ records });
      expect(buffer.length).toBeGreaterThan(20 * value.length);
      // FirstOffset int64, Length int32, PartitionLeaderEpoch int32, Magic int8, then CRC int32 over
      // everything from Attributes to the end.
      expect(buffer.readUInt32BE(17)).toBe(kafkajsCrc32c()(buffer.subarray(21)));
    });

    it('installs once and says so again', () => {
      expect(installKafkajsNativeCrc32c()).toEqual({ installed: true });
    });
  });
});
