// Turns the benchmark's raw results into the console summary and docs/benchmarks.md.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
/** prom-client's eventLoopMonitoringPrecision default; the router does not change it. */
const EVENT_LOOP_PROBE_MS = 10;

const ms = (v) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const us = (v) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${Math.round(v * 1000)}` : 'n/a');
const x = (v) => (Number.isFinite(v) && v > 0 ? `${v.toFixed(2)}x` : 'n/a');
const int = (v) => (Number.isFinite(v) ? String(Math.round(v)) : 'n/a');
const signed = (v) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${Math.round(v)}` : 'n/a');
const pct = (v) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(1)}%` : 'n/a');

/** Kafka broker / other processes' CPU during a measurement, in % of one core. */
const bg = (m) => `${int(m.brokerPct)} / ${int(m.foreignPct)}`;
/** % of the window the peer's main thread was runnable but waiting for a CPU. */
const wait = (m) => (Number.isFinite(m.runDelayPct) ? m.runDelayPct.toFixed(1) : 'n/a');

const TARGET_ROWS = ['router-kafka', 'router-inproc'];

/** The numbers every view needs: added latency, ratios, targets. */
export function analyse(r) {
  const byId = Object.fromEntries(r.peers.map((p) => [p.id, p]));
  const direct = byId['direct'];
  // Against the direct run taken just before this peer's (paired), not the one minutes earlier.
  const added = (p) => {
    const d = p.pairedDirect ?? direct.c1;
    return { p50: p.c1.p50 - d.p50, p99: p.c1.p99 - d.p99 };
  };
  const rows = r.peers.map((p) => {
    const a = added(p);
    const floor = byId['undici'] && p.id !== 'undici' && p.id !== 'direct' ? added(byId['undici']) : null;
    const ng = byId['nginx'] && p.id !== 'nginx' && p.id !== 'direct' ? added(byId['nginx']) : null;
    const ratio = (num, den) => (den && den > 0 && p.id !== 'direct' ? num / den : NaN);
    const tp = (other) => (p.best && other?.best && p.id !== other.id ? p.best.rps / other.best.rps : NaN);
    return {
      ...p,
      added: a,
      vsUndiciP50: ratio(a.p50, floor?.p50),
      vsUndiciP99: ratio(a.p99, floor?.p99),
      vsNginxP50: ratio(a.p50, ng?.p50),
      vsNginxP99: ratio(a.p99, ng?.p99),
      tpVsDirect: tp(direct),
      tpVsUndici: tp(byId['undici']),
      tpVsNginx: tp(byId['nginx']),
    };
  });
  const rowById = Object.fromEntries(rows.map((p) => [p.id, p]));
  const routerRow = TARGET_ROWS.map((id) => rowById[id]).find(Boolean);
  const undici = rowById['undici'];
  const targets = [];
  const paired = pairedSummary(r.paired);
  if (routerRow && undici) {
    const limit = 1.5 * undici.added.p50;
    const single = `router ${us(routerRow.added.p50)} µs vs floor ${us(undici.added.p50)} µs (limit ${us(limit)} µs): ${x(routerRow.vsUndiciP50)}`;
    // The Kafka row's verdict rests on the paired rounds when they ran (see pairedRounds): the floor's
    // single c=1 window above can land on a slow stretch as easily as the router's.
    const pr = routerRow.id === 'router-kafka' ? paired?.c1Shadow : null;
    targets.push({
      name: `Router added p50 ≤ 1.5x the undici floor's added p50 (${routerRow.label}, concurrency 1)`,
      detail: pr
        ? `median of ${pr.values.length} paired rounds ${x(pr.median)} (rounds ${pr.values.map((v) => x(v)).join(', ')}); the single pass above: ${single}`
        : single,
      met: pr ? pr.median <= 1.5 : routerRow.added.p50 <= limit,
    });
    for (const id of ['router-kafka-noshadow', 'router-inproc', 'router-inproc-noshadow']) {
      const p = rowById[id];
      if (!p || p === routerRow) continue;
      targets.push({
        name: `same check for ${p.label}`,
        detail: `${us(p.added.p50)} µs: ${x(p.vsUndiciP50)} the floor (${p.added.p50 <= limit ? 'within' : 'over'} 1.5x)`,
        met: p.added.p50 <= limit,
        context: true,
      });
    }
  }
  // Throughput: the best closed-loop req/s with p99 < 10 ms, against the floor's.
  for (const [id, min] of [
    ['router-kafka-noshadow', 0.8],
    ['router-kafka', 0.5],
    ['router-inproc-noshadow', 0.8],
    ['router-inproc', 0.5],
  ]) {
    const p = rowById[id];
    const at16 = (row) => row?.levels?.find((l) => l.connections === 16)?.rps;
    if (!p || !at16(p) || !at16(undici)) continue;
    const ratio = at16(p) / at16(undici);
    const best =
      p.best && undici?.best
        ? `; best with p99 < 10 ms ${int(p.best.rps)} vs ${int(undici.best.rps)} req/s = ${x(p.tpVsUndici)}`
        : '';
    const single = `${int(at16(p))} vs ${int(at16(undici))} req/s = ${x(ratio)}${best}`;
    // The Kafka rows' verdicts rest on the paired rounds when they ran (see pairedRounds).
    const pr = id.startsWith('router-kafka')
      ? paired?.[id === 'router-kafka' ? 'tpShadow' : 'tpPlain']
      : null;
    targets.push({
      name: `Closed-loop throughput at 16 connections ≥ ${min}x the undici floor: ${p.label}`,
      detail: pr
        ? `median of ${pr.values.length} paired rounds ${x(pr.median)} (rounds ${pr.values.map((v) => x(v)).join(', ')}); the single pass above: ${single}`
        : single,
      met: (pr ? pr.median : ratio) >= min,
      context: id.startsWith('router-inproc') && Boolean(rowById['router-kafka']),
    });
  }
  // Streaming: time to first token at STREAMS concurrent streams, against the floor's.
  const streams = Object.fromEntries((r.streaming ?? []).map((s) => [s.id, s]));
  const sFloor = streams['undici'];
  for (const id of ['router-kafka', 'router-inproc']) {
    const sr = streams[id];
    if (!sr || !sFloor || (id === 'router-inproc' && streams['router-kafka'])) continue;
    const single = `p50 ${ms(sr.ttft.p50)} vs ${ms(sFloor.ttft.p50)} ms = ${signedMs(sr.ttft.p50 - sFloor.ttft.p50)} ms (p99 ${ms(sr.ttft.p99)} vs ${ms(sFloor.ttft.p99)} ms)`;
    const pr = id === 'router-kafka' ? paired?.ttftShadow : null;
    targets.push({
      name: `Streaming time to first token ≤ the floor + 2 ms at ${sr.streams} streams, with the shadow (${sr.label})`,
      detail: pr
        ? `median of ${pr.values.length} paired rounds ${signedMs(pr.median)} ms (rounds ${pr.values.map((v) => signedMs(v)).join(', ')} ms; without the shadow ${signedMs(paired.ttftPlain.median)} ms); the single pass above: ${single}`
        : single,
      met: (pr ? pr.median : sr.ttft.p50 - sFloor.ttft.p50) <= 2,
    });
  }
  let iso = null;
  if (r.isolation) {
    const healthy = r.isolation.scenarios.find((s) => s.id === 'healthy');
    iso = r.isolation.scenarios.map((s) => ({
      ...s,
      p50Ratio: s.result.p50 / healthy.result.p50,
      p90Ratio: s.result.p90 / healthy.result.p90,
      p99Ratio: s.result.p99 / healthy.result.p99,
    }));
    const hr = healthy.result.roundsP99;
    const spread =
      hr.length > 1
        ? `; the healthy rounds alone ranged ${ms(Math.min(...hr))}-${ms(Math.max(...hr))} ms`
        : '';
    if (hr.length > 1)
      targets.push({
        name: 'Healthy-shadow primary p99 stable across rounds (the largest round p99 at most 1.5x the smallest)',
        detail: `rounds ${hr.map((v) => ms(v)).join(', ')} ms: ${x(Math.max(...hr) / Math.min(...hr))}; longest event-loop probe gap per round ${healthy.result.roundsLoopLagMaxMs.map((v) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a')).join(', ')} ms`,
        met: Math.max(...hr) / Math.min(...hr) <= 1.5,
      });
    for (const s of iso.filter((s) => ['slow', 'errors', 'drops'].includes(s.id)))
      targets.push({
        name: `Primary p99 within 5% of the healthy-shadow p99: ${s.label.replace(/^\([iv]+\) /, '')}`,
        detail: `p99 ${ms(s.result.p99)} ms vs ${ms(healthy.result.p99)} ms = ${x(s.p99Ratio)} (${pct((s.p99Ratio - 1) * 100)})${spread}; p90 ${x(s.result.p90 / healthy.result.p90)}, p50 ${x(s.p50Ratio)}, router CPU per request ${x(s.result.cpuUsPerReq / healthy.result.cpuUsPerReq)}`,
        met: s.p99Ratio <= 1.05,
      });
  }
  return { rows, rowById, iso, targets, routerRow, paired, decomposition: decompose(rowById) };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Per-round ratios and differences of the paired rounds, with their medians. */
