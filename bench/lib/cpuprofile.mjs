// Summarises a V8 .cpuprofile (node --cpu-prof): where a process spends its busy CPU time, by
// component (router code, Aviary libs, each npm package, Node internals, GC) and by function, self and
// inclusive. Usage as a CLI: node bench/lib/cpuprofile.mjs <file.cpuprofile> [topN]
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

/** dist/apps/router/src/x.js → apps/router/src/x.ts; node_modules/<pkg>/… → <pkg>; node:… stays. */
function where(url) {
  if (!url) return null;
  const dist = /\/dist\/((?:apps|libs)\/.+)\.js$/.exec(url);
  if (dist) return `${dist[1]}.ts`;
  const mod = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.+)$/.exec(url);
  if (mod) return `${mod[1]}/${mod[2]}`;
  return url.replace(/^file:\/\//, '');
}

/** Source maps of dist/*.js (tsc writes them next to the JS), so frames point at TypeScript lines. */
const maps = new Map();
function tsLine(url, line0, col0) {
  if (!/\/dist\/(?:apps|libs)\/.+\.js$/.test(url)) return null;
  let map = maps.get(url);
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, 'utf8')));
    } catch {
      map = null;
    }
    maps.set(url, map);
  }
  const entry = map?.findEntry(line0, Math.max(0, col0));
  return entry && typeof entry.originalLine === 'number' ? entry.originalLine + 1 : null;
}

function component(url, name) {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return 'V8/native (program)';
  if (name === '(idle)') return 'idle';
  if (!url) return 'native/builtins';
  if (url.includes('/dist/apps/router/')) return 'router (apps/router)';
  if (url.includes('/dist/libs/')) return `aviary libs (${/\/dist\/libs\/([^/]+)/.exec(url)?.[1]})`;
  const mod = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (mod) return `npm: ${mod[1]}`;
  if (url.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([^/]+)/.exec(url);
    return `node: ${m?.[1] ?? url}`;
  }
  return 'other';
}

/**
 * `window` ({ fromUs, toUs }, CLOCK_MONOTONIC µs as from process.hrtime.bigint() / 1000n in any process
 * on the machine, the clock V8 stamps profiles with) keeps only the samples taken inside it, e.g. the
 * measured load without start-up and warm-up.
 */
const R = '/dist/apps/router/src/';
const has =
  (...parts) =>
  (url) =>
    parts.some((p) => url.includes(p));
/** Router concerns, highest priority first: a sample counts for the first one present on its stack. */
export const CONCERNS = [
  {
    name: 'evidence to Kafka (libs/kafka publisher, kafkajs)',
    test: has('/node_modules/kafkajs/', '/dist/libs/kafka/'),
  },
  {
    name: 'shadow copy (apps/router/src/shadow: 2nd upstream call, parse, classify, pair event)',
    test: has(`${R}shadow/`),
  },
  {
    name: 'Prometheus metrics (RouterMetrics.record, prom-client)',
    test: has(`${R}evidence/router-metrics`, '/node_modules/prom-client/'),
  },
  { name: 'request ids (RequestIds.issue: randomBytes + HMAC)', test: has(`${R}feedback/`) },
  {
    name: 'flag evaluation (FlagRouting.resolve, unleash-client)',
    test: has(`${R}routing/flag-routing`, '/node_modules/unleash-client/', '/dist/libs/flags/'),
  },
  { name: 'stickiness key (randomBytes / sha1)', test: has(`${R}routing/stickiness`) },
  {
    name: 'response parsing + classification (endpoint readers, answers/, refusal regexes)',
    test: has(
      `${R}answers/`,
      '.reader.js',
      `libs/domain/src/comparison/refusal-detector`,
      '/node_modules/ajv/',
    ),
  },
  {
    name: 'evidence events (EvidenceRecorder: outcome and pair events)',
    test: has(`${R}evidence/evidence-recorder`),
  },
  {
    name: 'request parsing (readBody, endpoint adapters)',
    test: has(`${R}http/read-body`, `${R}endpoints/`),
  },
  {
    name: 'upstream call (UpstreamClient, limiter, undici)',
    test: has(`${R}upstream/`, '/node_modules/undici/'),
  },
  {
    name: 'node:http server, sockets, streams, timers (any proxy pays these)',
    test: (url) => url.startsWith('node:'),
  },
  { name: 'GC', test: (_url, fn) => fn === '(garbage collector)' },
  { name: 'router request handling itself (proxy-handler, router.ts)', test: has('/dist/apps/router/') },
];

