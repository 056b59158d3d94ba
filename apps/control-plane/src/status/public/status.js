// Aviary status page: renders /status/api/* into #app and keeps it fresh by polling.
// Plain browser JavaScript (no build step); every value goes in through textContent, never HTML.
'use strict';

(() => {
  const app = document.getElementById('app');
  if (!app) return;
  const page = app.dataset.page;
  const rolloutId = app.dataset.rolloutId;
  const modelName = app.dataset.modelName;
  const refreshMs = Number(app.dataset.refreshMs) || 2000;
  const freshness = document.getElementById('freshness');
  /** For tests and the curious: how many times the page was drawn from fresh data, and the last data. */
  const state = { renders: 0, lastData: null, charts: new Map(), openDetails: new Set() };
  window.aviaryStatus = state;

  // ---------- tiny DOM helper ----------
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = String(v);
      else if (k === 'style') el.style.cssText = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  /** replaceChildren without the nulls of conditional parts (the DOM would print them as "null"). */
  function fill(el, ...children) {
    el.replaceChildren(
      ...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false),
    );
  }

  // ---------- formatting ----------
  const fmt = {
    pct(v, digits) {
      if (v === null || v === undefined || !Number.isFinite(v)) return '—';
      const p = v * 100;
      const d = digits ?? (Math.abs(p) >= 10 ? 1 : Math.abs(p) >= 1 ? 2 : 3);
      return `${trim(p.toFixed(d))}%`;
    },
    signedPct(v) {
      if (v === null || v === undefined) return '…';
      if (!Number.isFinite(v)) return v > 0 ? '+∞' : '−∞';
      const p = v * 100;
      const s = trim(p.toFixed(Math.abs(p) >= 10 ? 0 : 1));
      return p > 0 ? `+${s}%` : p < 0 ? `−${s.replace('-', '')}%` : '0%';
    },
    metric(metric, v) {
      if (v === null || v === undefined) return '—';
      if (metric === 'latencyP95' || metric === 'latencyP95Ms' || metric === 'ttftP95')
        return `${Math.round(v)} ms`;
      if (metric === 'outputLengthDrop' || metric === 'meanOutputTokens')
        return `${trim(v.toFixed(1))} tokens`;
      if (metric === 'costPerRequest') return `$${v.toPrecision(2)}`;
      return fmt.pct(v);
    },
    count(n) {
      return new Intl.NumberFormat().format(n);
    },
    duration(seconds) {
      if (seconds === null || seconds === undefined) return '—';
      const s = Math.max(0, Math.round(seconds));
      if (s < 60) return `${s}s`;
      const m = Math.floor(s / 60);
      if (m < 60) return `${m}m ${s % 60}s`;
      const hrs = Math.floor(m / 60);
      if (hrs < 48) return `${hrs}h ${m % 60}m`;
      return `${Math.floor(hrs / 24)}d ${hrs % 24}h`;
    },
    time(iso) {
      if (!iso) return '—';
      const d = new Date(iso);
      const today = new Date().toDateString() === d.toDateString();
      return today
        ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
        : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
    },
    fromNow(iso) {
      if (!iso) return '';
      const s = (new Date(iso).getTime() - Date.now()) / 1000;
      return s >= 0 ? `in ${fmt.duration(s)}` : `${fmt.duration(-s)} ago`;
    },
  };
  function trim(s) {
    return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
  }

  // The words come from the server (libs/domain/src/status): phaseText, guardrail lines, legends.
  const phaseBadge = (r) =>
    h('span', { class: `badge phase-${r.phase}`, 'data-phase': r.phase, text: r.phaseText || r.phase });

  /** The LLM judge's gate, in words. */
  const VERDICT_TEXT = {
    Successful: 'passes its gate',
    Failed: 'fails its gate',
    Inconclusive: 'not decided yet',
    NoData: 'no verdicts yet',
  };

  function splitText(split) {
    const parts = [`${split.candidateWeight}% of users on the candidate`];
    if (split.shadowSampleRate !== null)
      parts.push(`${fmt.pct(split.shadowSampleRate, 0)} of requests shadowed`);
    return parts.join(' · ');
  }

  /** Baseline and candidate shares of users, with a legend that names each colour. */
  function splitBar(r) {
    const w = r.split.candidateWeight;
    return h(
      'div',
      { class: 'split' },
      h(
        'div',
        { class: 'splitbar', role: 'img', 'aria-label': splitText(r.split) },
        h('span', { class: 'split-baseline', style: `width:${100 - w}%` }),
        h('span', { class: 'split-candidate', style: `width:${w}%` }),
      ),
      h(
        'ul',
        { class: 'legend', 'data-fact': 'legend' },
        (r.legend || []).map((item) =>
          h(
            'li',
            { 'data-role': item.role },
            h('span', { class: `swatch swatch-${item.role}`, 'aria-hidden': 'true' }),
            item.text,
          ),
        ),
      ),
    );
  }

  function nextText(r) {
    if (!r.next) return null;
    if (r.next.waitingFor === 'start') return `Next: ${r.next.label}, when started`;
    if (r.next.waitingFor === 'resume') return `Next: ${r.next.label}, after it is resumed`;
    if (r.next.waitingFor === 'approval')
      return `Next: ${r.next.label}, when an operator approves it (promote with a reason); the guardrails keep watching`;
    if (r.next.waitingFor === 'time' && r.next.notBefore)
      return `Next: ${r.next.label}, ${new Date(r.next.notBefore).getTime() > Date.now() ? `at ${fmt.time(r.next.notBefore)} (${fmt.fromNow(r.next.notBefore)})` : 'now'}`;
    const when = r.next.notBefore
      ? new Date(r.next.notBefore).getTime() > Date.now()
        ? `not before ${fmt.time(r.next.notBefore)} (${fmt.fromNow(r.next.notBefore)})`
        : 'as soon as every guardrail passes'
      : 'when every guardrail passes';
    return `Next: ${r.next.label}, ${when}${r.next.notBefore && new Date(r.next.notBefore).getTime() > Date.now() ? ', if every guardrail passes' : ''}`;
  }

  /** The step's progress deadline: when, what happens, and whether it has passed. */
  function deadlineText(d) {
    if (!d) return null;
    const policy = d.policy === 'rollback' ? 'rolls back' : 'holds';
    const grace = d.policy === 'rollback' && d.graceSeconds > 0;
    if (d.exceededAt)
      return grace
        ? `Past its progress deadline since ${fmt.time(d.exceededAt)}: holding while the analysis is on track, then it rolls back`
        : `Past its progress deadline since ${fmt.time(d.exceededAt)}: holding, an operator decides`;
    const then = grace ? 'rolls back unless the analysis is on track to decide soon' : policy;
    return d.at ? `Progress deadline ${fmt.time(d.at)} (${fmt.fromNow(d.at)}), then it ${then}` : null;
  }

  /** After completion: the new stable version is watched against its own first days. */
  function watchText(r) {
    if (!r.watch) return null;
    if (r.watch.status === 'watching')
      return `Watching ${r.candidate} as the stable version until ${fmt.time(r.watch.until)}`;
    if (r.watch.status === 'regressed')
      return `${r.candidate} regressed after completion: revert with aviary revert ${r.model} --reason "…"`;
    if (r.watch.status === 'reverted') return `Reverted: ${r.baseline} is the stable version again`;
    if (r.watch.status === 'inconclusive')
      return `${r.candidate}'s watch ended without enough answers after promotion to say whether it regressed`;
    return `${r.candidate} passed its watch`;
  }

  /** Where a rollout stands: its step, the split and how long it has been in the step. */
  function stepFacts(r) {
    const deadline = deadlineText(r.deadline);
    return [
      h('span', {
        class: 'fact',
        'data-fact': 'step',
        text: r.step.label
          ? `Step ${r.step.index + 1} of ${r.step.total}: ${r.step.label}`
          : `${r.step.total} steps, not started`,
      }),
      h('span', { class: 'fact', 'data-fact': 'split', text: splitText(r.split) }),
      r.timeInStepSeconds !== null
        ? h('span', {
            class: 'fact',
            'data-fact': 'time-in-step',
            text: `${fmt.duration(r.timeInStepSeconds)} in this step`,
          })
        : null,
      r.analysis === 'manual' && r.next
        ? h('span', { class: 'fact', 'data-fact': 'mode', text: 'manual approval per step' })
        : null,
      watchText(r)
        ? h('span', {
            class: `fact${r.watch.status === 'regressed' ? ' warn' : ''}`,
            'data-fact': 'watch',
            text: watchText(r),
          })
        : null,
      deadline && r.next
        ? h('span', {
            class: `fact${r.deadline.exceededAt ? ' warn' : ''}`,
            'data-fact': 'deadline',
            text: deadline,
          })
        : null,
    ];
  }

  // ---------- overview ----------
  function renderChanges(changes) {
    return h(
      'section',
      { class: 'card', id: 'section-changes' },
      h('h2', { text: 'What changed this week' }),
      changes.length === 0
        ? h('p', { class: 'muted', text: 'Nothing started, finished or rolled back in the last seven days.' })
        : h(
            'ol',
            { class: 'changes' },
            changes.map((c) =>
              h(
                'li',
                { class: `change tone-${c.tone}`, 'data-model': c.model },
                h('div', { class: 'small muted', text: `${fmt.time(c.at)} · ${c.by}` }),
                h('a', { class: 'headline', href: `/status/rollouts/${c.rolloutId}`, text: c.title }),
                c.detail ? h('p', { class: 'small', text: c.detail }) : null,
              ),
            ),
          ),
    );
  }

  function renderOverview(data) {
    const body = [h('h1', { text: 'Rollouts' }), renderChanges(data.changes || [])];
    if (data.models.length === 0) {
      body.push(
        h('p', {
          class: 'muted',
          text: 'No models yet. Register one with the admin API (POST /api/v1/models).',
        }),
      );
    }
    for (const m of data.models) {
      const card = h(
        'section',
        { class: 'card model', id: `model-${m.name}`, 'data-model': m.name },
        h(
          'h2',
          {},
          m.name,
          m.stableVersion ? h('span', { class: 'muted small', text: ` · stable: ${m.stableVersion}` }) : null,
        ),
        m.description ? h('p', { class: 'muted', text: m.description }) : null,
        m.flagDrift
          ? h('p', {
              class: 'message warn',
              'data-fact': 'flag-drift',
              text: `${m.flagDrift.detail ?? `Flag changed outside Aviary (${m.flagDrift.kind})`}${m.flagDrift.since ? ` · ${fmt.time(m.flagDrift.since)}` : ''}. Aviary publishes its split again; see the decision log.`,
            })
          : null,
      );
      if (m.rollouts.length === 0) card.append(h('p', { class: 'muted', text: 'No rollouts.' }));
      for (const r of m.rollouts) card.append(rolloutRow(r));
      card.append(
        h(
          'p',
          { class: 'small', 'data-fact': 'history' },
          h('span', { class: 'muted', text: `${m.history} ` }),
          h('a', { href: `/status/models/${encodeURIComponent(m.name)}`, text: 'Full history →' }),
        ),
      );
      body.push(card);
    }
    fill(app, ...body);
  }

  function rolloutRow(r) {
    return h(
      'a',
      { class: `rollout-row phase-row-${r.phase}`, href: `/status/rollouts/${r.id}`, 'data-rollout': r.id },
      h(
        'div',
        { class: 'row-head' },
        phaseBadge(r),
        h('strong', { text: ` ${r.candidate}` }),
        h('span', { class: 'muted', text: ` vs ${r.baseline}` }),
      ),
      h(
        'div',
        { class: 'row-facts' },
        stepFacts(r),
        nextText(r) ? h('span', { class: 'fact', 'data-fact': 'next', text: nextText(r) }) : null,
        !r.next ? h('span', { class: 'fact muted', text: `updated ${fmt.time(r.updatedAt)}` }) : null,
      ),
      splitBar(r),
      r.message && r.phase !== 'Progressing' ? h('p', { class: 'message', text: r.message }) : null,
    );
  }

  // ---------- one model's history ----------
  function renderModel(data) {
    const m = data.model;
    fill(
      app,
      h('p', { class: 'crumbs' }, h('a', { href: '/status', text: '← All rollouts' })),
      h(
        'section',
        { class: 'card', id: 'section-history', 'data-model': m.name },
        h(
          'h1',
          {},
          `${m.name}: history`,
          m.stableVersion ? h('span', { class: 'muted small', text: ` · stable: ${m.stableVersion}` }) : null,
        ),
        m.description ? h('p', { class: 'muted', text: m.description }) : null,
        h('p', { 'data-fact': 'history-summary', text: data.summary }),
        h(
          'ol',
          { class: 'history' },
          data.rollouts.map((r) =>
            h(
              'li',
              { class: `history-item phase-row-${r.phase}`, 'data-rollout': r.id },
              h(
                'div',
                { class: 'row-head' },
                phaseBadge(r),
                ' ',
                h('a', { href: `/status/rollouts/${r.id}`, text: r.candidate }),
                h('span', { class: 'muted', text: ` vs ${r.baseline}` }),
              ),
              h('div', {
                class: 'small muted',
                'data-fact': 'when',
                text: r.startedAt
                  ? `started ${fmt.time(r.startedAt)}${r.ending ? ` · ended ${fmt.time(r.ending.at)} by ${r.ending.by}` : ''}${r.attempts.length > 1 ? ` · ${r.attempts.length} attempts` : ''}`
                  : `created ${fmt.time(r.createdAt)}, not started`,
              }),
              r.attempts.length
                ? h(
                    'ul',
                    { class: 'attempt-list small' },
                    r.attempts.map((a) => h('li', { 'data-attempt': a.number, text: a.summary })),
                  )
                : null,
            ),
          ),
        ),
      ),
    );
    document.title = `${m.name}: history · Aviary`;
  }

  // ---------- one rollout ----------
  const sections = {};
  function section(id, title) {
    if (!sections[id]) {
      sections[id] = {
        root: h('section', { class: 'card', id: `section-${id}` }, title ? h('h2', { text: title }) : null),
        body: h('div', { class: 'section-body' }),
      };
      sections[id].root.append(sections[id].body);
    }
    return sections[id];
  }

  function renderRollout(data) {
    const r = data.rollout;
    if (!app.dataset.built) {
      fill(
        app,
        h('p', { class: 'crumbs' }, h('a', { href: '/status', text: '← All rollouts' })),
        section('header').root,
        section('timeline', 'Steps').root,
        section('comparison', 'Baseline vs candidate').root,
        section('cost', 'Cost').root,
        section('charts', 'Over time').root,
        section('shadow', 'Shadow comparison').root,
        section('decisions', 'Decision log').root,
      );
      app.dataset.built = '1';
    }
    renderHeader(r, data.attempts);
    renderTimeline(data.timeline, data.attempts);
    renderComparison(data.analysis);
    renderCost(data.analysis);
    renderCharts(data.series);
    renderShadow(data.analysis, data.examples);
    renderDecisions(data.decisions);
    document.title = `${r.model}: ${r.candidate} · Aviary`;
  }

  /** After a retry: which attempt this is, and how each earlier one ended. */
  function attemptsText(attempts) {
    if (!attempts || attempts.length < 2) return null;
    return h(
      'div',
      { class: 'attempts', 'data-fact': 'attempts' },
      h('p', { text: `Attempt ${attempts.length} of ${attempts.length}. Earlier:` }),
      h(
        'ul',
        {},
        attempts
          .slice(0, -1)
          .map((a) =>
            h(
              'li',
              { class: a.ending && a.ending.kind === 'rolledBack' ? 'warn' : '', 'data-attempt': a.number },
              `${a.summary}${a.ending ? ` (${fmt.time(a.ending.at)})` : ''}`,
            ),
          ),
      ),
    );
  }

  /** An ended rollout says how it ended (who, where, why); a running one shows its last message. */
  function headerMessage(r, attempts) {
    const last = attempts && attempts.length ? attempts[attempts.length - 1] : null;
    if ((r.phase === 'RolledBack' || r.phase === 'Healthy') && last && last.ending)
      return `${last.ending.headline} (${fmt.time(last.ending.at)})`;
    return r.message;
  }

  function renderHeader(r, attempts) {
    fill(
      section('header').body,
      h(
        'h1',
        {},
        `${r.model}: `,
        h('span', { text: r.candidate }),
        h('span', { class: 'muted', text: ` vs ${r.baseline}` }),
      ),
      h('p', { class: 'row-facts' }, phaseBadge(r), stepFacts(r)),
      splitBar(r),
      attemptsText(attempts),
      nextText(r) ? h('p', { 'data-fact': 'next', text: nextText(r) }) : null,
      headerMessage(r, attempts)
        ? h('p', {
            class: `message phase-msg-${r.phase}`,
            'data-fact': 'message',
            text: headerMessage(r, attempts),
          })
        : null,
    );
  }

  const STEP_TEXT = {
    done: 'passed',
    skipped: 'skipped (promoted past it)',
    current: 'now',
    paused: 'paused here',
    stopped: 'rolled back here',
    upcoming: 'ahead',
  };
  /** The current attempt's steps; earlier attempts (before a retry) below, each with how it ended. */
  function renderTimeline(steps, attempts) {
    const earlier = (attempts || []).slice(0, -1).reverse();
    fill(
      section('timeline').body,
      earlier.length ? h('h3', { text: `Attempt ${attempts.length} (now)` }) : null,
      stepList(steps, 'timeline'),
      earlier.map((a) =>
        h(
          'div',
          { class: 'earlier-attempt', 'data-attempt': a.number },
          h('h3', { text: a.summary }),
          stepList(a.steps, 'timeline timeline-earlier'),
        ),
      ),
    );
  }

  function stepList(steps, cls) {
    return h(
      'ol',
      { class: cls },
      steps.map((s) =>
        h(
          'li',
          { class: `step step-${s.status}`, 'data-step': s.index, 'data-status': s.status },
          h('span', { class: 'dot', 'aria-hidden': 'true' }),
          h('strong', { text: s.label }),
          h('span', { class: 'muted small', text: ` · ${STEP_TEXT[s.status] || s.status}` }),
          h(
            'div',
            { class: 'small muted' },
            s.startedAt
              ? `${fmt.time(s.startedAt)}${s.endedAt ? ` → ${fmt.time(s.endedAt)} (${fmt.duration((new Date(s.endedAt) - new Date(s.startedAt)) / 1000)})` : ''}`
              : s.minDurationSeconds === null
                ? 'waits for an approval'
                : `at least ${fmt.duration(s.minDurationSeconds)}`,
          ),
        ),
      ),
    );
  }

  function intervalText(interval) {
    if (!interval) return '';
    return ` [${fmt.signedPct(interval.lower)}, ${interval.upper === null ? '+∞' : fmt.signedPct(interval.upper)}]`;
  }
  function limitText(g) {
    const rel =
      g.metric === 'outputLengthDrop' ? `≥ ${fmt.signedPct(g.limit)}` : `≤ ${fmt.signedPct(g.limit)}`;
    return g.ceiling !== null && g.ceiling !== undefined
      ? `${rel}, at most ${fmt.metric(g.metric, g.ceiling)}`
      : rel;
  }

  /** One line in words (the sentence comes from the analysis), the figures one click away. */
  function renderCost(a) {
    const s = section('cost');
    if (!a || !a.cost) {
      fill(s.body, h('p', { class: 'muted', text: 'No cost for this rollout.' }));
      return;
    }
    const c = a.cost;
    const usd = (v) => (v === null ? '—' : `$${v.toPrecision(2)}`);
    const row = (name, arm) =>
      h(
        'tr',
        { 'data-arm': name },
        h('th', { scope: 'row', text: name }),
        h('td', { text: usd(arm.perAnswerUsd) }),
        h('td', { text: usd(arm.perRequestUsd) }),
        h('td', { text: `$${arm.totalUsd.toFixed(arm.totalUsd >= 1 ? 2 : 4)}` }),
        h('td', { class: 'small muted', text: fmt.count(arm.pricedRequests) }),
      );
    fill(
      s.body,
      h('p', { class: 'summary', 'data-fact': 'cost', text: c.sentence }),
      h(
        'details',
        {},
        h('summary', { text: 'Figures' }),
        h(
          'table',
          {},
          h(
            'tr',
            {},
            ...['', 'per useful answer', 'per request', 'total', 'priced requests'].map((t) =>
              h('th', { text: t }),
            ),
          ),
          row('baseline', c.baseline),
          row(a.candidateRole === 'shadow' ? 'shadow' : 'candidate', c.candidate),
        ),
      ),
    );
  }

  function renderComparison(a) {
    const s = section('comparison');
    if (!a) {
      fill(s.body, h('p', { class: 'muted', text: 'No analysis for this rollout.' }));
      return;
    }
    const candidateName = a.candidateRole === 'shadow' ? 'Shadow' : 'Candidate';
    s.root.querySelector('h2').textContent =
      a.candidateRole === 'shadow'
        ? 'Baseline vs shadow copies (this step)'
        : 'Baseline vs candidate (this step)';
    const openNumbers = new Set(
      [...s.body.querySelectorAll('tr[data-metric] details[open]')].map(
        (d) => d.closest('tr').dataset.metric,
      ),
    );
    const rows = a.guardrails.map((g) =>
      h(
        'tr',
        { 'data-metric': g.metric, 'data-standing': g.line.standing, class: `tone-row-${g.line.tone}` },
        h('th', { scope: 'row', text: g.label }),
        h(
          'td',
          { 'data-col': 'words' },
          h('strong', { class: 'line', text: g.line.headline }),
          g.plain ? h('p', { class: 'small', 'data-col': 'plain', text: g.plain }) : null,
        ),
        h(
          'td',
          { 'data-col': 'verdict' },
          h('span', { class: `badge tone-${g.line.tone}`, text: g.line.status }),
        ),
        h(
          'td',
          { 'data-col': 'numbers' },
          h(
            'details',
            { open: openNumbers.has(g.metric) },
            h('summary', { text: 'Numbers' }),
            h(
              'dl',
              { class: 'numbers' },
              [
                ['Baseline', 'baseline', fmt.metric(g.metric, g.baseline)],
                [candidateName, 'candidate', fmt.metric(g.metric, g.candidate)],
                ['Change', 'difference', g.relativeChange === null ? '—' : fmt.signedPct(g.relativeChange)],
                ['Interval', 'interval', g.interval ? intervalText(g.interval).trim() : '—'],
                ['Allowed', 'limit', limitText(g)],
                [
                  'Samples',
                  'samples',
                  `${fmt.count(g.samples.baseline)} / ${fmt.count(g.samples.candidate)}`,
                ],
              ].map(([k, col, v]) => [h('dt', { text: k }), h('dd', { 'data-col': col, text: v })]),
            ),
          ),
        ),
      ),
    );
    fill(
      s.body,
      h('p', { class: `summary tone-${a.plain.tone}`, 'data-fact': 'verdict', text: a.plain.headline }),
      h(
        'p',
        { class: 'small muted' },
        `${a.arms.baseline.versionLabel}: ${fmt.count(a.arms.baseline.requests)} requests${a.baselineSource === 'none' ? ' (it serves nobody in this step: judged on the earlier steps)' : ''} · ` +
          `${a.arms.candidate.versionLabel}: ${fmt.count(a.arms.candidate.requests)} ${a.candidateRole === 'shadow' ? 'shadow copies' : 'requests'}` +
          (a.requirement === 'harmBound'
            ? ' · this step leads to everyone: each guardrail must be shown safe, not just look fine'
            : a.requirement
              ? ' · this step goes on unless a guardrail shows harm'
              : ''),
      ),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'comparison' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Guardrail', 'In words', 'Status', 'Figures'].map((t) => h('th', { scope: 'col', text: t })),
            ),
          ),
          h('tbody', {}, rows),
        ),
      ),
      h(
        'details',
        { class: 'why' },
        h('summary', { text: 'The statistics, in full' }),
        h(
          'p',
          { class: 'small' },
          `Intervals are always-valid (they stay right however often the page looks) at ${fmt.pct(a.alpha, 0)} error over all guardrails. `,
          a.summary,
        ),
      ),
      a.disabledLabels && a.disabledLabels.length
        ? h('p', { class: 'small muted', text: `Not checked: ${a.disabledLabels.join(', ')}` })
        : null,
      a.golden
        ? h('p', {
            'data-fact': 'golden',
            text: a.golden.result ? a.golden.result.summary : 'Golden set: running against both versions…',
          })
        : null,
    );
  }

  const CHARTS = [
    { key: 'refusalRate', title: 'Refusal rate' },
    { key: 'errorRate', title: 'Error rate' },
    { key: 'silentFailureRate', title: 'Empty or broken outputs' },
    { key: 'thumbsDownRate', title: 'Thumbs-down rate' },
    { key: 'latencyP95Ms', title: 'Latency p95' },
    { key: 'meanOutputTokens', title: 'Output length (mean tokens)' },
  ];
  const COLORS = { baseline: '#2563eb', candidate: '#ea580c', shadow: '#9333ea' };

  function renderCharts(series) {
    const s = section('charts');
    if (!s.grid) {
      s.grid = h('div', { class: 'charts' });
      s.note = h('p', { class: 'small muted' });
      fill(s.body, s.note, s.grid);
    }
    const total = series.reduce((n, arm) => n + arm.points.length, 0);
    s.note.textContent =
      total === 0
        ? 'No traffic recorded yet. Charts appear once the analyzer has evidence.'
        : 'Per time bucket (one minute by default), per version and role.';
    for (const c of CHARTS) {
      const datasets = series.map((arm) => ({
        label: arm.key,
        data: arm.points.filter((p) => p[c.key] !== null).map((p) => ({ x: Date.parse(p.t), y: p[c.key] })),
        borderColor: COLORS[arm.role] || '#64748b',
        backgroundColor: COLORS[arm.role] || '#64748b',
        borderDash: arm.role === 'shadow' ? [6, 4] : [],
        pointRadius: 2,
        tension: 0,
        spanGaps: true,
      }));
      let entry = state.charts.get(c.key);
      if (!entry) {
        const canvas = h('canvas', { 'data-chart': c.key, 'aria-label': `${c.title} over time` });
        const box = h(
          'figure',
          { class: 'chart' },
          h('figcaption', { text: c.title }),
          h('div', { class: 'chart-box' }, canvas),
        );
        s.grid.append(box);
        entry = { box, chart: typeof Chart === 'function' ? newChart(canvas, c.key) : null };
        state.charts.set(c.key, entry);
      }
      if (entry.chart) {
        entry.chart.data.datasets = datasets;
        entry.chart.update('none');
      }
      entry.box.dataset.points = String(datasets.reduce((n, d) => n + d.data.length, 0));
    }
  }

  /** Clock times on the x axis, with seconds when the chart spans less than a quarter of an hour. */
  function axisTime(v, ticks) {
    const span = ticks.length > 1 ? ticks[ticks.length - 1].value - ticks[0].value : 0;
    const opts =
      span < 15 * 60 * 1000
        ? { hour: '2-digit', minute: '2-digit', second: '2-digit' }
        : { hour: '2-digit', minute: '2-digit' };
    return new Date(v).toLocaleTimeString([], opts);
  }

  function newChart(canvas, key) {
    return new Chart(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'nearest', intersect: false },
        scales: {
          x: {
            type: 'linear',
            ticks: {
              maxTicksLimit: 5,
              callback: (v, _i, ticks) => axisTime(v, ticks),
            },
          },
          y: { beginAtZero: true, ticks: { maxTicksLimit: 5, callback: (v) => fmt.metric(key, v) } },
        },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              title: (items) => (items.length ? fmt.time(new Date(items[0].parsed.x).toISOString()) : ''),
              label: (item) => `${item.dataset.label}: ${fmt.metric(key, item.parsed.y)}`,
            },
          },
        },
      },
    });
  }

  function renderShadow(a, examples) {
    const s = section('shadow');
    const shadow = a && a.shadow;
    const judge = a && a.judge;
    const facts = [];
    if (shadow) {
      facts.push(
        ['Pairs compared', fmt.count(shadow.pairs)],
        ['Identical answers', fmt.pct(shadow.exactMatchRate)],
        [
          'Similarity (mean)',
          shadow.meanSimilarity === null
            ? '—'
            : `${fmt.pct(shadow.meanSimilarity)}${shadow.similarityInterval ? ` (likely between ${fmt.pct(shadow.similarityInterval.lower)} and ${fmt.pct(shadow.similarityInterval.upper)})` : ''}`,
        ],
        [
          'Length, shadow / baseline',
          shadow.meanLengthRatio === null ? '—' : `${trim(shadow.meanLengthRatio.toFixed(2))}×`,
        ],
        ['Only the shadow refused', fmt.pct(shadow.shadowOnlyRefusalRate)],
        ['Only the baseline refused', fmt.pct(shadow.baselineOnlyRefusalRate)],
        ['Shadow errors', fmt.pct(shadow.shadowErrorRate)],
      );
    }
    if (judge) {
      facts.push([
        'Judge: shadow wins or ties',
        judge.winOrTieRate === null
          ? 'no verdicts yet'
          : `${fmt.pct(judge.winOrTieRate)} of ${fmt.count(judge.judged)}${judge.interval ? ` (likely between ${fmt.pct(judge.interval.lower)} and ${fmt.pct(judge.interval.upper)})` : ''} · ${VERDICT_TEXT[judge.verdict] || judge.verdict}`,
      ]);
    }
    const list = facts.length
      ? h(
          'dl',
          { class: 'facts' },
          facts.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]),
        )
      : h('p', {
          class: 'muted',
          text: 'The shadow comparison is shown while the rollout is in its shadow step.',
        });
    const pairs = examples.length
      ? h(
          'div',
          { class: 'examples' },
          h('h3', { text: 'Example pairs' }),
          examples.map((e) =>
            h(
              'article',
              { class: 'pair' },
              e.prompt
                ? h('p', { class: 'prompt' }, h('span', { class: 'muted', text: 'Prompt: ' }), e.prompt)
                : h('p', { class: 'muted small', text: 'Prompt not captured' }),
              h(
                'div',
                { class: 'pair-cols' },
                h(
                  'div',
                  {},
                  h('div', {
                    class: 'small muted',
                    text: `Baseline${e.baselineRefusal ? ' · refused' : ''}`,
                  }),
                  h('pre', { text: e.baseline ?? '(no answer)' }),
                ),
                h(
                  'div',
                  {},
                  h('div', {
                    class: 'small muted',
                    text: `Shadow${e.shadowRefusal ? ' · refused' : ''}${e.similarity !== null ? ` · ${fmt.pct(e.similarity, 0)} similar` : ''}`,
                  }),
                  h('pre', { text: e.shadow ?? '(no answer)' }),
                ),
              ),
            ),
          ),
        )
      : null;
    fill(s.body, list, pairs);
  }

  function renderDecisions(decisions) {
    const s = section('decisions');
    for (const d of s.body.querySelectorAll('details[open]')) state.openDetails.add(d.dataset.id);
    for (const d of s.body.querySelectorAll('details:not([open])')) state.openDetails.delete(d.dataset.id);
    fill(
      s.body,
      decisions.length === 0
        ? h('p', { class: 'muted', text: 'No decisions yet.' })
        : h(
            'ol',
            { class: 'decisions' },
            decisions.map((d) =>
              h(
                'li',
                { class: `decision tone-${d.tone}`, 'data-type': d.type },
                h('div', {
                  class: 'small muted',
                  text: `${fmt.time(d.at)} · ${d.automatic ? 'Aviary' : d.actor}`,
                }),
                h('p', { class: 'headline', text: d.headline }),
                d.detail && d.detail !== d.headline
                  ? h(
                      'details',
                      { 'data-id': d.id, open: state.openDetails.has(d.id) },
                      h('summary', { text: 'Details' }),
                      h('p', { class: 'small', text: d.detail }),
                    )
                  : null,
              ),
            ),
          ),
    );
  }

  // ---------- polling ----------
  async function load() {
    const url =
      page === 'rollout'
        ? `/status/api/rollouts/${encodeURIComponent(rolloutId)}`
        : page === 'model'
          ? `/status/api/models/${encodeURIComponent(modelName)}`
          : '/status/api/overview';
    const res = await fetch(url, {
      credentials: 'same-origin',
      headers: { accept: 'application/json' },
      cache: 'no-store',
      // A request that never answers must not stop the polling.
      signal: AbortSignal.timeout(Math.max(10_000, refreshMs * 5)),
    });
    if (res.status === 401) {
      // Signed out (token revoked or the session ended): the page itself shows the sign-in form.
      window.location.reload();
      return null;
    }
    if (res.status === 404) {
      fill(
        app,
        h('h1', { text: 'Not found' }),
        h('p', { text: page === 'model' ? 'This model does not exist.' : 'This rollout does not exist.' }),
        h('a', { href: '/status', text: 'All rollouts' }),
      );
      return null;
    }
    if (!res.ok) throw new Error(`the server answered ${res.status}`);
    return res.json();
  }

  let failures = 0;
  let timer = null;
  let inflight = false;
  async function refresh() {
    if (inflight) return;
    inflight = true;
    clearTimeout(timer);
    try {
      const data = await load();
      if (!data) return;
      if (page === 'rollout') renderRollout(data);
      else if (page === 'model') renderModel(data);
      else renderOverview(data);
      state.renders += 1;
      state.lastData = data;
      failures = 0;
      if (freshness) {
        freshness.textContent = `Live · updated ${fmt.time(data.generatedAt)}`;
        freshness.classList.remove('stale');
      }
    } catch (err) {
      failures += 1;
      if (freshness) {
        freshness.textContent = `Cannot reach Aviary (${err instanceof Error ? err.message : String(err)}); retrying…`;
        freshness.classList.add('stale');
      }
    } finally {
      inflight = false;
    }
    // Slower in a background tab, and backing off while the server is unreachable.
    const delay = document.hidden ? refreshMs * 5 : refreshMs * Math.min(2 ** failures, 15);
    timer = setTimeout(() => void refresh(), delay);
  }
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.renders > 0) void refresh();
  });
  void refresh();
})();