function pairedSummary(paired) {
  if (!paired?.rounds?.length) return null;
  const of = (f) => {
    const values = paired.rounds.map(f);
    return { values, median: median(values) };
  };
  return {
    tpPlain: of((r) => r.throughput.plain.rps / r.throughput.floor.rps),
    tpShadow: of((r) => r.throughput.shadow.rps / r.throughput.floor.rps),
    ttftShadow: of((r) => r.streams.shadow.ttft.p50 - r.streams.floor.ttft.p50),
    ttftPlain: of((r) => r.streams.plain.ttft.p50 - r.streams.floor.ttft.p50),
    // Results written before the rounds measured concurrency 1 have none.
    c1Shadow: paired.rounds.every((r) => r.c1) ? of(c1AddedRatio) : null,
    // Nor long requests, before those were measured.
    longPlain: paired.rounds.every((r) => r.long) ? of((r) => r.long.plain.rps / r.long.floor.rps) : null,
    longShadow: paired.rounds.every((r) => r.long) ? of((r) => r.long.shadow.rps / r.long.floor.rps) : null,
    steal: paired.rounds.map((r) => r.stealPct),
  };
}

/** The router's (shadow 1.0) added p50 at concurrency 1 over the floor's, both against the round's direct run. */
function c1AddedRatio(round) {
  const { direct, floor, shadow } = round.c1;
  return (shadow.p50 - direct.p50) / (floor.p50 - direct.p50);
}

function pairedTable(r) {
  const withC1 = r.paired.rounds.every((round) => round.c1);
  const withLong = r.paired.rounds.every((round) => round.long);
  const head = [
    'Round',
    'floor req/s',
    'no rollout req/s',
    'vs floor',
    'shadow 1.0 req/s',
    'vs floor',
    'floor TTFT p50 ms',
    'shadow 1.0 TTFT p50 ms',
    'vs floor ms',
    'no rollout TTFT p50 ms',
    'vs floor ms',
    ...(withC1
      ? ['c=1 direct p50 ms', 'c=1 floor added p50 µs', 'c=1 shadow 1.0 added p50 µs', 'vs floor']
      : []),
    ...(withLong
      ? ['long: floor req/s', 'no rollout req/s', 'vs floor', 'shadow 1.0 req/s', 'vs floor']
      : []),
    'hypervisor steal %',
  ];
  const rows = r.paired.rounds.map((round, i) => {
    const t = round.throughput;
    const s = round.streams;
    return [
      String(i + 1),
      int(t.floor.rps),
      int(t.plain.rps),
      x(t.plain.rps / t.floor.rps),
      int(t.shadow.rps),
      x(t.shadow.rps / t.floor.rps),
      ms(s.floor.ttft.p50),
      ms(s.shadow.ttft.p50),
      signedMs(s.shadow.ttft.p50 - s.floor.ttft.p50),
      ms(s.plain.ttft.p50),
      signedMs(s.plain.ttft.p50 - s.floor.ttft.p50),
      ...(withC1
        ? [
            ms(round.c1.direct.p50),
            us(round.c1.floor.p50 - round.c1.direct.p50),
            us(round.c1.shadow.p50 - round.c1.direct.p50),
            x(c1AddedRatio(round)),
          ]
        : []),
      ...(withLong
        ? [
            int(round.long.floor.rps),
            int(round.long.plain.rps),
            x(round.long.plain.rps / round.long.floor.rps),
            int(round.long.shadow.rps),
            x(round.long.shadow.rps / round.long.floor.rps),
          ]
        : []),
      Number.isFinite(round.stealPct) ? round.stealPct.toFixed(1) : 'n/a',
    ];
  });
  return { head, rows };
}

