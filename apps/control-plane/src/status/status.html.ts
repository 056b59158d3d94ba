/** The status page's HTML shells. Data is rendered by status.js from the JSON endpoints. */

export const STATUS_ASSETS = {
  'status.js': 'text/javascript; charset=utf-8',
  'status.css': 'text/css; charset=utf-8',
  'chart.umd.min.js': 'text/javascript; charset=utf-8',
} as const;
export type StatusAsset = keyof typeof STATUS_ASSETS;

/** What the browser may load: only this origin's scripts and styles, never inside a frame. */
export const STATUS_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  // A token link must not leak through the Referer header to other sites. same-origin rather than
  // no-referrer: with no-referrer the browser sends `Origin: null` on the page's own sign-in form,
  // which the login-CSRF check cannot tell from a cross-site post.
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, body: string, opts: { scripts?: boolean } = {}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)} · Aviary</title>
<link rel="stylesheet" href="/status/assets/status.css">
${opts.scripts ? '<script src="/status/assets/chart.umd.min.js" defer></script>\n<script src="/status/assets/status.js" defer></script>' : ''}
</head>
<body>
<header class="top"><a class="brand" href="/status">Aviary</a><span class="sub">rollout status</span></header>
${body}
</body>
</html>
`;
}

/** The overview or a rollout's page; status.js fills `#app` and keeps it fresh. */
export function pageShell(
  page: { kind: 'overview' } | { kind: 'rollout'; id: string } | { kind: 'model'; name: string },
  viewer: { name: string; public: boolean },
  refreshMs: number,
  /** A setting every reader must see, above every page (AVIARY_ANALYSIS=time-only). */
  notice: string | null = null,
): string {
  const data =
    page.kind === 'rollout'
      ? `data-page="rollout" data-rollout-id="${escapeHtml(page.id)}"`
      : page.kind === 'model'
        ? `data-page="model" data-model-name="${escapeHtml(page.name)}"`
        : 'data-page="overview"';
  const who = viewer.public
    ? '<span class="who">public view</span>'
    : `<form class="who" method="post" action="/status/logout"><span>signed in as ${escapeHtml(viewer.name)}</span> <button type="submit">Sign out</button></form>`;
  return layout(
    page.kind === 'rollout' ? 'Rollout' : page.kind === 'model' ? `${page.name}: history` : 'Rollouts',
    `${notice ? `<p class="notice" role="alert" id="analysis-off">${escapeHtml(notice[0]!.toUpperCase() + notice.slice(1))}.</p>\n` : ''}<main id="app" ${data} data-refresh-ms="${refreshMs}">
<p class="muted" id="loading">Loading…</p>
</main>
<footer class="foot">${who}<span id="freshness" class="muted" aria-live="polite"></span></footer>
<noscript><p>The status page needs JavaScript to show live data. The same data is in the admin API (/api/v1).</p></noscript>`,
    { scripts: true },
  );
}

export function loginPage(opts: { next: string; error?: string }): string {
  return layout(
    'Sign in',
    `<main class="login">
<h1>Sign in to the status page</h1>
<p>Paste an Aviary API token. A <strong>viewer</strong> token is enough: the page only reads.</p>
${opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : ''}
<form method="post" action="/status/login">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<input type="hidden" name="next" value="${escapeHtml(opts.next)}">
<button type="submit">Sign in</button>
</form>
<p class="muted">No token? An admin creates one with
<code>POST /api/v1/tokens {"name": "pm-dashboard", "role": "viewer"}</code>, or shares a link
<code>/status?token=…</code>.</p>
</main>`,
  );
}

export function notFoundPage(what: string): string {
  return messagePage('Not found', what);
}

export function messagePage(title: string, what: string): string {
  return layout(
    title,
    `<main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(what)}</p><p><a href="/status">All rollouts</a></p></main>`,
  );
}
