import { DomainError } from '@aviary/domain';
import { type RolloutRefRepository, type RolloutRefRow } from './rollout-ref.repository';
import { RolloutRefsService } from './rollout-refs.service';

const row = (id: string, model = 'support-chat'): RolloutRefRow => ({
  id,
  model,
  phase: 'Progressing',
  createdAt: new Date('2026-12-01T10:00:00Z'),
});

/** A fake repository over a fixed list of rollouts (newest first). */
function service(rows: RolloutRefRow[]) {
  const repo: Pick<RolloutRefRepository, 'newestOfModel' | 'byIdPrefix'> = {
    newestOfModel: (model) => Promise.resolve(rows.find((r) => r.model === model) ?? null),
    byIdPrefix: (prefix, limit) =>
      Promise.resolve(rows.filter((r) => r.id.startsWith(prefix)).slice(0, limit)),
  };
  return new RolloutRefsService(repo as RolloutRefRepository);
}

const A = '3f2c1a9e-1111-4000-8000-000000000001';
const B = '3f2c77aa-2222-4000-8000-000000000002';
const C = 'abcd0000-3333-4000-8000-000000000003';

describe(RolloutRefsService.name, () => {
  const refs = service([row(A, 'support-chat'), row(B, 'search'), row(C, 'abcd')]);

  it.each<[string, string, string, 'model' | 'id']>([
    ["a model name means the model's newest rollout", 'support-chat', A, 'model'],
    ['a unique id prefix', '3f2c1', A, 'id'],
    ['an id prefix in capitals', '3F2C7', B, 'id'],
    ['a whole id', B, B, 'id'],
    ['a model name wins over an id prefix that looks the same', 'abcd', C, 'model'],
  ])('resolves %s', async (_name, ref, id, matchedBy) => {
    await expect(refs.resolve(ref)).resolves.toMatchObject({ id, matchedBy });
  });

  it.each<[string, string, string, RegExp]>([
    [
      'an ambiguous prefix, naming the candidates',
      '3f2c',
      'CONFLICT',
      /matches several rollouts \(3f2c1a9e-.* support-chat, 3f2c77aa-.* search\); give more characters/,
    ],
    ['a prefix nobody has', 'ffff', 'NOT_FOUND', /no rollout id starts with "ffff"/],
    ['a prefix too short to mean anything', '3f2', 'NOT_FOUND', /first 4\+ characters/],
    ['a name that is no model and no id', 'latest', 'NOT_FOUND', /no model "latest" with rollouts/],
  ])('refuses %s', async (_name, ref, code, message) => {
    const err = await refs.resolve(ref).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe(code);
    expect((err as DomainError).message).toMatch(message);
  });
});