/** Differences between router rows at concurrency 1: what each feature adds, in latency and in CPU. */
function decompose(row) {
  const f = row['undici'];
  const core = row['router-inproc-noshadow'];
  const kPlain = row['router-kafka-noshadow'];
  const shadow = row['router-inproc'];
  const all = row['router-kafka'];
  if (!f || !core) return null;
  const step = (label, a, b) =>
    a && b
      ? [label, signed((b.added.p50 - a.added.p50) * 1000), signed(b.c1.cpuUsPerReq - a.c1.cpuUsPerReq)]
      : null;
  return [
    ['Node floor: undici pass-through (added vs direct)', signed(f.added.p50 * 1000), int(f.c1.cpuUsPerReq)],
    step('Aviary router itself: no rollout, in-process sink, minus the floor', f, core),
    step('Kafka, 1 event per request: no rollout, Kafka minus in-process', core, kPlain),
    step('Shadow at 1.0: in-process sink, shadow minus no rollout', core, shadow),
    step('Kafka with the shadow, 3 events per request: Kafka minus in-process', shadow, all),
    all
      ? [
          '= router, shadow 1.0 + Kafka (added vs direct)',
          signed(all.added.p50 * 1000),
          int(all.c1.cpuUsPerReq),
        ]
      : null,
  ].filter(Boolean);
}

