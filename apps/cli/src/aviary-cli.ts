import { parseArgs } from 'node:util';
import { ApiClient, CliError, EXIT } from './api-client';
import { completionScript } from './completion';
import {
  type AnalysisView,
  eventsTable,
  routerKeysTable,
  tokensTable,
  type EventView,
  historyTable,
  modelsTable,
  type ModelView,
  rolloutsTable,
  rolloutView,
  type RolloutView,
  shortId,
  type TimeStyle,
  type RouterKeyView,
  type TokenView,
  versionDiffText,
  type VersionDiffView,
} from './format';
import { parsePlanFile } from './plan-file';

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new CliError(`${flag} must be a positive whole number`, EXIT.usage);
  return n;
}

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Asks a yes/no question on a terminal; null when there is no terminal to ask on. */
  confirm(question: string): Promise<boolean | null>;
  /** A file's text, or null when it cannot be read. */
  readFile(path: string): string | null;
  /** Whether the output is a terminal (`--watch` redraws in place). */
  readonly isTTY: boolean;
  sleep(ms: number): Promise<void>;
  now(): number;
}

export interface CliSetup {
  readonly version: string;
  /**
   * Where the embedded setup (`npm start`) keeps its admin token, tried in order when AVIARY_TOKEN
   * is unset and Aviary is on this machine.
   */
  readonly tokenFiles: readonly string[];
}

export const USAGE = `aviary — on-call commands for Aviary rollouts

usage: aviary <command> [arguments] [--json] [--utc]

  status [model]                         models and active rollouts; with a model, its rollout in full
  get rollout <rollout> [--watch] [--interval s]
                                         where a rollout stands: steps, split, analysis per guardrail,
                                         latest decisions; --watch follows it until it ends (exit 0
                                         when it completed, 1 when it rolled back)
  get rollouts | rollouts [--model m] [--active]
                                         list rollouts, newest first
  history <model> [--limit n]            a model's rollouts and how each ended
  diff <model> <version> <version>       what changes between two versions: upstream, parameters,
                                         prompt variables, and the system prompt line by line
  events <rollout> [--detail]            the decision log in plain words, oldest first
  create -f <plan.yaml|json> [--start] [--reason r]
                                         create a rollout from a file (the POST /api/v1/rollouts body)
  start <rollout>
  promote <rollout> [--full] [--reason r] [--yes]
                                         the next step now; asks first when that completes the rollout
  pause <rollout> [--reason r]
  resume <rollout>
  abort | rollback <rollout> --reason r [--yes]
                                         the kill switch: the baseline serves everyone again. Asks first
  retry <rollout> --reason r             start a rolled-back rollout again from its first step
  revert <model> --reason r [--yes]      after a completed rollout: the version it replaced is stable again
  keys create <name> [--models a,b] [--rpm n] [--tokens-per-day n] [--may-force-version]
                                         a router API key for clients (shown once; admin token)
  keys list                              router API keys (never their values)
  keys revoke <id|name>                  routers refuse it from their next poll
  tokens list                            API tokens, e.g. the status-page link's (never their values)
  tokens revoke <id|name>                end a token now, e.g. a shared status-page link:
                                         aviary tokens revoke status-page-link (admin token)
  completion bash|zsh                    shell completion (source <(aviary completion bash))
  --version

<rollout> is a model name (its newest rollout, i.e. the active one), a rollout id, or the first 4 or
more characters of one (as shown by \`aviary rollouts\`).

environment: AVIARY_URL (default http://127.0.0.1:$AVIARY_CONTROL_PLANE_PORT, port 8080),
AVIARY_TOKEN (an operator token; viewer for read-only commands; unset: the admin token \`npm start\`
saved in $AVIARY_DATA_DIR or .aviary/admin-token, for an Aviary on this machine), AVIARY_TIMEOUT_MS;
--url and --token override them. Times are local (TZ); --utc prints UTC.
With npm, run it as \`npm run -s aviary -- …\` (-s keeps npm's banner out of --json output).

exit codes: 0 ok, 1 failed (or a watched rollout rolled back), 2 usage or invalid input, 3 token
refused or role too weak, 4 not found, 5 conflict (e.g. the rollout is not in a state that allows
it), 6 Aviary unreachable.`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const TERMINAL_PHASES = new Set(['Healthy', 'RolledBack']);

