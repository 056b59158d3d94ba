#!/usr/bin/env node
// What this Node's V8 keeps through young-generation GCs, for object shapes the router used per
// request. Each case runs in its own `node --trace-gc-nvp` child: a loop that makes ~1,000 small
// garbage objects and 50 objects of the case per turn of the event loop, keeping none of them, for
// 2 s. A case that V8 handles well promotes ~0 bytes per scavenge; the cases the router had on its
// request path (an object spread followed by more keys, an `AbortSignal` per request) promoted
// ~1 MB per scavenge, which is what made the router's scavenges long (docs/benchmarks.md).
//
//   node bench/v8-promotion.mjs            # every case
//   node bench/v8-promotion.mjs spreadThenKeys plainLiteral
import { spawnSync } from 'node:child_process';

const CASES = {
  plainLiteral: '(v) => ({ name: v.name, enabled: v.enabled, payload: v.payload, x: 1 })',
  spreadThenKeys: '(v) => ({ ...v, x: 1 })',
  spreadCopyThenKey: '(v) => { const o = { ...v }; o.x = 1; return o; }',
  keysThenSpread: '(v) => ({ x: 1, ...v })',
  spreadOnly: '(v) => ({ ...v })',
  objectAssign: '(v) => Object.assign({}, v, { x: 1 })',
  abortController: '() => new AbortController()',
  abortSignal: '() => new AbortController().signal',
};

const child = (body) => `
const make = ${body};
const out = [];
function turn() {
  for (let i = 0; i < 50; i++) {
    const junk = [];
    for (let k = 0; k < 20; k++) junk.push({ k });
    out[i] = make({ name: 'a', enabled: true, payload: null });
  }
  setImmediate(turn);
}
turn();
setTimeout(() => process.exit(0), 2000);
`;

const wanted = process.argv.slice(2);
const names = wanted.length ? wanted : Object.keys(CASES);
console.log(`node ${process.version} (V8 ${process.versions.v8})`);
console.log('case                scavenges  promoted per scavenge  pause per scavenge');
for (const name of names) {
  const body = CASES[name];
  if (!body) throw new Error(`unknown case ${name}; cases: ${Object.keys(CASES).join(', ')}`);
  const r = spawnSync(process.execPath, ['--trace-gc-nvp', '-e', child(body)], { encoding: 'utf8' });
  const scavenges = r.stdout
    .split('\n')
    .filter((l) => / gc=s /.test(l))
    .map((l) =>
      Object.fromEntries(
        l
          .split(/\s+/)
          .map((p) => p.split('='))
          .filter((a) => a.length === 2),
      ),
    );
  const n = scavenges.length || 1;
  const promoted = scavenges.reduce((s, x) => s + Number(x.promoted ?? 0), 0) / n;
  const pause = scavenges.reduce((s, x) => s + Number(x.pause ?? 0), 0) / n;
  console.log(
    `${name.padEnd(20)}${String(scavenges.length).padStart(9)}  ${(promoted / 1024).toFixed(0).padStart(16)} KB  ${pause.toFixed(2).padStart(15)} ms`,
  );
}
if (!wanted.length)
  console.log(
    '\n(a case is pathological when it promotes hundreds of KB per scavenge; see docs/benchmarks.md)',
  );