function table(head, rows, align) {
  const a = align ?? head.map((_, i) => (i === 0 ? 'l' : 'r'));
  return [
    `| ${head.join(' | ')} |`,
    `| ${a.map((s) => (s === 'l' ? ':--' : '--:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function textTable(head, rows) {
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  const line = (r) =>
    r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

function latencyTable(a) {
  const head = [
    'Peer',
    'p50 ms',
    'p99 ms',
    'paired direct p50 / p99 ms',
    'added p50 µs',
    'added p99 µs',
    'added p50 vs undici',
    'added p50 vs nginx',
    'added p99 vs undici',
    'CPU µs/req',
    'req/s',
    'main thread waited for CPU %',
    'broker / other CPU %',
  ];
  const rows = a.rows.map((p) => [
    p.label,
    ms(p.c1.p50),
    ms(p.c1.p99),
    p.id === 'direct' ? '—' : `${ms(p.pairedDirect.p50)} / ${ms(p.pairedDirect.p99)}`,
    p.id === 'direct' ? '—' : us(p.added.p50),
    p.id === 'direct' ? '—' : us(p.added.p99),
    p.id === 'direct' || p.id === 'undici' ? '—' : x(p.vsUndiciP50),
    p.id === 'direct' || p.id === 'nginx' ? '—' : x(p.vsNginxP50),
    p.id === 'direct' || p.id === 'undici' ? '—' : x(p.vsUndiciP99),
    int(p.c1.cpuUsPerReq),
    int(p.c1.rps),
    wait(p.c1),
    bg(p.c1),
  ]);
  return { head, rows };
}

/** CPU per request with every peer paced at the same rate (older results have no such row). */
function equalRateTable(a) {
  const rows = a.rows.filter((p) => p.equalRate);
  if (rows.length === 0) return null;
  const floor = rows.find((p) => p.id === 'undici')?.equalRate.cpuUsPerReq;
  const head = [
    'Peer',
    'req/s',
    'p50 ms',
    'p99 ms',
    'CPU µs/req',
    'CPU vs undici',
    'main thread waited for CPU %',
    'broker / other CPU %',
  ];
  return {
    rate: rows[0].equalRate.rate,
    head,
    rows: rows.map((p) => [
      p.label,
      int(p.equalRate.rps),
      ms(p.equalRate.p50),
      ms(p.equalRate.p99),
      int(p.equalRate.cpuUsPerReq),
      p.id === 'undici' || !floor ? '—' : x(p.equalRate.cpuUsPerReq / floor),
      wait(p.equalRate),
      bg(p.equalRate),
    ]),
  };
}

function throughputTable(a) {
  const head = [
    'Peer',
    'best req/s (p99 < 10 ms)',
    'at concurrency',
    'p50 / p99 ms there',
    'vs direct',
    'vs undici',
    'vs nginx',
    'CPU µs/req there',
  ];
  const rows = a.rows.map((p) => [
    p.label,
    p.best ? int(p.best.rps) : 'none',
    p.best ? String(p.best.connections) : '—',
    p.best ? `${ms(p.best.p50)} / ${ms(p.best.p99)}` : '—',
    p.id === 'direct' ? '—' : x(p.tpVsDirect),
    p.id === 'undici' ? '—' : x(p.tpVsUndici),
    p.id === 'nginx' ? '—' : x(p.tpVsNginx),
    p.best ? int(p.best.cpuUsPerReq) : '—',
  ]);
  return { head, rows };
}

const signedMs = (v) => `${v >= 0 ? '+' : ''}${ms(v)}`;

function streamingTable(r) {
  const rows = r.streaming ?? [];
  const by = Object.fromEntries(rows.map((s) => [s.id, s]));
  const head = [
    'Peer',
    'TTFT p50 ms',
    'TTFT p90 ms',
    'TTFT p99 ms',
    'added TTFT p50 vs direct ms',
    'vs the undici floor ms',
    'stream p50 ms',
    'streams/s',
    'CPU µs/stream',
    'other CPU %',
  ];
  const body = rows.map((s) => [
    s.label,
    ms(s.ttft.p50),
    ms(s.ttft.p90),
    ms(s.ttft.p99),
    s.id === 'direct' || !by['direct'] ? '—' : signedMs(s.ttft.p50 - by['direct'].ttft.p50),
    s.id === 'direct' || s.id === 'undici' || !by['undici']
      ? '—'
      : signedMs(s.ttft.p50 - by['undici'].ttft.p50),
    ms(s.total.p50),
    int(s.rps),
    int(s.cpuUsPerReq),
    int(s.foreignPct),
  ]);
  return { head, rows: body };
}

function levelsTable(a, levels) {
  const head = ['Peer', ...levels.map((c) => `c=${c}`)];
  const rows = a.rows.map((p) => [
    p.label,
    ...levels.map((c) => {
      const l = p.levels.find((v) => v.connections === c);
      if (!l) return '—';
      const bad = l.non2xx || l.errors ? ` (${l.non2xx + l.errors} failed)` : '';
      return `${int(l.rps)} / ${l.p99.toFixed(2)}${bad}`;
    }),
  ]);
  return { head, rows };
}

function isolationTable(a) {
  const head = [
    'Shadow upstream',
    'primary p50 ms',
    'primary p90 ms',
    'primary p99 ms',
    'p50 vs (i)',
    'p90 vs (i)',
    'p99 vs (i)',
    'p99 per round ms',
    'longest event-loop probe gap per round ms',
    'req/s',
    'shadow copies sent',
    'shed (cap full)',
    'shadow failures',
    'router CPU µs/req',
    'main thread waited for CPU %',
    'broker / other CPU %',
  ];
  const rows = a.iso.map((s) => [
    s.label,
    ms(s.result.p50),
    ms(s.result.p90),
    ms(s.result.p99),
    s.id === 'healthy' ? '—' : x(s.p50Ratio),
    s.id === 'healthy' ? '—' : x(s.p90Ratio),
    s.id === 'healthy' ? '—' : x(s.p99Ratio),
    s.result.roundsP99.map((v) => v.toFixed(2)).join(', '),
    s.result.roundsLoopLagMaxMs.map((v) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a')).join(', '),
    int(s.result.rps),
    String(s.shadow.sent),
    String(s.shadow.shed),
    String(s.shadow.errors),
    int(s.result.cpuUsPerReq),
    wait(s.result),
    bg(s.result),
  ]);
  return { head, rows };
}

/** Data-driven sentences on where the router's added latency comes from. */
function dominates(a, r) {
  const out = [];
  const row = a.rowById;
  const f = row['undici'];
  const t = a.routerRow;
  if (f && t)
    out.push(
      `At concurrency 1 the target row (${t.label}) used ${int(t.c1.cpuUsPerReq)} µs of CPU per request, the ` +
        `undici floor ${int(f.c1.cpuUsPerReq)} µs and nginx ${row['nginx'] ? int(row['nginx'].c1.cpuUsPerReq) : 'n/a'} µs. ` +
        'With one request in flight, added latency is essentially CPU work on the request path plus the ' +
        'extra hop, so the added-latency ratios track the CPU ratios; work done after the answer (evidence, ' +
        "the shadow's comparison) still lands on the next request when it is this large.",
    );
  const core = row['router-inproc-noshadow'];
  if (f && core)
    out.push(
      `Without shadow and without Kafka the router adds ${us(core.added.p50)} µs at p50, ` +
        `${x(core.vsUndiciP50)} the floor's ${us(f.added.p50)} µs ` +
        `(${core.added.p50 <= 1.5 * f.added.p50 ? 'within' : 'over'} the 1.5x target even so).`,
    );
  if (a.decomposition) {
    const steps = a.decomposition.slice(1, -1).filter((s) => s[0] && !s[0].startsWith('='));
    const sorted = [...steps].sort((p, q) => Number(q[1]) - Number(p[1]));
    out.push(
      'Biggest steps in the decomposition: ' +
        sorted.map((s) => `${s[0].split(':')[0]} ${s[1]} µs (${s[2]} µs CPU)`).join('; ') +
        '.',
    );
  }
  const direct = row['direct'];
  for (const an of r.anatomies ?? []) {
    if (!/^shadow 1.0 \+ Kafka|^no rollout \+ in-process/.test(an.label)) continue;
    const t = an.typical;
    out.push(
      `A typical request, ${an.label}: ${ms(t.client)} ms at the client = ${ms(t.upstream)} ms to the ` +
        `upstream's first byte (a direct call takes ${direct ? ms(direct.c1.p50) : 'n/a'} ms end to end, so ` +
        'most of this is the router not getting to the answer yet: event-loop work queued ahead of it' +
        (an.label.startsWith('shadow') ? ", and the candidate competing for the upstreams' core" : '') +
        `) + ${ms(t.handler)} ms of handler work + ` +
        `${ms(t.outside)} ms outside the handler. The slowest 1%: ${ms(an.slowest.client)} ms = ` +
        `${ms(an.slowest.upstream)} + ${ms(an.slowest.handler)} + ${ms(an.slowest.outside)}.`,
    );
  }
  const kRow = row['router-kafka'];
  const iRow = row['router-inproc'];
  if (kRow && iRow && Number.isFinite(kRow.c1.runDelayPct))
    out.push(
      `In the Kafka rows the broker, on this same machine and not pinned, used ${int(kRow.c1.brokerPct)}% of a core ` +
        `and the router's main thread waited for a CPU ${kRow.c1.runDelayPct.toFixed(1)}% of the time ` +
        `(in-process sink: ${iRow.c1.runDelayPct.toFixed(1)}%): part of the Kafka rows' cost here is the broker ` +
        "competing for the router's core, which a deployment with the broker elsewhere would not pay; the " +
        "rest is the Kafka client's own CPU (see the profile).",
    );
  if (a.iso) {
    const by = Object.fromEntries(a.iso.map((s) => [s.id, s]));
    const h = by['healthy'];
    const hr = h.result.roundsP99;
    const desc = (s) =>
      `${s.label.replace(/^\([iv]+\) /, '')}: p50 ${x(s.p50Ratio)}, p90 ${x(s.p90Ratio)}, router CPU per request ` +
      `${x(s.result.cpuUsPerReq / h.result.cpuUsPerReq)}`;
    out.push(
      `Shadow isolation: the healthy-shadow p99 alone varied ${ms(Math.min(...hr))}-${ms(Math.max(...hr))} ms between ` +
        'rounds (over this many samples a p99 rests on a few stalls of the event loop, see the probe gap per round), so a 5% p99 ' +
        'criterion is below what this run can resolve and the p99 verdicts above can flip between runs. The ' +
        'steadier figures, relative to the healthy shadow: ' +
        ['slow', 'errors', 'drops']
          .filter((id) => by[id])
          .map((id) => desc(by[id]))
          .join('; ') +
        '. A slow shadow is shed at the concurrency cap and costs the router less; a shadow that drops ' +
        'connections costs it more CPU per request (a new upstream connection and an error path for every ' +
        'copy), which is what can reach the primary once the router is busy.',
    );
  }
  if (r.profile) {
    const pf = r.profile;
    const perReq = (c) => int((c.ms * 1000) / pf.requests);
    out.push(
      'Profile of the target configuration at concurrency 1, by concern: ' +
        pf.byConcern
          .slice(0, 6)
          .map((c) => `${c.name} ${perReq(c)} µs/req (${c.pct.toFixed(0)}%)`)
          .join('; ') +
        '.',
    );
    const own = pf.topSelf.filter((c) => /\.ts:\d+$/.test(c.name)).slice(0, 5);
    if (own.length)
      out.push(
        'Aviary functions with the most self time: ' +
          own.map((c) => `\`${c.name}\` ${perReq(c)} µs/req`).join(', ') +
          '.',
      );
  }
  return out;
}

const DECOMP_HEAD = ['Step (concurrency 1)', 'added p50 µs', 'router CPU µs/req'];

