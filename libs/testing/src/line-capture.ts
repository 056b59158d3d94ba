import { Writable } from 'node:stream';

/** A stream a logger can write to in a test, and the lines written so far. */
export function lineCapture(): { readonly lines: string[]; readonly output: Writable } {
  const lines: string[] = [];
  const output = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, output };
}