export function summarizeProfile(profile, topN = 15, window = null) {
  const nodes = new Map();
  const parent = new Map();
  for (const n of profile.nodes) {
    nodes.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const concernCache = new Map();
  const concernOf = (id) => {
    let name = concernCache.get(id);
    if (name !== undefined) return name;
    let best = CONCERNS.length;
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const f = nodes.get(cur).callFrame;
      const i = CONCERNS.findIndex((c) => c.test(f.url ?? '', f.functionName));
      if (i !== -1 && i < best) best = i;
      if (best === 0) break;
    }
    name = best < CONCERNS.length ? CONCERNS[best].name : 'other (V8/native, microtask plumbing)';
    concernCache.set(id, name);
    return name;
  };
  const self = new Map(); // node id → µs
  const { samples, timeDeltas } = profile;
  let t = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    const dt = Math.max(0, timeDeltas[i] ?? 0);
    t += timeDeltas[i] ?? 0;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
  }
  const key = (n) => {
    const f = n.callFrame;
    const loc = where(f.url);
    const line = tsLine(f.url, f.lineNumber, f.columnNumber) ?? f.lineNumber + 1;
    return `${f.functionName || '(anonymous)'}${loc ? ` ${loc}:${line}` : ''}`;
  };
  let total = 0;
  let idle = 0;
  const byComponent = new Map();
  const bySelf = new Map();
  const byInclusive = new Map();
  for (const [id, us] of self) {
    const n = nodes.get(id);
    total += us;
    const f = n.callFrame;
    if (f.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const comp = component(f.url, f.functionName);
    byComponent.set(comp, (byComponent.get(comp) ?? 0) + us);
    const k = key(n);
    bySelf.set(k, (bySelf.get(k) ?? 0) + us);
    // Inclusive: every distinct Aviary function on the stack gets this sample once.
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const cn = nodes.get(cur);
      const url = cn.callFrame.url ?? '';
      if (!url.includes('/dist/')) continue;
      const ck = key(cn);
      if (seen.has(ck)) continue;
      seen.add(ck);
      byInclusive.set(ck, (byInclusive.get(ck) ?? 0) + us);
    }
  }
  const busy = total - idle;
  // Attribution: each busy sample goes to the highest-priority concern found anywhere on its stack.
  const byConcern = new Map();
  for (const [id, us] of self) {
    if (nodes.get(id).callFrame.functionName === '(idle)') continue;
    const name = concernOf(id);
    byConcern.set(name, (byConcern.get(name) ?? 0) + us);
  }
  const top = (m, n) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / busy }));
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    byComponent: top(byComponent, 25),
    byConcern: top(byConcern, CONCERNS.length + 1),
    topSelf: top(bySelf, topN),
    topInclusive: top(byInclusive, topN),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/lib/cpuprofile.mjs <file.cpuprofile> [topN]');
    process.exit(2);
  }
  const s = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), Number(process.argv[3] ?? 20));
  const line = (r) => `${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`;
  console.log(`busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled\n\nby component:`);
  for (const r of s.byComponent) console.log(line(r));
  console.log('\nby concern:');
  for (const r of s.byConcern) console.log(line(r));
  console.log('\ntop self time:');
  for (const r of s.topSelf) console.log(line(r));
  console.log('\ntop inclusive (Aviary code):');
  for (const r of s.topInclusive) console.log(line(r));
}