export function renderConsole(r) {
  const a = analyse(r);
  const out = [];
  const lt = latencyTable(a);
  out.push('Added latency at concurrency 1 (vs direct)', textTable(lt.head, lt.rows), '');
  const er = equalRateTable(a);
  if (er) out.push(`CPU per request, every peer paced at ${er.rate} req/s`, textTable(er.head, er.rows), '');
  const tt = throughputTable(a);
  out.push(`Max throughput with p99 < 10 ms`, textTable(tt.head, tt.rows), '');
  const lv = levelsTable(a, r.params.levels);
  out.push('Per concurrency level: req/s / p99 ms', textTable(lv.head, lv.rows), '');
  if (a.decomposition)
    out.push('Where the added latency comes from', textTable(DECOMP_HEAD, a.decomposition), '');
  if (r.streaming?.length) {
    const st = streamingTable(r);
    out.push(`Streaming: ${r.streaming[0].streams} concurrent streams`, textTable(st.head, st.rows), '');
  }
  if (a.iso) {
    const it = isolationTable(a);
    out.push(
      `Shadow isolation (router with ${r.isolationSink} sink, paced ${r.isolation.rate} req/s, at most ${r.params.isoConnections} connections)`,
      textTable(it.head, it.rows),
      '',
    );
  }
  if (r.anatomies?.length) {
    out.push('Latency anatomy at c=1 (ms): client = upstream first byte + handler + outside the handler');
    for (const an of r.anatomies)
      for (const k of ['typical', 'slowest']) {
        const v = an[k];
        out.push(
          `  ${`${an.label}, ${k === 'typical' ? 'typical' : 'slowest 1%'}`.padEnd(44)} ${ms(v.client)} = ${ms(v.upstream)} + ${ms(v.handler)} + ${ms(v.outside)}`,
        );
      }
    out.push('');
  }
  out.push('Targets');
  for (const t of a.targets)
    out.push(`  [${t.met ? 'MET' : 'NOT MET'}]${t.context ? ' (context)' : ''} ${t.name}: ${t.detail}`);
  if (r.profile) {
    const pf = r.profile;
    const perReq = (c) => `${int((c.ms * 1000) / pf.requests).padStart(5)} µs/req`;
    out.push(
      '',
      `Router CPU profile (${pf.file}): ${int((pf.busyMs * 1000) / pf.requests)} µs of main-thread time per request`,
    );
    out.push('  by concern:');
    for (const c of pf.byConcern) out.push(`  ${c.pct.toFixed(1).padStart(5)}%  ${perReq(c)}  ${c.name}`);
    out.push('  top self time:');
    for (const c of pf.topSelf.slice(0, 12))
      out.push(`  ${c.pct.toFixed(1).padStart(5)}%  ${perReq(c)}  ${c.name}`);
    out.push('  top inclusive (Aviary code):');
    for (const c of pf.topInclusive.slice(0, 12))
      out.push(`  ${c.pct.toFixed(1).padStart(5)}%  ${perReq(c)}  ${c.name}`);
    const sp = pf.streaming;
    if (sp?.requests) {
      const perStream = (c) => `${int((c.ms * 1000) / sp.requests).padStart(5)} µs/stream`;
      out.push(
        `  streams (${sp.requests}): ${int((sp.busyMs * 1000) / sp.requests)} µs of main-thread time per stream`,
      );
      for (const c of sp.byConcern)
        out.push(`  ${c.pct.toFixed(1).padStart(5)}%  ${perStream(c)}  ${c.name}`);
      out.push('  streams, top self time:');
      for (const c of sp.topSelf.slice(0, 12))
        out.push(`  ${c.pct.toFixed(1).padStart(5)}%  ${perStream(c)}  ${c.name}`);
    }
  }
  if (r.notes.length) out.push('', 'Notes', ...r.notes.map((n) => `  - ${n}`));
  return out.join('\n');
}

