import { cohortConstraints, describeCohort, USER_ID_PROPERTY } from './cohort';

describe(cohortConstraints.name, () => {
  it('turns user ids, a header and raw constraints into Unleash constraints in the shape Unleash stores', () => {
    expect(
      cohortConstraints({
        userIds: ['alice', 'bob'],
        header: { name: 'x-aviary-cohort', value: 'internal' },
        constraints: [
          { contextName: 'x-app-version', operator: 'SEMVER_GT', value: '2.0.0', inverted: true },
        ],
      }),
    ).toEqual([
      {
        contextName: USER_ID_PROPERTY,
        operator: 'IN',
        values: ['alice', 'bob'],
        inverted: false,
        caseInsensitive: false,
      },
      {
        contextName: 'x-aviary-cohort',
        operator: 'IN',
        values: ['internal'],
        inverted: false,
        caseInsensitive: false,
      },
      {
        contextName: 'x-app-version',
        operator: 'SEMVER_GT',
        value: '2.0.0',
        values: [],
        inverted: true,
        caseInsensitive: false,
      },
    ]);
  });
});

describe(describeCohort.name, () => {
  it.each([
    [{ userIds: ['a'] }, '1 user'],
    [{ header: { name: 'x-team', value: 'ml' }, userIds: ['a', 'b'] }, '2 users and x-team: ml'],
    [{ constraints: [{ contextName: 'x', operator: 'IN' as const, values: ['y'] }] }, '1 constraint'],
  ])('describes %j as "%s"', (cohort, expected) => {
    expect(describeCohort(cohort)).toBe(expected);
  });
});