function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}

/** Runs one command; returns the process exit code. Never throws. */
export async function runCli(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  io: CliIo,
  setup: CliSetup = { version: 'unknown', tokenFiles: [] },
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        utc: { type: 'boolean', default: false },
        yes: { type: 'boolean', short: 'y', default: false },
        full: { type: 'boolean', default: false },
        active: { type: 'boolean', default: false },
        watch: { type: 'boolean', short: 'w', default: false },
        interval: { type: 'string' },
        start: { type: 'boolean', default: false },
        detail: { type: 'boolean', default: false },
        file: { type: 'string', short: 'f' },
        limit: { type: 'string' },
        reason: { type: 'string' },
        model: { type: 'string' },
        models: { type: 'string' },
        rpm: { type: 'string' },
        'tokens-per-day': { type: 'string' },
        'may-force-version': { type: 'boolean', default: false },
        url: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    io.err(`aviary: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { values: o, positionals } = parsed;
  const [command, ...args] = positionals;
  if (o.version || command === 'version') {
    io.out(o.json ? JSON.stringify({ version: setup.version }) : `aviary ${setup.version}`);
    return EXIT.ok;
  }
  if (o.help || !command) {
    if (o.help) io.out(USAGE);
    else io.err(USAGE);
    return o.help ? EXIT.ok : EXIT.usage;
  }
  if (command === 'completion') {
    const script = completionScript(args[0] ?? '');
    if (!script) {
      io.err('aviary: completion needs a shell: bash or zsh');
      return EXIT.usage;
    }
    io.out(script);
    return EXIT.ok;
  }
  const url = (
    o.url ??
    env['AVIARY_URL'] ??
    `http://127.0.0.1:${env['AVIARY_CONTROL_PLANE_PORT']?.trim() || '8080'}`
  ).replace(/\/+$/, '');
  // The embedded setup's token file is only ever sent to an Aviary on this machine.
  const token =
    o.token ??
    env['AVIARY_TOKEN'] ??
    (isLoopback(url)
      ? setup.tokenFiles.map((f) => io.readFile(f)?.trim()).find((t): t is string => Boolean(t))
      : undefined);
  const time = (): TimeStyle => ({ utc: o.utc, now: io.now() });
  const print = (json: unknown, text: string) => io.out(o.json ? JSON.stringify(json, null, 2) : text);
  try {
    if (command === '__complete') {
      // For shell completion: model names, quietly nothing when Aviary cannot be asked.
      if (!token) return EXIT.ok;
      const models = await new ApiClient(url, token, 3000)
        .call<{ items: ModelView[] }>('GET', '/api/v1/models')
        .catch(() => ({ items: [] }));
      if (models.items.length > 0) io.out(models.items.map((m) => m.name).join('\n'));
      return EXIT.ok;
    }
    if (!token)
      throw new CliError(
        `AVIARY_TOKEN is not set (or pass --token); on the machine running \`npm start\` the CLI reads its ${setup.tokenFiles[0] ?? '.aviary/admin-token'}`,
        EXIT.usage,
      );
    const timeout = Number(env['AVIARY_TIMEOUT_MS'] ?? '');
    const api = new ApiClient(url, token, Number.isInteger(timeout) && timeout > 0 ? timeout : undefined);
    const [first, ...more] = args;
    const noMore = (rest: readonly string[]) => {
      if (rest.length > 0) throw new CliError(`unexpected argument ${JSON.stringify(rest[0])}`, EXIT.usage);
    };
    const need = (what: string, value: string | undefined = first): string => {
      if (!value) throw new CliError(`${command} needs a ${what}`, EXIT.usage);
      return value;
    };
    const reason = o.reason?.trim() || undefined;
    const needReason = (verb: string): string => {
      if (!reason)
        throw new CliError(`${verb} needs --reason "…" (it goes into the decision log)`, EXIT.usage);
      return reason;
    };
    /** A rollout id from what people type: an id, a 4+ character prefix of one, or a model name. */
    const resolve = async (ref: string): Promise<string> => {
      if (UUID.test(ref)) return ref.toLowerCase();
      try {
        return (await api.call<{ id: string }>('GET', `/api/v1/rollout-refs/${encodeURIComponent(ref)}`)).id;
      } catch (err) {
        // Ambiguous: more characters are needed, which is the caller's to give.
        if (err instanceof CliError && err.exitCode === EXIT.conflict)
          throw new CliError(err.message, EXIT.usage, err.problem);
        throw err;
      }
    };
    const getRollout = (id: string) => api.call<RolloutView>('GET', `/api/v1/rollouts/${id}`);
    const events = (id: string) =>
      api
        .call<{ items: EventView[] }>('GET', `/api/v1/rollouts/${id}/events?limit=1000`)
        .then((l) => l.items);
    const analysis = (r: RolloutView) =>
      r.phase === 'Progressing' || r.phase === 'Paused'
        ? api.call<AnalysisView>('GET', `/api/v1/rollouts/${r.id}/analysis`).catch(() => null)
        : Promise.resolve(null);
    const fullView = async (id: string) => {
      const r = await getRollout(id);
      const [a, e] = await Promise.all([analysis(r), events(id)]);
      return { rollout: r, analysis: a, events: e };
    };
    const act = async (id: string, verb: string, body: unknown, headers: Record<string, string> = {}) =>
      api.call<RolloutView>('POST', `/api/v1/rollouts/${id}/${verb}`, body, headers);
    const list = async () => {
      const q = new URLSearchParams({ limit: '50' });
      if (o.model) q.set('model', o.model);
      if (o.active) q.set('active', 'true');
      const l = await api.call<{ items: RolloutView[] }>('GET', `/api/v1/rollouts?${q.toString()}`);
      print(l, rolloutsTable(l.items, time()));
    };

    switch (command) {
      case 'status': {
        noMore(more);
        if (first) {
          const model = await api.call<ModelView & { activeRollout: { id: string } | null }>(
            'GET',
            `/api/v1/models/${encodeURIComponent(first)}`,
          );
          if (!model.activeRollout) {
            print(
              model,
              `${model.name}: no active rollout; stable version ${model.stableVersion?.label ?? '-'}`,
            );
            break;
          }
          const v = await fullView(model.activeRollout.id);
          print({ model, ...v }, rolloutView(v.rollout, time(), v));
          break;
        }
        const [models, rollouts] = await Promise.all([
          api.call<{ items: ModelView[] }>('GET', '/api/v1/models'),
          api.call<{ items: RolloutView[] }>('GET', '/api/v1/rollouts?active=true&limit=100'),
        ]);
        print(
          { models: models.items, activeRollouts: rollouts.items },
          `${modelsTable(models.items)}\n\nactive rollouts:\n${rolloutsTable(rollouts.items, time())}`,
        );
        break;
      }
      case 'get': {
        const kind = need('resource: rollout <rollout> or rollouts');
        if (kind === 'rollouts') {
          noMore(more);
          await list();
          break;
        }
        if (kind !== 'rollout' && kind !== 'ro')
          throw new CliError(`cannot get ${JSON.stringify(kind)}: rollout <rollout> or rollouts`, EXIT.usage);
        const [ref, ...rest] = more;
        noMore(rest);
        const id = await resolve(need('rollout (a model name or rollout id)', ref));
        if (!o.watch) {
          const v = await fullView(id);
          print(v, rolloutView(v.rollout, time(), v));
          break;
        }
        return await watch(id);
      }
      case 'rollouts':
        noMore(args);
        await list();
        break;
      case 'history': {
        noMore(more);
        const model = await api.call<ModelView>('GET', `/api/v1/models/${encodeURIComponent(need('model'))}`);
        const limit = Number(o.limit ?? 20);
        if (!Number.isInteger(limit) || limit < 1 || limit > 200)
          throw new CliError('--limit must be a whole number from 1 to 200', EXIT.usage);
        const q = new URLSearchParams({ model: model.name, limit: String(limit) });
        const l = await api.call<{ items: RolloutView[] }>('GET', `/api/v1/rollouts?${q.toString()}`);
        print(l, historyTable(l.items, time()));
        break;
      }
      case 'diff': {
        const [a, b, ...rest] = more;
        noMore(rest);
        // `need` falls back to the first argument when given undefined: check the labels here.
        if (!first || !a || !b) throw new CliError('diff needs a model and two version labels', EXIT.usage);
        const path = `/api/v1/models/${encodeURIComponent(first)}/versions/${encodeURIComponent(a)}/diff/${encodeURIComponent(b)}`;
        const d = await api.call<VersionDiffView>('GET', path);
        print(d, versionDiffText(first, d));
        break;
      }
      case 'events': {
        noMore(more);
        const id = await resolve(need('rollout'));
        const [r, items] = await Promise.all([getRollout(id), events(id)]);
        print({ items }, eventsTable(items, r.plan, time(), o.detail));
        break;
      }
      case 'create': {
        noMore(args);
        const file = need('plan file: -f plan.yaml', o.file);
        const body = parsePlanFile(file, io.readFile(file));
        if (reason) body['reason'] = reason;
        let r = await api.call<RolloutView>('POST', '/api/v1/rollouts', body);
        if (o.start) r = await act(r.id, 'start', {});
        print(
          r,
          `created rollout ${shortId(r.id)}${o.start ? ' and started it' : ` (start it: aviary start ${shortId(r.id)})`}\n${rolloutView(r, time())}`,
        );
        break;
      }
      case 'revert': {
        noMore(more);
        const model = need('model name');
        const why = needReason('revert');
        if (!o.yes) {
          const answer = await io.confirm(`Revert ${model} to the version its last rollout replaced? [y/N] `);
          if (answer === null)
            throw new CliError('not asking without a terminal: pass --yes to revert', EXIT.usage);
          if (!answer) {
            io.err('not reverted');
            return EXIT.failed;
          }
        }
        const r = await api.call<RolloutView>('POST', `/api/v1/models/${encodeURIComponent(model)}/revert`, {
          reason: why,
        });
        print(r, `reverted: ${r.model.name} serves ${r.baseline.label} again\n${rolloutView(r, time())}`);
        break;
      }
      case 'start':
      case 'pause':
      case 'resume': {
        noMore(more);
        const id = await resolve(need('rollout'));
        const r = await act(id, command, command === 'pause' && reason ? { reason } : {});
        const done = command === 'start' ? 'started' : command === 'pause' ? 'paused' : 'resumed';
        print(r, `${done}\n${rolloutView(r, time())}`);
        break;
      }
      case 'promote': {
        noMore(more);
        const id = await resolve(need('rollout'));
        const before = await getRollout(id);
        const completes =
          o.full ||
          ((before.phase === 'Progressing' || before.phase === 'Paused') &&
            before.step.index >= before.step.total - 1);
        if (completes && !o.yes) {
          const what = `${before.candidate.label} becomes the stable version of ${before.model.name} for everyone`;
          const answer = await io.confirm(
            `Promoting now completes the rollout: ${what}. Complete it? [y/N] `,
          );
          if (answer === null)
            throw new CliError(
              `promoting now completes the rollout (${what}); not asking without a terminal: pass --yes`,
              EXIT.usage,
            );
          if (!answer) {
            io.err('not promoted');
            return EXIT.failed;
          }
        }
        // Conditional on what was looked at: if the rollout moved meanwhile, decide again (409).
        const r = await act(
          id,
          'promote',
          { ...(o.full ? { full: true } : {}), ...(reason ? { reason } : {}) },
          { 'if-match': `"${before.version}"` },
        );
        print(r, `${r.phase === 'Healthy' ? 'completed' : 'promoted'}\n${rolloutView(r, time())}`);
        break;
      }
      case 'abort':
      case 'rollback': {
        noMore(more);
        const what = need('rollout (a model name or rollout id)');
        const why = needReason(command);
        if (!o.yes) {
          const answer = await io.confirm(`Roll back ${what}? Everyone goes back to the baseline. [y/N] `);
          if (answer === null)
            throw new CliError(`not asking without a terminal: pass --yes to ${command}`, EXIT.usage);
          if (!answer) {
            io.err('not rolled back');
            return EXIT.failed;
          }
        }
        const r = await rollback(what, why);
        const reached = r.publication?.reachedFlagSource !== false;
        print(
          r,
          reached
            ? `rolled back: ${r.model.name} serves ${r.baseline.label} to everyone\n${rolloutView(r, time())}`
            : `rolled back in Aviary: ${r.model.name} goes back to ${r.baseline.label} as soon as the flag source takes the change\n${rolloutView(r, time())}`,
        );
        break;
      }
      case 'retry': {
        noMore(more);
        const id = await resolve(need('rollout'));
        const r = await act(id, 'retry', { reason: needReason('retry') });
        print(r, `retried: starting again from the first step\n${rolloutView(r, time())}`);
        break;
      }
      case 'keys': {
        const [name, ...rest] = more;
        noMore(rest);
        switch (first) {
          case 'create': {
            if (!name) throw new CliError('keys create needs a name', EXIT.usage);
            const body = {
              name,
              ...(o.models ? { models: o.models.split(',').map((m) => m.trim()) } : {}),
              ...(o.rpm !== undefined ? { requestsPerMinute: positiveInt(o.rpm, '--rpm') } : {}),
              ...(o['tokens-per-day'] !== undefined
                ? { tokensPerDay: positiveInt(o['tokens-per-day'], '--tokens-per-day') }
                : {}),
              ...(o['may-force-version'] ? { mayForceVersion: true } : {}),
            };
            const k = await api.call<RouterKeyView & { key: string }>('POST', '/api/v1/router-keys', body);
            print(
              k,
              `${k.key}
(router key ${k.name}, id ${k.id}: shown once, keep it now)`,
            );
            break;
          }
          case 'list': {
            const list = await api.call<{ items: RouterKeyView[] }>('GET', '/api/v1/router-keys');
            print(list, routerKeysTable(list.items, time()));
            break;
          }
          case 'revoke': {
            if (!name) throw new CliError('keys revoke needs a key id or name', EXIT.usage);
            let id = name;
            if (!UUID.test(name)) {
              const list = await api.call<{ items: RouterKeyView[] }>('GET', '/api/v1/router-keys');
              const found = list.items.find((k) => k.name === name);
              if (!found) throw new CliError(`no router key named ${JSON.stringify(name)}`, EXIT.notFound);
              id = found.id;
            }
            const k = await api.call<RouterKeyView>('DELETE', `/api/v1/router-keys/${id}`);
            print(k, `revoked router key ${k.name} (${k.id}); routers refuse it from their next poll`);
            break;
          }
          default:
            throw new CliError('keys needs create, list or revoke', EXIT.usage);
        }
        break;
      }
      case 'tokens': {
        const [name, ...rest] = more;
        noMore(rest);
        const sub = first;
        const list = () => api.call<{ items: TokenView[] }>('GET', '/api/v1/tokens');
        switch (sub) {
          case 'list': {
            const tokens = await list();
            print(tokens, tokensTable(tokens.items, time()));
            break;
          }
          case 'revoke': {
            if (!name) throw new CliError('tokens revoke needs a token id or name', EXIT.usage);
            let id = name;
            if (!UUID.test(name)) {
              // Names repeat (npm start makes a new status-page-link after one is revoked): the live one.
              const live = (await list()).items.filter((k) => k.name === name && !k.revokedAt);
              if (live.length === 0)
                throw new CliError(`no active token named ${JSON.stringify(name)}`, EXIT.notFound);
              if (live.length > 1)
                throw new CliError(
                  `${live.length} active tokens are named ${JSON.stringify(name)}: revoke one by id (${live.map((k) => k.id).join(', ')})`,
                  EXIT.usage,
                );
              id = live[0]!.id;
            }
            const k = await api.call<TokenView>('DELETE', `/api/v1/tokens/${id}`);
            print(k, `revoked token ${k.name} (${k.id}); pages and clients using it are signed out at once`);
            break;
          }
          default:
            throw new CliError('tokens needs list or revoke', EXIT.usage);
        }
        break;
      }
      default:
        throw new CliError(`unknown command ${JSON.stringify(command)}`, EXIT.usage);
    }
    return EXIT.ok;

    /**
     * The kill switch. A model name goes straight to the model's rollback (one call: the server
     * picks its active rollout); anything else is resolved to a rollout first.
     */
    async function rollback(what: string, why: string): Promise<RolloutView> {
      if (!UUID.test(what) && MODEL_NAME.test(what)) {
        try {
          return await api.call<RolloutView>('POST', `/api/v1/models/${encodeURIComponent(what)}/rollback`, {
            reason: why,
          });
        } catch (err) {
          // Not a model: perhaps the start of a rollout id.
          if (!(err instanceof CliError && err.exitCode === EXIT.notFound && /^[0-9a-f-]{4,}$/i.test(what)))
            throw err;
        }
      }
      return act(await resolve(what), 'rollback', { reason: why });
    }

    /** Follows a rollout until it ends: redraws on a terminal, prints each change otherwise. */
    async function watch(id: string): Promise<number> {
      const seconds = Number(o.interval ?? 2);
      if (!Number.isFinite(seconds) || seconds < 0.2 || seconds > 3600)
        throw new CliError('--interval must be a number of seconds from 0.2 to 3600', EXIT.usage);
      let shown = '';
      let away = false;
      for (;;) {
        let v;
        try {
          v = await fullView(id);
          if (away) io.err('aviary: reachable again');
          away = false;
        } catch (err) {
          // A control plane restarting is not the end of the rollout: keep watching.
          if (!(err instanceof CliError && err.exitCode === EXIT.unreachable)) throw err;
          if (!away) io.err(`aviary: ${err.message}; still watching`);
          away = true;
          await io.sleep(seconds * 1000);
          continue;
        }
        const r = v.rollout;
        // What changed, ignoring the clock: a new block only when the rollout or its analysis did.
        const key = JSON.stringify([r.version, v.analysis?.verdict, v.analysis?.summary, v.events.length]);
        if (o.json) {
          if (key !== shown) io.out(JSON.stringify(v));
        } else if (io.isTTY) {
          io.out(`\x1b[H\x1b[2J${rolloutView(r, time(), v)}\n\n(watching every ${seconds}s; Ctrl-C to stop)`);
        } else if (key !== shown) {
          io.out(`${shown ? '\n' : ''}${rolloutView(r, time(), v)}`);
        }
        shown = key;
        if (TERMINAL_PHASES.has(r.phase)) return r.phase === 'Healthy' ? EXIT.ok : EXIT.failed;
        await io.sleep(seconds * 1000);
      }
    }
  } catch (err) {
    if (err instanceof CliError) {
      if (o.json && err.problem) io.err(JSON.stringify(err.problem, null, 2));
      io.err(
        `aviary: ${err.message}${err.exitCode === EXIT.usage && !err.problem ? '\n(aviary --help for usage)' : ''}`,
      );
      return err.exitCode;
    }
    io.err(`aviary: unexpected error: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failed;
  }
}
