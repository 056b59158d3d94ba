// Preload for a router under the benchmark: V8's sampling heap profiler, started after a warm-up and
// written to a .heapprofile (open it in Chrome DevTools → Memory, or summarise it with
// `node bench/heap-sampling-summary.mjs <file>`). With AVIARY_HEAP_SAMPLING_SURVIVORS=1 only objects
// that lived through a young-generation GC are sampled (promoted, or still alive at the end): the
// allocation sites that feed the scavenges' copying and the old generation.
//
//   node bench/router-bench.mjs --quick --peers router-kafka --no-profile --no-write \
//     "--router-node-options=--import=./bench/lib/heap-sampling.mjs"
//
// Environment: AVIARY_HEAP_SAMPLING_START_MS (default 14000), AVIARY_HEAP_SAMPLING_MS (8000),
// AVIARY_HEAP_SAMPLING_DIR (the OS temp dir), AVIARY_HEAP_SAMPLING_SURVIVORS (0).
import inspector from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const startMs = Number(process.env.AVIARY_HEAP_SAMPLING_START_MS ?? 14_000);
const durationMs = Number(process.env.AVIARY_HEAP_SAMPLING_MS ?? 8_000);
const dir = process.env.AVIARY_HEAP_SAMPLING_DIR ?? tmpdir();
const survivorsOnly = process.env.AVIARY_HEAP_SAMPLING_SURVIVORS === '1';

const session = new inspector.Session();
session.connect();
const post = (method, params = {}) =>
  new Promise((resolve, reject) =>
    session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))),
  );

setTimeout(async () => {
  try {
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: !survivorsOnly,
    });
    setTimeout(async () => {
      const { profile } = await post('HeapProfiler.stopSampling');
      const file = join(dir, `aviary-heap-${survivorsOnly ? 'survivors' : 'all'}-${process.pid}.heapprofile`);
      writeFileSync(file, JSON.stringify(profile));
      process.stderr.write(`heap sampling profile written to ${file}\n`);
    }, durationMs).unref();
  } catch (err) {
    process.stderr.write(`heap sampling failed: ${String(err)}\n`);
  }
}, startMs).unref();
