/**
 * Cohorts: a setWeight step may give the candidate to a named group of users first (LaunchDarkly's
 * targeting rules, Unleash's strategy constraints), before or beside the random split. A request is in
 * the cohort when every condition given holds (Unleash ANDs the constraints of one strategy).
 *
 * The router sends these Unleash context fields with each request (see docs/design.md "Cohorts"):
 * `userId` (its stickiness key, `u:<user>` or `c:<conversation>`), and in `properties` the caller's
 * user id as `aviaryUserId` and every `x-…` request header by its lower-case name.
 */

/** Unleash's constraint operators (unleash-server 8). */
export const MULTI_VALUE_OPERATORS = [
  'IN',
  'NOT_IN',
  'STR_CONTAINS',
  'STR_STARTS_WITH',
  'STR_ENDS_WITH',
] as const;
export const SINGLE_VALUE_OPERATORS = [
  'NUM_EQ',
  'NUM_GT',
  'NUM_GTE',
  'NUM_LT',
  'NUM_LTE',
  'DATE_AFTER',
  'DATE_BEFORE',
  'SEMVER_EQ',
  'SEMVER_GT',
  'SEMVER_LT',
] as const;
export const CONSTRAINT_OPERATORS = [...MULTI_VALUE_OPERATORS, ...SINGLE_VALUE_OPERATORS] as const;
export type ConstraintOperator = (typeof CONSTRAINT_OPERATORS)[number];

/** An Unleash strategy constraint, as the admin API takes it. */
export interface CohortConstraint {
  readonly contextName: string;
  readonly operator: ConstraintOperator;
  /** For IN, NOT_IN and the STR_ operators. */
  readonly values?: readonly string[];
  /** For the NUM_, DATE_ and SEMVER_ operators. */
  readonly value?: string;
  readonly inverted?: boolean;
  readonly caseInsensitive?: boolean;
}

export interface Cohort {
  /** The caller's user ids (`x-aviary-user` or the body's `user`). */
  readonly userIds?: readonly string[];
  /** A request header's value, e.g. `{ name: 'x-aviary-cohort', value: 'internal' }`. */
  readonly header?: { readonly name: string; readonly value: string };
  /** Any Unleash constraints on the context fields the router sends. */
  readonly constraints?: readonly CohortConstraint[];
}

/** The context property the router fills with the caller's user id (not the stickiness key). */
export const USER_ID_PROPERTY = 'aviaryUserId';
/** Headers a cohort may match: the router copies `x-…` headers into the Unleash context. */
export const COHORT_HEADER_PATTERN = /^x-[a-z0-9-]{1,98}$/;
export const MAX_COHORT_VALUES = 1000;
const MAX_VALUE_CHARS = 512;

/** One problem with a cohort, with its path relative to the cohort (e.g. `header.name`). */
export interface CohortIssue {
  readonly path: string;
  readonly message: string;
}

/** Checks a cohort from JSON: the shape, the operators, and that it says who is in it. */
export function validateCohort(cohort: Cohort): CohortIssue[] {
  const issues: CohortIssue[] = [];
  const issue = (path: string, message: string) => issues.push({ path, message });
  if (typeof cohort !== 'object' || cohort === null) return [{ path: '', message: 'must be an object' }];
  const { userIds, header, constraints } = cohort;
  if (userIds === undefined && header === undefined && constraints === undefined) {
    issue('', 'needs userIds, header or constraints: who is in the cohort');
  }
  if (userIds !== undefined) checkValues('userIds', userIds, issue);
  if (header !== undefined) {
    if (typeof header.name !== 'string' || !COHORT_HEADER_PATTERN.test(header.name)) {
      issue('header.name', 'must be a lower-case header name starting with x- (the router sends those)');
    }
    if (!isValue(header.value))
      issue('header.value', `must be a string of 1 to ${MAX_VALUE_CHARS} characters`);
  }
  if (constraints !== undefined) {
    if (!Array.isArray(constraints) || constraints.length === 0 || constraints.length > 20) {
      issue('constraints', 'must be a list of 1 to 20 constraints');
    } else {
      (constraints as readonly CohortConstraint[]).forEach((c, i) =>
        checkConstraint(`constraints[${i}]`, c, issue),
      );
    }
  }
  return issues;
}

