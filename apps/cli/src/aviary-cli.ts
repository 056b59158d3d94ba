import { parseArgs } from 'node:util';
import { ApiClient, CliError, EXIT } from './api-client';
import {
  eventsTable,
  modelsTable,
  rolloutDetail,
  rolloutsTable,
  routerKeysTable,
  type EventView,
  type ModelView,
  type RolloutView,
  type RouterKeyView,
} from './format';

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
}

export const USAGE = `aviary — on-call commands for Aviary rollouts

usage: aviary <command> [arguments] [--json]

  status [model]                       models and their active rollouts; with a model, its rollout and analysis
  rollouts [--model m] [--active]      list rollouts, newest first
  promote <rollout> [--full] [--reason r]
  pause <rollout> [--reason r]
  resume <rollout>
  rollback <rollout|model> --reason r [--yes]
                                       the kill switch: the baseline serves everyone again. Asks first unless --yes
  events <rollout>                     the decision log, oldest first
  keys create <name> [--models a,b] [--rpm n] [--tokens-per-day n]
                                       a router API key for clients (shown once; admin token)
  keys list                            router API keys (never their values)
  keys revoke <id|name>                routers refuse it from their next poll

environment: AVIARY_URL (default http://127.0.0.1:8080), AVIARY_TOKEN (an operator token; viewer for
read-only commands); --url and --token override them.

exit codes: 0 ok, 1 failed, 2 usage or invalid input, 3 token refused or role too weak, 4 not found,
5 conflict (e.g. the rollout is not in a state that allows it), 6 Aviary unreachable.`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Runs one command; returns the process exit code. Never throws. */
export async function runCli(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  io: CliIo,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        yes: { type: 'boolean', short: 'y', default: false },
        full: { type: 'boolean', default: false },
        active: { type: 'boolean', default: false },
        reason: { type: 'string' },
        model: { type: 'string' },
        models: { type: 'string' },
        rpm: { type: 'string' },
        'tokens-per-day': { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    io.err(`aviary: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { values: o, positionals } = parsed;
  const [command, target, ...extra] = positionals;
  if (o.help || !command) {
    if (o.help) io.out(USAGE);
    else io.err(USAGE);
    return o.help ? EXIT.ok : EXIT.usage;
  }
  const url = (o.url ?? env['AVIARY_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token = o.token ?? env['AVIARY_TOKEN'];
  const print = (json: unknown, text: string) => io.out(o.json ? JSON.stringify(json, null, 2) : text);
  try {
    if (extra.length > (command === 'keys' ? 1 : 0))
      throw new CliError(`unexpected argument ${JSON.stringify(extra.at(-1))}`, EXIT.usage);
    if (!token) throw new CliError('AVIARY_TOKEN is not set (or pass --token)', EXIT.usage);
    const api = new ApiClient(url, token);
    const needTarget = (what: string): string => {
      if (!target) throw new CliError(`${command} needs a ${what}`, EXIT.usage);
      return target;
    };
    const needRollout = (): string => {
      const id = needTarget('rollout id');
      if (!UUID.test(id))
        throw new CliError(`${JSON.stringify(id)} is not a rollout id (a UUID)`, EXIT.usage);
      return id;
    };
    const reason = o.reason?.trim() || undefined;
    switch (command) {
      case 'status': {
        if (target) {
          const model = await api.call<ModelView & { activeRollout: { id: string } | null }>(
            'GET',
            `/api/v1/models/${encodeURIComponent(target)}`,
          );
          if (!model.activeRollout) {
            print(
              model,
              `${model.name}: no active rollout; stable version ${model.stableVersion?.label ?? '-'}`,
            );
            break;
          }
          const id = model.activeRollout.id;
          const [rollout, analysis] = await Promise.all([
            api.call<RolloutView>('GET', `/api/v1/rollouts/${id}`),
            api
              .call<{ verdict: string; summary: string }>('GET', `/api/v1/rollouts/${id}/analysis`)
              .catch(() => null),
          ]);
          print(
            { model, rollout, analysis },
            `${rolloutDetail(rollout)}\nanalysis  ${analysis ? analysis.summary : 'unavailable'}`,
          );
          break;
        }
        const [models, rollouts] = await Promise.all([
          api.call<{ items: ModelView[] }>('GET', '/api/v1/models'),
          api.call<{ items: RolloutView[] }>('GET', '/api/v1/rollouts?active=true&limit=100'),
        ]);
        print(
          { models: models.items, activeRollouts: rollouts.items },
          `${modelsTable(models.items)}\n\nactive rollouts:\n${rolloutsTable(rollouts.items)}`,
        );
        break;
      }
      case 'rollouts': {
        const q = new URLSearchParams({ limit: '50' });
        if (o.model) q.set('model', o.model);
        if (o.active) q.set('active', 'true');
        const list = await api.call<{ items: RolloutView[] }>('GET', `/api/v1/rollouts?${q.toString()}`);
        print(list, rolloutsTable(list.items));
        break;
      }
      case 'events': {
        const list = await api.call<{ items: EventView[] }>(
          'GET',
          `/api/v1/rollouts/${needRollout()}/events?limit=500`,
        );
        print(list, eventsTable(list.items));
        break;
      }
      case 'promote':
      case 'pause':
      case 'resume': {
        const id = needRollout();
        const body = {
          ...(command === 'promote' && o.full ? { full: true } : {}),
          ...(command !== 'resume' && reason ? { reason } : {}),
        };
        const r = await api.call<RolloutView>('POST', `/api/v1/rollouts/${id}/${command}`, body);
        print(
          r,
          `${command === 'promote' ? 'promoted' : command === 'pause' ? 'paused' : 'resumed'}\n${rolloutDetail(r)}`,
        );
        break;
      }
      case 'rollback': {
        const what = needTarget('rollout id or model name');
        if (!reason)
          throw new CliError('rollback needs --reason "…" (it goes into the decision log)', EXIT.usage);
        if (!o.yes) {
          const answer = await io.confirm(`Roll back ${what}? Everyone goes back to the baseline. [y/N] `);
          if (answer === null)
            throw new CliError('not asking without a terminal: pass --yes to roll back', EXIT.usage);
          if (!answer) {
            io.err('not rolled back');
            return EXIT.failed;
          }
        }
        const path = UUID.test(what)
          ? `/api/v1/rollouts/${what}/rollback`
          : `/api/v1/models/${encodeURIComponent(what)}/rollback`;
        const r = await api.call<RolloutView>('POST', path, { reason });
        print(r, `rolled back: ${r.model.name} serves ${r.baseline.label} to everyone\n${rolloutDetail(r)}`);
        break;
      }
      case 'keys': {
        const name = extra[0];
        switch (target) {
          case 'create': {
            if (!name) throw new CliError('keys create needs a name', EXIT.usage);
            const body = {
              name,
              ...(o.models ? { models: o.models.split(',').map((m) => m.trim()) } : {}),
              ...(o.rpm !== undefined ? { requestsPerMinute: positiveInt(o.rpm, '--rpm') } : {}),
              ...(o['tokens-per-day'] !== undefined
                ? { tokensPerDay: positiveInt(o['tokens-per-day'], '--tokens-per-day') }
                : {}),
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
            print(list, routerKeysTable(list.items));
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
      default:
        throw new CliError(`unknown command ${JSON.stringify(command)}`, EXIT.usage);
    }
    return EXIT.ok;
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
