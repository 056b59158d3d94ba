// Load generation with autocannon's programmatic API. autocannon's own latency histogram has 1 ms
// resolution (integer HDR histogram), far too coarse for sub-millisecond proxy overheads, so every
// response time (a float in ms from process.hrtime) is collected here and percentiles are computed
// from the raw samples.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** autocannon, or a clear message on how to get it. */
export function loadAutocannon() {
  try {
    return require('autocannon');
  } catch {
    throw new Error(
      'autocannon is not installed: run `npm install -D autocannon` (it is a devDependency of the repo; `npm ci` installs it)',
    );
  }
}

/** Headers every generated request carries (the router benchmark puts its router API key here). */
const defaultHeaders = {};
export function setDefaultHeaders(headers) {
  Object.assign(defaultHeaders, headers);
}

/** A JSON POST to `u` over an undici pool, with the default headers. */
function postJson(pool, u, body, headers = {}) {
  return pool.request({
    path: u.pathname,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...defaultHeaders, ...headers },
    body,
  });
}

export function percentile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat and /proc/stat count CPU time in these ticks.

function childPids(pid) {
  const out = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`))
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/))
        if (c) out.push(Number(c));
  } catch {
    // gone, or no children file
  }
  return out;
}

function ownTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
}

/** CPU time (user + system, ms, all threads) of a process and all its descendants (nginx: master + worker). */
export function cpuMs(pid) {
  if (!pid) return null;
  try {
    let ticks = 0;
    const stack = [pid];
    while (stack.length) {
      const p = stack.pop();
      ticks += ownTicks(p);
      stack.push(...childPids(p));
    }
    return (ticks * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/**
 * How long a process's main thread has waited, runnable, for a CPU (ms; /proc/<pid>/task/<pid>/schedstat,
 * second field): time it lost to other threads and processes on its core, not time it spent working.
 */
export function runDelayMs(pid) {
  if (!pid) return null;
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return null;
  }
}

/** Share of a window the peer's main thread spent runnable but not running (% of wall time). */
function waiting(d0, d1, s0, s1) {
  return { runDelayPct: d0 === null || d1 === null ? null : (100 * (d1 - d0)) / (s1.at - s0.at) };
}

/** The Kafka broker started by scripts/services/kafka.sh: its CPU is caused by the router rows, not noise. */
let brokerPid;
function kafkaBrokerPid() {
  if (brokerPid !== undefined) return brokerPid;
  brokerPid = null;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('kafka.Kafka')) brokerPid = Number(d);
    } catch {
      // exited meanwhile
    }
  }
  return brokerPid;
}

/** Processes of the benchmark whose CPU share is worth reporting per measurement (e.g. the control plane). */
const watched = {};
export function watch(name, pid) {
  watched[name] = pid;
}

/** Machine-wide busy and steal time (ms, summed over CPUs), this benchmark's process tree, the broker. */
function snapshot() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const broker = kafkaBrokerPid();
  return {
    busy: ((f[0] + f[1] + f[2] + f[5] + f[6]) * 1000) / CLK_TCK,
    steal: ((f[7] ?? 0) * 1000) / CLK_TCK,
    ours: cpuMs(process.pid) ?? 0,
    broker: (broker && cpuMs(broker)) || 0,
    watched: Object.fromEntries(Object.entries(watched).map(([k, pid]) => [k, cpuMs(pid) ?? 0])),
    at: performance.now(),
  };
}

/**
 * CPU used during a window by processes that are not part of this benchmark (other people's tests,
 * PostgreSQL, the kernel…), by the Kafka broker, and stolen by the hypervisor; in % of one core.
 */
function background(a, b) {
  const wall = b.at - a.at;
  const brokerMs = b.broker - a.broker;
  const foreign = b.busy - a.busy - (b.ours - a.ours) - brokerMs;
  return {
    foreignPct: Math.max(0, (100 * foreign) / wall),
    brokerPct: (100 * brokerMs) / wall,
    stealPct: (100 * (b.steal - a.steal)) / wall,
    watchedPct: Object.fromEntries(
      Object.keys(b.watched).map((k) => [k, (100 * (b.watched[k] - (a.watched[k] ?? 0))) / wall]),
    ),
  };
}

/**
 * One closed-loop run: `connections` keep-alive connections, each sending the next request as soon as
 * the previous answer arrived, for `seconds`. Returns raw-sample percentiles (ms) and req/s of 2xx answers.
 */
export function run(
  autocannon,
  { url, body, bodies, connections, seconds, headers = {}, overallRate, keepSamples = false },
) {
  return new Promise((resolve, reject) => {
    const latencies = [];
    let non2xx = 0;
    let next = -1;
    const started = performance.now();
    const instance = autocannon(
      {
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...defaultHeaders, ...headers },
        body,
        // A different body per request (e.g. one user after another), cycling through `bodies`.
        ...(bodies
          ? {
              requests: [
                {
                  setupRequest: (req) => {
                    req.body = bodies[(next = (next + 1) % bodies.length)];
                    return req;
                  },
                },
              ],
            }
          : {}),
        connections,
        pipelining: 1,
        duration: seconds,
        timeout: 10,
      },
      (err, result) => {
        if (err) return reject(err);
        const elapsedS = (performance.now() - started) / 1000;
        const sorted = Float64Array.from(latencies).sort();
        let sum = 0;
        for (const v of sorted) sum += v;
        resolve({
          connections,
          seconds: elapsedS,
          count: sorted.length,
          rps: sorted.length / elapsedS,
          mean: sum / sorted.length,
          p50: percentile(sorted, 0.5),
          p90: percentile(sorted, 0.9),
          p99: percentile(sorted, 0.99),
          max: sorted.length ? sorted[sorted.length - 1] : NaN,
          non2xx,
          errors: result.errors + result.timeouts,
          ...(keepSamples ? { samples: sorted } : {}),
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
      else non2xx++;
    });
  });
}

/** Percentiles etc. of several runs taken together (e.g. interleaved rounds of one scenario). */
export function pool(runs) {
  const all = new Float64Array(runs.reduce((n, r) => n + r.samples.length, 0));
  let o = 0;
  for (const r of runs) {
    all.set(r.samples, o);
    o += r.samples.length;
  }
  all.sort();
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  const sum = all.reduce((n, v) => n + v, 0);
  const avg = (k) => runs.reduce((n, r) => n + (r[k] ?? 0) * r.seconds, 0) / seconds;
  const cpu = runs.every((r) => r.cpuUsPerReq !== null)
    ? runs.reduce((n, r) => n + r.cpuUsPerReq * r.count, 0) / all.length
    : null;
  return {
    connections: runs[0].connections,
    seconds,
    count: all.length,
    rps: all.length / seconds,
    mean: sum / all.length,
    p50: percentile(all, 0.5),
    p90: percentile(all, 0.9),
    p99: percentile(all, 0.99),
    max: all.length ? all[all.length - 1] : NaN,
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    cpuUsPerReq: cpu,
    foreignPct: avg('foreignPct'),
    brokerPct: avg('brokerPct'),
    stealPct: avg('stealPct'),
    runDelayPct: avg('runDelayPct'),
    roundsP99: runs.map((r) => r.p99),
    roundsLoopLagMaxMs: runs.map((r) => r.loopLagMaxMs ?? NaN),
    roundsP50: runs.map((r) => r.p50),
  };
}

/** A warm-up run (discarded), then a measured run; with the peer's CPU time per answered request. */
export async function measure(autocannon, { warmupSeconds, warmupConnections, pid, ...opts }) {
  if (warmupSeconds > 0)
    await run(autocannon, {
      ...opts,
      keepSamples: false,
      connections: warmupConnections ?? opts.connections,
      seconds: warmupSeconds,
    });
  const cpu0 = cpuMs(pid);
  const d0 = runDelayMs(pid);
  const s0 = snapshot();
  const r = await run(autocannon, opts);
  const s1 = snapshot();
  const cpu1 = cpuMs(pid);
  const d1 = runDelayMs(pid);
  const cpuUsPerReq =
    cpu0 === null || cpu1 === null || r.count === 0 ? null : ((cpu1 - cpu0) * 1000) / r.count;
  return { ...r, cpuUsPerReq, ...background(s0, s1), ...waiting(d0, d1, s0, s1) };
}

/**
 * Paced load: requests are scheduled at a fixed rate (evenly spaced) whatever the answers do, over at most
 * `connections` keep-alive connections; a request that finds every connection busy waits for one. Latency is
 * counted from the scheduled send time, so waiting caused by a slow server is not hidden (no coordinated
 * omission). autocannon's own rate limit is not used: it sends each second's quota as fast as it can and then
 * idles, which is a burst, not a rate.
 */
export async function paced({
  url,
  body,
  rate,
  seconds,
  connections,
  headers: extra = {},
  keepSamples = false,
}) {
  const { Pool } = require('undici');
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const headers = { 'content-type': 'application/json', ...defaultHeaders, ...extra };
  const latencies = [];
  let non2xx = 0;
  let errors = 0;
  let inFlight = 0;
  const waiting = [];
  const pending = new Set();
  const send = (scheduled) => {
    inFlight++;
    const p = pool
      .request({ path: u.pathname, method: 'POST', headers, body })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) latencies.push(performance.now() - scheduled);
        else non2xx++;
      })
      .catch(() => errors++)
      .finally(() => {
        inFlight--;
        pending.delete(p);
        const next = waiting.shift();
        if (next !== undefined) send(next);
      });
    pending.add(p);
  };
  const interval = 1000 / rate;
  const started = performance.now();
  const end = started + seconds * 1000;
  for (let next = started; next < end; next += interval) {
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (inFlight < connections) send(next);
    else waiting.push(next);
  }
  while (waiting.length > 0 || pending.size > 0) await Promise.race([...pending]);
  const elapsedS = (performance.now() - started) / 1000;
  await pool.close();
  const sorted = Float64Array.from(latencies).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    connections,
    rate,
    seconds: elapsedS,
    count: sorted.length,
    rps: sorted.length / elapsedS,
    mean: sum / sorted.length,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    non2xx,
    errors,
    ...(keepSamples ? { samples: sorted } : {}),
  };
}

/** `paced` with a warm-up and the same CPU / background accounting as `measure`. */
export async function measurePaced({ warmupSeconds, pid, ...opts }) {
  if (warmupSeconds > 0) await paced({ ...opts, seconds: warmupSeconds, keepSamples: false });
  const cpu0 = cpuMs(pid);
  const d0 = runDelayMs(pid);
  const s0 = snapshot();
  const r = await paced(opts);
  const s1 = snapshot();
  const cpu1 = cpuMs(pid);
  const d1 = runDelayMs(pid);
  const cpuUsPerReq =
    cpu0 === null || cpu1 === null || r.count === 0 ? null : ((cpu1 - cpu0) * 1000) / r.count;
  return { ...r, cpuUsPerReq, ...background(s0, s1), ...waiting(d0, d1, s0, s1) };
}

/**
 * Anatomy of the router's latency at concurrency 1: each answer's `server-timing` header says how long the
 * router spent between starting to handle the request and writing the answer (`total`) and how long the
 * upstream took to its first byte (`upstream`). Client time minus `total` is spent outside the handler:
 * waiting for the event loop (work left over from earlier requests, GC, timers), HTTP parsing and the
 * write back. Returns the typical (middle 50%) and the slowest 1% of requests, averaged.
 */
export async function anatomy({ url, body, seconds, headers = {} }) {
  const { Pool } = require('undici');
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: 1, pipelining: 1 });
  const rows = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t = performance.now();
    const res = await postJson(pool, u, body, headers);
    await res.body.dump();
    const client = performance.now() - t;
    const st = String(res.headers['server-timing'] ?? '');
    const dur = (name) => Number(new RegExp(`${name};dur=([0-9.]+)`).exec(st)?.[1] ?? NaN);
    if (res.statusCode === 200) rows.push({ client, total: dur('total'), upstream: dur('upstream') });
  }
  await pool.close();
  rows.sort((a, b) => a.client - b.client);
  const avg = (list) => {
    const m = (k) => list.reduce((n, r) => n + r[k], 0) / list.length;
    const client = m('client');
    const total = m('total');
    const upstream = m('upstream');
    return { n: list.length, client, upstream, handler: total - upstream, outside: client - total };
  };
  return {
    count: rows.length,
    typical: avg(rows.slice(Math.floor(rows.length * 0.25), Math.ceil(rows.length * 0.75))),
    slowest: avg(rows.slice(Math.floor(rows.length * 0.99))),
  };
}

/**
 * Streams in a closed loop: `streams` concurrent streamed requests (each sending the next when its
 * stream ended), for `seconds`. Time to first token is from sending the request to the first body
 * chunk carrying content (`"content":"x`, not the empty role chunk); percentiles in ms.
 */
export async function streams({ url, body, streams: n, seconds, headers = {} }) {
  const { Pool } = require('undici');
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: n, pipelining: 1, keepAliveTimeout: 30_000 });
  const ttft = [];
  const total = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const FIRST = /"content":"[^"]/;
  const one = async () => {
    const t = performance.now();
    const res = await postJson(pool, u, body, headers);
    let first = null;
    let tail = '';
    for await (const chunk of res.body) {
      if (first === null) {
        tail = (tail + chunk.toString('utf8')).slice(-4096);
        if (FIRST.test(tail)) first = performance.now() - t;
      }
    }
    if (res.statusCode !== 200 || first === null) errors++;
    else {
      ttft.push(first);
      total.push(performance.now() - t);
    }
  };
  const worker = async () => {
    while (performance.now() < end) await one().catch(() => errors++);
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: n }, worker));
  const elapsedS = (performance.now() - started) / 1000;
  await pool.close();
  const stats = (xs) => {
    const sorted = Float64Array.from(xs).sort();
    return { p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99) };
  };
  return {
    streams: n,
    seconds: elapsedS,
    count: ttft.length,
    rps: ttft.length / elapsedS,
    errors,
    ttft: stats(ttft),
    total: stats(total),
  };
}

/** `streams` with a warm-up and the peer's CPU time per stream. */
export async function measureStreams({ warmupSeconds, pid, ...opts }) {
  if (warmupSeconds > 0) await streams({ ...opts, seconds: warmupSeconds });
  const cpu0 = cpuMs(pid);
  const s0 = snapshot();
  const r = await streams(opts);
  const s1 = snapshot();
  const cpu1 = cpuMs(pid);
  const cpuUsPerReq =
    cpu0 === null || cpu1 === null || r.count === 0 ? null : ((cpu1 - cpu0) * 1000) / r.count;
  return { ...r, cpuUsPerReq, ...background(s0, s1) };
}