export async function renderMarkdown(r, root) {
  const a = analyse(r);
  const i = r.info;
  const P = r.params;
  const lt = latencyTable(a);
  const tt = throughputTable(a);
  const lv = levelsTable(a, P.levels);
  const direct = a.rowById['direct'];
  const md = [];
  md.push(
    '# Router benchmarks',
    '',
    'What the Aviary router adds to a chat completion, measured side by side with a direct call, a bare ' +
      'undici pass-through (the Node floor) and nginx (the C floor), in one run on one machine; and whether a ' +
      'slow or failing shadow upstream moves the primary request. This file is written by ' +
      '`bench/router-bench.mjs`; rerun it rather than editing the figures by hand.',
    '',
    '## Reproduce',
    '',
    '```sh',
    'npm ci',
    'npm run bench                # npm run build, then the full run: about 9 minutes, writes this file',
    'npm run bench -- --quick     # smoke run, about 2 minutes, written to a temp file',
    '# or, with dist/ already built: node bench/router-bench.mjs [--quick]',
    '```',
    '',
    'The script starts what it needs and says so when it cannot: PostgreSQL (`scripts/services/postgres.sh`, ' +
      'a fresh database per run, dropped at the end; embedded PGlite if PostgreSQL cannot start), Kafka ' +
      '(`scripts/services/kafka.sh`; without it the Kafka rows are skipped), nginx (`apt-get install -y ' +
      'nginx-light` when missing and running as root, else the nginx row is skipped). Options: `--no-pin`, ' +
      '`--no-install`, `--no-profile` / `--profile`, `--out <file>`, `--no-write`, `--json <file>`, ' +
      '`--peers undici,nginx,router-kafka,router-inproc,isolation` (a subset, for development), ' +
      '`--from-json <file>` (re-render an earlier `--json` result without measuring), ' +
      '`--router-node-options=<flags>` (e.g. `--trace-gc`), `--hold <seconds>` (start the upstreams, the ' +
      'control plane, a floor and a router, print their addresses, pids and router key, and keep them up ' +
      'that long, to profile or trace by hand).',
    '',
    '## This run',
    '',
    table(
      ['', ''],
      [
        ['Command', `\`${r.command}\``],
        ['Date', i.date],
        ['Commit', i.commit],
        ['Machine', `${i.nproc} CPUs: ${i.cpuModel}; ${i.memGiB} GiB; Linux ${i.kernel}`],
        [
          'Software',
          `Node ${i.node}, undici ${i.undici}, autocannon ${i.autocannon}, nginx ${i.nginx ?? 'not installed'}`,
        ],
        ['Run', `${r.quick ? 'quick' : 'full'}, ${Math.round(r.runtimeSeconds)} s in total`],
        [
          'Control plane database',
          r.database === 'postgresql'
            ? 'PostgreSQL (scripts/services/postgres.sh), fresh database'
            : 'embedded PGlite',
        ],
        ['Kafka', r.kafka ? `real broker at ${r.kafka} (scripts/services/kafka.sh)` : 'not available'],
      ],
      ['l', 'l'],
    ),
    '',
    '## Setup',
    '',
    'Every box is its own OS process with its own event loop:',
    '',
    table(
      ['Process', 'CPU', 'Role'],
      [
        [
          'bench/router-bench.mjs (autocannon)',
          r.pin ? String(r.cpu.gen) : 'any',
          'load generator, closed loop, keep-alive connections',
        ],
        [
          'demo-llm "baseline"',
          r.pin ? String(r.cpu.upstream) : 'any',
          'upstream (libs/demo-llm, behaviour `fine`: no added latency, no faults)',
        ],
        [
          'demo-llm "candidate"',
          r.pin ? String(r.cpu.upstream) : 'any',
          'shadow upstream of the router rows',
        ],
        [
          'control plane',
          r.pin ? String(r.cpu.cp) : 'any',
          'built-in flags; the routers poll it every 500 ms (the default)',
        ],
        [
          'peer under test (one at a time)',
          r.pin ? String(r.cpu.peer) : 'any',
          'undici pass-through, nginx or an Aviary router',
        ],
        ['PostgreSQL, Kafka broker', 'any', 'shared services, not pinned'],
      ],
      ['l', 'r', 'l'],
    ),
    '',
    r.pin
      ? 'Pinning (`taskset -c`): the proxy under test has CPU 1 to itself as far as this benchmark goes; the ' +
          'load generator, both upstreams and the control plane share CPU 0. "Added latency" is then the ' +
          "proxy's own work plus one more loopback hop rather than time spent waiting for the generator's " +
          "core. The direct row has the upstream on the generator's core, and CPU 0 (generator + upstream) is " +
          'the throughput ceiling for every row, as the direct row shows. PostgreSQL and the Kafka broker (a ' +
          'JVM, started by scripts/services/kafka.sh and shared with the test suite) are not pinned and run ' +
          "wherever the kernel puts them, including the router's core; their CPU during each measurement is " +
          'reported ("broker / other CPU %", in % of one core: the broker, and every process that is not ' +
          'part of this benchmark).'
      : 'No pinning in this run (`--no-pin`, or taskset missing): the kernel schedules all processes over all CPUs.',
    '',
    'Request: `POST /v1/chat/completions`, non-streaming, 150-byte JSON body (one user message, ' +
      '`max_tokens` 64); the answer is a ~600-byte chat completion. No stickiness header, so the router buckets ' +
      "each request at random; the **sticky users** rows are the issue's client instead: every request from one " +
      'of 1,000 users in turn (a `user` field, so the split is sticky and the request carries a stickiness ' +
      'bucket), with a system + user message (~300 bytes). Every request carries a router API key ' +
      '(`Authorization: Bearer`, created through the admin API; client authentication is on, as in ' +
      'production), and the router writes its access log (one JSON line per request) to its stdout, piped to a log file. Peers:',
    '',
    ...a.rows.map((p) => `- **${p.label}**: ${p.describe}.`),
    '',
    'The router rows run `dist/apps/router/src/main.js` as in production, configured by environment: ' +
      'metrics on (the Prometheus registry is always on; `/metrics` is only scraped between measurements), ' +
      'signed request ids, flags polled from the control plane. The measured configuration, **"shadow 1.0"**, ' +
      'is the model `bench-shadow` in a rollout held in its **shadow step with sampleRate 1.0**: every ' +
      'request is answered by the baseline v1 and mirrored to the candidate v2, so **the upstreams do twice ' +
      'the work**, the router makes two upstream calls and publishes three evidence events per request (an ' +
      'outcome for each side and a pair). "No rollout" is the model `bench-plain`, on the same router ' +
      'process: one upstream call, one outcome event.',
    '',
    '## Added latency at concurrency 1',
    '',
    `Each peer process is first warmed up at 4 connections (${P.processWarmup.router} s for a router, serving ` +
      `both models in turn; ${P.processWarmup.other} s for the others): a fresh router needs about 8 s ` +
      '(~5,000 requests) before its CPU per request stops falling (JIT tier-up across the router, undici, ' +
      `kafkajs and prom-client; the Kafka producer connecting). Then per row: one connection, ${P.c1Seconds} s ` +
      `after a ${P.c1Warmup} s warm-up at 4 connections. Percentiles are ` +
      "computed from every response time (autocannon's own histogram has 1 ms resolution, so the raw " +
      'samples are kept). "Added" = peer minus a direct run of ' +
      `${P.pairedSeconds} s taken right before the peer's (paired, so that drift of the machine over the run ` +
      'does not land in the difference). "CPU µs/req" is the peer process\'s own CPU time ' +
      '(user + system of all its threads, from /proc; nginx master + worker) per answered request; for ' +
      'direct it is the upstream\'s. "Main thread waited for CPU" is the share of the time the peer\'s main ' +
      'thread was runnable but not running (/proc schedstat): CPU taken by its own helper threads (GC, JIT) ' +
      'or by other processes on its core.',
    '',
    table(lt.head, lt.rows),
    '',
  );
  {
    const runs = [direct.c1, ...a.rows.filter((p) => p.id !== 'direct').map((p) => p.pairedDirect)];
    if (r.directAgain) runs.push(r.directAgain);
    const p50s = runs.map((m) => m.p50);
    const p99s = runs.map((m) => m.p99);
    md.push(
      `Noise check: direct was measured ${runs.length} times over the run (its own row, before each peer` +
        `${r.directAgain ? ', and once more at the end' : ''}): p50 ${ms(Math.min(...p50s))}-${ms(Math.max(...p50s))} ms, ` +
        `p99 ${ms(Math.min(...p99s))}-${ms(Math.max(...p99s))} ms. Differences between rows smaller than that ` +
        'spread are not signal.',
      '',
    );
  }
  if (r.anatomies?.length)
    md.push(
      "Anatomy of the router's latency at concurrency 1, from its `server-timing` header (" +
        `${P.anatomySeconds} s per configuration, sequential requests from an undici client): "upstream" is the ` +
        'time to the first byte from the baseline, "handler" the rest of the time between the handler ' +
        'starting and writing the answer, "outside" the client-measured time not covered by the handler ' +
        '(waiting for the event loop behind leftover work of earlier requests such as the shadow and the ' +
        'evidence flush, GC, HTTP parsing, the write back, the loopback hop). All in ms, averaged over the ' +
        'middle half of the requests ("typical") and over the slowest 1%.',
      '',
      table(
        ['Configuration', 'requests', 'client', 'upstream', 'handler', 'outside'],
        r.anatomies.flatMap((an) =>
          ['typical', 'slowest'].map((k) => [
            `${an.label}, ${k === 'typical' ? 'typical' : 'slowest 1%'}`,
            String(an[k].n),
            ms(an[k].client),
            ms(an[k].upstream),
            ms(an[k].handler),
            ms(an[k].outside),
          ]),
        ),
      ),
      '',
    );
  if (a.decomposition)
    md.push(
      'Where the added p50 comes from, as differences between the rows above (each difference carries the ' +
        'noise of two measurements):',
      '',
      table(DECOMP_HEAD, a.decomposition),
      '',
    );
  const er = equalRateTable(a);
  if (er)
    md.push(
      '## CPU per request at an equal rate',
      '',
      `Every peer paced at ${er.rate} requests a second (evenly spaced, open loop, at most 4 connections, ` +
        `${P.equalRateSeconds ?? 3} s after a short warm-up), so CPU per request compares the same work at the ` +
        'same rate. At concurrency 1 above each peer runs as fast as it answers, and a process that answers 8x ' +
        'fewer requests a second spreads its per-wakeup costs (epoll, timers, syscalls) over 8x fewer requests: ' +
        'the c=1 CPU column mixes the cost of a request with the rate it ran at.',
      '',
      table(er.head, er.rows),
      '',
    );
  md.push(
    '## Max throughput with p99 < 10 ms',
    '',
    `Concurrency ${P.levels.join(', ')} in turn (${P.levelSeconds} s each after ${P.levelWarmup} s warm-up; ` +
      'c=1 is the run above), stopping after two levels in a row whose p99 reached 10 ms. "Best" is the ' +
      'highest req/s among levels with p99 < 10 ms and no failed requests.',
    '',
    table(tt.head, tt.rows),
    '',
    'Every level (req/s / p99 ms):',
    '',
    table(lv.head, lv.rows),
    '',
  );
  if (r.streaming?.length) {
    const st = streamingTable(r);
    md.push(
      '## Streaming',
      '',
      `${r.streaming[0].streams} streamed chat completions at once in a closed loop (each connection sends the next ` +
        `when its stream ended), ${P.streamSeconds} s after ${P.streamWarmup} s warm-up; the upstreams answer with ` +
        '32 content chunks 10 ms apart (demo-llm `streamChunks` / `chunkIntervalMs`), both of them, so a shadow ' +
        'copy streams the same way. Time to first token (TTFT) is from sending the request to the first body ' +
        'chunk with content, at the client. The router rows are the same processes as above; "shadow 1.0" ' +
        'mirrors every stream to the candidate as a stream.',
      '',
      table(st.head, st.rows),
      '',
    );
  }
  if (a.iso) {
    const it = isolationTable(a);
    md.push(
      '## Shadow isolation',
      '',
      `The router (${r.isolationSink} sink) with the shadow at sampleRate 1.0. Every scenario gets the same ` +
        `load: requests paced at a fixed ${r.isolation.rate} req/s (evenly spaced, open loop, over at most ` +
        `${P.isoConnections} keep-alive connections; latency counted from the scheduled send time, so queueing ` +
        'behind a stalled router is included), a quarter of what the router answered with a healthy shadow in a ' +
        `${P.isoCalibrateSeconds} s closed-loop calibration at 4 connections (${int(r.isolation.calibrationRps)} req/s; paced requests cost the router more CPU each, see the CPU column). So a moderate ` +
        'load, and a scenario that makes the router cheaper or dearer is not also pushed harder or softer. ' +
        `The scenarios are interleaved over ${P.isoRounds} rounds of ${P.isoSeconds} s (after ${P.isoWarmup} s ` +
        "warm-up each; percentiles over all rounds' samples); the candidate's behaviour is changed through " +
        'its admin API, and in-flight shadow calls of the previous scenario are let finish first. Only ' +
        'the primary (baseline) answers are measured. "Shadow copies sent" counts requests the candidate ' +
        'received; "shed" counts copies not sent because the shadow concurrency cap ' +
        '(AVIARY_SHADOW_MAX_CONCURRENCY, 16) was full. "Longest event-loop probe gap" is the router\'s own ' +
        '`nodejs_eventloop_lag_max_seconds` over the round: prom-client probes the event loop with a timer ' +
        `every ${EVENT_LOOP_PROBE_MS} ms and reports the longest time between two probes, so an idle loop shows ` +
        `~${EVENT_LOOP_PROBE_MS} ms and a gap of g ms means one stall (the router's work, its GC, or the OS ` +
        `running something else on its core) of between g - ${EVENT_LOOP_PROBE_MS} and g ms.`,
      '',
      table(it.head, it.rows),
      '',
    );
  }
  if (a.paired) {
    const pt = pairedTable(r);
    const sm = a.paired;
    const stolen = sm.steal.filter(Number.isFinite);
    md.push(
      `## Paired rounds (what the throughput${sm.c1Shadow ? ', concurrency-1' : ''} and streaming verdicts rest on)`,
      '',
      'The rows above measure each peer once, minutes apart, and one window can land on a slow stretch ' +
        "and another on a quick one (the router's collections and evidence batches, the unpinned Kafka " +
        "broker running on the router's core, the hypervisor taking CPU time from this VM: its share is " +
        'in the last column), so rows can contradict each other. So the floor (a second ' +
        'undici pass-through process, pinned to the same core) and the router (Kafka sink, the same ' +
        `process as above) are also measured in ${r.paired.rounds.length} interleaved rounds: each round runs ` +
        `the floor, no rollout and shadow 1.0 back to back (the order rotating from round to round), ` +
        `${r.paired.seconds} s each after 0.3 s warm-up, first closed-loop at ${r.paired.connections} connections, ` +
        (sm.longPlain
          ? `then the same with long requests ("long": a system prompt and a conversation of 60 turns, ${int(r.paired.longBodyBytes ?? 0)} bytes of JSON, as an assistant's later turns are; the router parses and re-serialises them per upstream call and the shadow's pair event captures the prompt, the floor forwards the bytes), `
          : '') +
        (sm.c1Shadow
          ? `then at 1 connection the direct call, the floor and shadow 1.0 (0.3 s warm-up at 4 connections; "added" is the p50 over that round's direct p50), `
          : '') +
        `then ${r.paired.streams} streams (as in the streaming section). The ratios are taken within a round, ` +
        'and the verdicts use the median round.',
      '',
      table(pt.head, pt.rows),
      '',
      `Medians: throughput no rollout ${x(sm.tpPlain.median)} the floor, shadow 1.0 ${x(sm.tpShadow.median)}; ` +
        `time to first token with the shadow ${signedMs(sm.ttftShadow.median)} ms over the floor, without it ${signedMs(sm.ttftPlain.median)} ms` +
        (sm.c1Shadow
          ? `; added p50 at concurrency 1 with the shadow ${x(sm.c1Shadow.median)} the floor's`
          : '') +
        (sm.longPlain && sm.longShadow
          ? `; with long requests, throughput no rollout ${x(sm.longPlain.median)} the floor, shadow 1.0 ${x(sm.longShadow.median)} (not a target)`
          : '') +
        (stolen.length
          ? `; hypervisor steal ${Math.min(...stolen).toFixed(1)}-${Math.max(...stolen).toFixed(1)}% of the CPUs' time.`
          : '.'),
      '',
    );
  }
  md.push('## Targets', '');
  for (const t of a.targets.filter((t) => !t.context))
    md.push(`- **${t.met ? 'Met' : 'Not met'}**: ${t.name}. ${t.detail}.`);
  const ctx = a.targets.filter((t) => t.context);
  if (ctx.length) {
    md.push('', 'For context (not target rows):', '');
    for (const t of ctx) md.push(`- ${t.name}: ${t.detail}.`);
  }
  md.push('');
  const dom = dominates(a, r);
  if (dom.length) md.push('## What dominates', '', ...dom.map((d) => `- ${d}`), '');
  if (r.profile) {
    const pf = r.profile;
    const perReq = (c) => int((c.ms * 1000) / pf.requests);
    md.push(
      "## Where the router's time goes (profile)",
      '',
      `A separate router process in the target configuration (shadow 1.0 + ${r.kafka ? 'Kafka' : 'in-process sink'}) ` +
        `under \`node --cpu-prof\`, ${P.profileConnections} connection(s) for ${P.profileSeconds} s after warm-up ` +
        `(${pf.requests} requests, ${Math.round(pf.load.rps)} req/s, p50 ${ms(pf.load.p50)} ms under the ` +
        'profiler; not one of the measured runs). Only samples taken during the measured window count. ' +
        `The main thread was busy ${int((pf.busyMs * 1000) / pf.requests)} µs per request; the process as a whole ` +
        `(all threads: GC helpers, JIT, libuv) used ${int(pf.load.cpuUsPerReq)} µs of CPU per request. Busy time is ` +
        'wall time on the main thread, so time the thread spent descheduled inside a syscall (e.g. a socket ' +
        'write that woke the Kafka broker on the same core) counts where it happened. File names map ' +
        'dist/*.js back to the TypeScript sources, lines through the source maps. The sampler thread ' +
        "shares the router's pinned core, so samples are sometimes late and the shares are approximate.",
      '',
      'By concern: each sample is charged to the first of these concerns found anywhere on its stack, in ' +
        "this order (so Kafka work inside the shadow's code counts as Kafka; the upstream-call bucket holds the " +
        "primary's and the shadow's undici work once it runs on its own callbacks):",
      '',
      table(
        ['Concern', 'share', 'µs per request'],
        pf.byConcern.map((c) => [c.name, `${c.pct.toFixed(1)}%`, perReq(c)]),
      ),
      '',
      'Top functions by self time:',
      '',
      table(
        ['Function (file:line in dist JS)', 'share', 'µs per request'],
        pf.topSelf.slice(0, 15).map((c) => [`\`${c.name}\``, `${c.pct.toFixed(1)}%`, perReq(c)]),
      ),
      '',
      'Aviary functions by inclusive time (the function and everything it calls, on its own stack):',
      '',
      table(
        ['Function', 'share', 'µs per request'],
        pf.topInclusive.slice(0, 15).map((c) => [`\`${c.name}\``, `${c.pct.toFixed(1)}%`, perReq(c)]),
      ),
      '',
    );
    const sp = pf.streaming;
    if (sp?.requests) {
      const perStream = (c) => int((c.ms * 1000) / sp.requests);
      md.push(
        `Then, in the same profiled process, ${sp.load.streams} concurrent streams with the shadow for ` +
          `${P.streamSeconds} s (${sp.requests} streams, TTFT p50 ${ms(sp.load.ttft.p50)} ms under the profiler); ` +
          `the main thread was busy ${int((sp.busyMs * 1000) / sp.requests)} µs per stream (each stream is 34 ` +
          'upstream chunks passed on, and its shadow copy read).',
        '',
        table(
          ['Concern (streams)', 'share', 'µs per stream'],
          sp.byConcern.map((c) => [c.name, `${c.pct.toFixed(1)}%`, perStream(c)]),
        ),
        '',
        table(
          ['Function (streams, self time)', 'share', 'µs per stream'],
          sp.topSelf.slice(0, 12).map((c) => [`\`${c.name}\``, `${c.pct.toFixed(1)}%`, perStream(c)]),
        ),
        '',
      );
    }
  }
  const kafkaLine = r.kafkaStats
    ? `Kafka sink over the Kafka router process's life: ${r.kafkaStats.published} events published, ${r.kafkaStats.dropped} dropped, ${r.kafkaStats.buffered} still buffered at the end.`
    : null;
  md.push(
    '## Notes and caveats',
    '',
    '- Two cores for everything: the load generator, the upstreams, the proxy, the control plane, ' +
      "PostgreSQL and the Kafka broker. Absolute figures are this machine's, not a capacity statement; the " +
      'side-by-side ratios are the point. Only one peer is measured at a time, and other people may be ' +
      'using the machine: the "other CPU %" columns say how much.',
    '- Loopback only; a real network hop (tens to hundreds of µs) and a real model (hundreds of ms) dwarf ' +
      "every difference here. This measures the proxy's own overhead, which is what the targets are about.",
    '- Closed-loop load with autocannon (each connection sends its next request when the answer arrives) ' +
      'for the latency and throughput tables; paced open-loop load with an undici Pool for the isolation ' +
      "scenarios. Both generators run in this script's process on CPU 0.",
    `- A measurement during which processes outside the benchmark used more than 20% of a core is repeated once (the quieter run is kept; ${r.params.retryBudgetSeconds} s budget per run).`,
    '- Noise: compare the noise check, the isolation rounds and the per-level figures before reading much ' +
      'into a few per cent at p50; p99 over a few thousand samples rests on a few dozen of them, and the ' +
      'VM shows occasional multi-millisecond stalls even on the direct row (see its p99 at c=1).',
    "- The shadow doubles upstream work: here the candidate shares CPU 0 with the baseline upstream and the generator, so part of the shadow rows' extra latency is that contention rather than the router; the no-rollout rows show the router without it.",
    '- nginx runs one worker (`worker_processes 1`, like one Node process), keep-alive to the client and to ' +
      'the upstream (`keepalive 256`, `keepalive_requests 1000000`), access log off.',
    ...(kafkaLine ? [`- ${kafkaLine}`] : []),
    ...(r.inprocStats
      ? [
          `- The in-process sink is the router's fallback when KAFKA_BROKERS is unset (nothing consumes it here; it drops once its 50,000-event buffer is full: ${r.inprocStats.dropped} dropped in this run), so its rows are the router without the Kafka client's cost, not a deployment option.`,
        ]
      : []),
    ...r.notes.map((n) => `- ${n}`),
    '',
  );
  let text = md.join('\n');
  try {
    const prettier = require('prettier');
    const config = (await prettier.resolveConfig(join(root, 'docs/benchmarks.md'))) ?? {};
    text = await prettier.format(text, { ...config, parser: 'markdown' });
  } catch {
    // prettier is a devDependency; unformatted markdown is still correct markdown
  }
  return text;
}
