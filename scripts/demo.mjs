#!/usr/bin/env node
// The first-run demo: with `npm start` running (demo model servers and demo traffic on), drive a rollout
// of demo-chat through shadow and canary steps, make the candidate refuse half its answers and watch
// Aviary roll it back by itself, then try again and pull the plug with the on-call CLI.
//
//   npm run demo          (AVIARY_URL, AVIARY_TOKEN: default http://127.0.0.1:$AVIARY_CONTROL_PLANE_PORT,
//                          port 8080, and $AVIARY_DATA_DIR/admin-token, default .aviary/admin-token)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const URL_ = (
  process.env.AVIARY_URL ?? `http://127.0.0.1:${process.env.AVIARY_CONTROL_PLANE_PORT?.trim() || '8080'}`
).replace(/\/+$/, '');
const dataDir = process.env.AVIARY_DATA_DIR ?? join(root, '.aviary');
/** In front of the commands it prints, so they reach this Aviary when pasted in another terminal. */
const CLI_ENV = [
  ...(URL_ === 'http://127.0.0.1:8080' ? [] : [`AVIARY_URL=${URL_}`]),
  ...(process.env.AVIARY_DATA_DIR ? [`AVIARY_DATA_DIR=${process.env.AVIARY_DATA_DIR}`] : []),
]
  .map((p) => `${p} `)
  .join('');
const aviaryCmd = (args) => `${CLI_ENV}npm run -s aviary -- ${args}`;
const TOKEN =
  process.env.AVIARY_TOKEN ??
  (existsSync(join(dataDir, 'admin-token'))
    ? readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()
    : null);
const MODEL = 'demo-chat';
const CANDIDATE = 'v2-int8';
const started = Date.now();

const say = (m) =>
  process.stdout.write(`[${String(Math.round((Date.now() - started) / 1000)).padStart(4)}s] ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(method, path, body) {
  let res;
  try {
    res = await fetch(`${URL_}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(20_000),
    });
  } catch (err) {
    if (err?.name === 'TimeoutError') throw new Error(`${method} ${path}: no answer from Aviary within 20 s`);
    throw new Error(`cannot reach Aviary at ${URL_}: start it with \`npm start\` (or set AVIARY_URL)`);
  }
  const json = await res.json().catch(() => null);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${json?.detail ?? ''}`);
  return json;
}

/** Prints the rollout's progress until `done(rollout)` says stop. */
async function watch(id, done, timeoutMs = 240_000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const r = await api('GET', `/api/v1/rollouts/${id}`);
    const a =
      r.phase === 'Progressing'
        ? await api('GET', `/api/v1/rollouts/${id}/analysis`).catch(() => null)
        : null;
    const line =
      `${r.phase.padEnd(11)} step ${r.step.index + 1}/${r.step.total} ${(r.step.description ?? '').padEnd(22)}` +
      (a ? `  ${a.verdict.padEnd(12)} ${brief(a.summary)}` : '');
    if (line !== last) say(line);
    last = line;
    if (done(r)) return r;
    if (Date.now() > deadline) throw new Error(`the rollout did not get there in ${timeoutMs / 1000} s`);
    await sleep(1000);
  }
}

/** The analysis summary's first reason, without the arm and verdict prefixes, cut to a line. */
function brief(summary) {
  const text = summary.replace(/^.*?(shadow|candidate) vs baseline: \w+( \([^)]*\))?: /, '');
  return text.length > 90 ? `${text.slice(0, 89)}…` : text;
}

async function candidateBehaviour(preset) {
  const v = await api('GET', `/api/v1/models/${MODEL}/versions/${CANDIDATE}`);
  const origin = v.upstreamBaseUrl.replace(/\/v1\/?$/, '');
  const res = await fetch(`${origin}/admin/behaviour`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ preset }),
  });
  if (res.status !== 200) throw new Error(`could not set the candidate's behaviour: ${res.status}`);
}

/**
 * Demo thresholds: the demo decides in seconds on ~20 requests/s, so few samples per arm and wide
 * tolerances for the rare events (a single error or empty answer among 30 must not hold a step).
 * A candidate refusing half its answers still fails at once. Production defaults need thousands.
 */