/** The cohort as Unleash constraints, in a fixed order and shape (so a read-back compares equal). */
export function cohortConstraints(cohort: Cohort): CohortConstraint[] {
  const out: CohortConstraint[] = [];
  if (cohort.userIds) out.push({ contextName: USER_ID_PROPERTY, operator: 'IN', values: cohort.userIds });
  if (cohort.header) {
    out.push({ contextName: cohort.header.name, operator: 'IN', values: [cohort.header.value] });
  }
  for (const c of cohort.constraints ?? []) out.push(c);
  return out.map(normalizeConstraint);
}

/** The full shape unleash-server stores: both `values` and (for single-value operators) `value`. */
export function normalizeConstraint(c: CohortConstraint): CohortConstraint {
  const single = (SINGLE_VALUE_OPERATORS as readonly string[]).includes(c.operator);
  return {
    contextName: c.contextName,
    operator: c.operator,
    ...(single ? { value: c.value ?? '' } : {}),
    values: single ? [] : [...(c.values ?? [])],
    inverted: c.inverted ?? false,
    caseInsensitive: c.caseInsensitive ?? false,
  };
}

/** "x-aviary-cohort = internal", "3 users", for step labels. */
export function describeCohort(cohort: Cohort): string {
  const parts: string[] = [];
  if (cohort.userIds) parts.push(`${cohort.userIds.length} user${cohort.userIds.length === 1 ? '' : 's'}`);
  if (cohort.header) parts.push(`${cohort.header.name}: ${cohort.header.value}`);
  if (cohort.constraints) {
    parts.push(`${cohort.constraints.length} constraint${cohort.constraints.length === 1 ? '' : 's'}`);
  }
  return parts.join(' and ');
}

function isValue(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_VALUE_CHARS;
}

function checkValues(path: string, values: unknown, issue: (path: string, message: string) => void): void {
  if (!Array.isArray(values) || values.length === 0 || values.length > MAX_COHORT_VALUES) {
    issue(path, `must be a list of 1 to ${MAX_COHORT_VALUES} values`);
    return;
  }
  values.forEach((v, i) => {
    if (!isValue(v)) issue(`${path}[${i}]`, `must be a string of 1 to ${MAX_VALUE_CHARS} characters`);
  });
}

function checkConstraint(
  at: string,
  c: CohortConstraint,
  issue: (path: string, message: string) => void,
): void {
  if (typeof c !== 'object' || c === null) {
    issue(at, 'must be an object');
    return;
  }
  if (!isValue(c.contextName) || c.contextName.length > 100) {
    issue(`${at}.contextName`, 'must be a context field name of 1 to 100 characters');
  }
  if (!CONSTRAINT_OPERATORS.includes(c.operator)) {
    issue(`${at}.operator`, `must be one of ${CONSTRAINT_OPERATORS.join(', ')}`);
  } else if ((SINGLE_VALUE_OPERATORS as readonly string[]).includes(c.operator)) {
    if (!isValue(c.value)) issue(`${at}.value`, `${c.operator} compares with one value: give value`);
    if (c.values !== undefined) issue(`${at}.values`, `${c.operator} takes value, not values`);
  } else {
    checkValues(`${at}.values`, c.values, issue);
    if (c.value !== undefined) issue(`${at}.value`, `${c.operator} takes values, not value`);
  }
  for (const flag of ['inverted', 'caseInsensitive'] as const) {
    if (c[flag] !== undefined && typeof c[flag] !== 'boolean')
      issue(`${at}.${flag}`, 'must be true or false');
  }
}