const DEMO_GUARDRAILS = {
  refusalRate: { minSamples: 20, maxRelativeIncrease: 0.5 },
  errorRate: { minSamples: 20, maxRelativeIncrease: 3, absoluteCeiling: null },
  silentFailureRate: { minSamples: 20, maxRelativeIncrease: 3 },
  latencyP95: { minSamples: 20, maxRelativeIncrease: 1 },
  outputLengthDrop: { minSamples: 20 },
  thumbsDownRate: { minSamples: 5, maxRelativeIncrease: 1 },
};

async function main() {
  if (!TOKEN)
    throw new Error(
      `no admin token: set AVIARY_TOKEN, or run \`npm start\` first (it writes ${dataDir}/admin-token)`,
    );
  say(
    `Aviary at ${URL_}: rolling out ${CANDIDATE} of ${MODEL} (the candidate demo server) against its stable version`,
  );
  await candidateBehaviour('typical');
  const active = (await api('GET', `/api/v1/models/${MODEL}`)).activeRollout;
  if (active) await api('POST', `/api/v1/rollouts/${active.id}/rollback`, { reason: 'demo: starting over' });
  const plan = {
    steps: [
      { type: 'shadow', sampleRate: 1, minDurationSeconds: 10 },
      { type: 'setWeight', weight: 20, minDurationSeconds: 10 },
      { type: 'setWeight', weight: 50, minDurationSeconds: 20 },
      { type: 'setWeight', weight: 100, minDurationSeconds: 10 },
      { type: 'bake', minDurationSeconds: 10 },
    ],
  };
  const rollout = await api('POST', '/api/v1/rollouts', {
    model: MODEL,
    candidateVersion: CANDIDATE,
    plan,
    guardrails: DEMO_GUARDRAILS,
    shadowGate: { minJudgements: 10 },
    allowRolledBackCandidate: true,
    reason: 'demo: a quantized build that halves GPU cost',
  });
  await api('POST', `/api/v1/rollouts/${rollout.id}/start`, {});
  say(
    `1. rollout ${rollout.id} started: shadow first (every request mirrored, answers compared, none served)`,
  );
  say(`   watch it on the status page: ${URL_}/status/rollouts/${rollout.id}`);
  say('   (sign in with the status-page link npm start printed, or any API token)');
  say(`   or in a terminal: ${aviaryCmd(`get rollout ${rollout.id.slice(0, 8)} --watch`)}`);
  await watch(rollout.id, (r) => r.step.index >= 2 || r.phase !== 'Progressing');
  say('2. at 50 % the candidate starts refusing half its answers (demo server preset "refusesMore")');
  await candidateBehaviour('refusesMore');
  const after = await watch(rollout.id, (r) => r.phase !== 'Progressing');
  if (after.phase !== 'RolledBack')
    throw new Error(`expected an automatic rollback, the rollout is ${after.phase}`);
  const decision = (await api('GET', `/api/v1/rollouts/${rollout.id}/events?limit=200`)).items.find(
    (e) => e.type === 'AutoRolledBack',
  );
  say(`   rolled back by Aviary itself: ${decision?.message ?? '(no decision event?)'}`);

  say('3. the candidate is fixed; try again, and this time on-call pulls the plug with the CLI');
  await candidateBehaviour('typical');
  await api('POST', `/api/v1/rollouts/${rollout.id}/retry`, { reason: 'demo: candidate fixed' });
  await watch(rollout.id, (r) => r.step.index >= 1 || r.phase !== 'Progressing');
  const cli = spawnSync(
    process.execPath,
    [join(root, 'bin/aviary.mjs'), 'rollback', MODEL, '--reason', 'demo: on-call pulls the plug', '--yes'],
    { env: { ...process.env, AVIARY_URL: URL_, AVIARY_TOKEN: TOKEN }, encoding: 'utf8' },
  );
  process.stdout.write(`${cli.stdout.trimEnd().replace(/^/gm, '         ')}\n`);
  if (cli.status !== 0) throw new Error(`aviary rollback failed (${cli.status}): ${cli.stderr}`);
  say('   rolled back with the CLI: every user is on the baseline again within about a second');
  say(`done. The decision log: ${aviaryCmd(`events ${rollout.id.slice(0, 8)}`)}`);
  say(`   its history:          ${aviaryCmd(`history ${MODEL}`)}`);
}

main().catch((err) => {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
