import fc from 'fast-check';
import {
  databaseSnapshot,
  fastPlan,
  seedModel,
  startTestControlPlane,
  type TestControlPlane,
} from './harness';

/**
 * Property-based fuzzing of the admin API over its own request schemas: the operations and their
 * JSON Schemas come from the OpenAPI document the API serves, so a new endpoint is fuzzed without
 * editing this file. Every generated request is invalid by construction (one guaranteed-invalid
 * mutation of a schema-shaped value, or a path nobody has), and every answer must be a 4xx in the
 * documented problem+json shape, never a 5xx or a dropped connection, with the database unchanged.
 *
 * Seeded (AVIARY_FUZZ_SEED overrides) and bounded in time (AVIARY_FUZZ_SECONDS, default 40).
 */

type JsonSchema = {
  type?: string;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  nullable?: boolean;
};
type Operation = {
  method: string;
  path: string;
  params: { in: string; name: string }[];
  body: JsonSchema | null;
};
type Problem = { status?: unknown; code?: unknown; detail?: unknown; errors?: unknown };

const SEED = Number(process.env['AVIARY_FUZZ_SEED'] ?? 20_261_201);
const SECONDS = Number(process.env['AVIARY_FUZZ_SECONDS'] ?? 40);

/** A value shaped like `schema` (often valid, not always: the mutation below is what guarantees invalid). */
function shaped(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives && alternatives.length > 0) return fc.oneof(...alternatives.map((s) => shaped(s, depth)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'string':
      return fc.oneof(
        fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) }),
        fc.constantFrom('v1', 'http://127.0.0.1:9/v1', 'demo', 'a'.repeat(300)),
      );
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000, max: schema.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return depth > 4
        ? fc.constant([])
        : fc.array(shaped(schema.items ?? {}, depth + 1), { maxLength: Math.min(schema.maxItems ?? 3, 3) });
    case 'object': {
      if (depth > 4) return fc.constant({});
      const props = schema.properties ?? {};
      const required = new Set(schema.required ?? []);
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, s] of Object.entries(props)) record[k] = shaped(s, depth + 1);
      return fc.record(record, { requiredKeys: Object.keys(props).filter((k) => required.has(k)) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A JSON value of another type than `schema` allows. */
function wrongType(schema: JsonSchema): fc.Arbitrary<unknown> {
  const all: Record<string, fc.Arbitrary<unknown>> = {
    string: fc.string(),
    integer: fc.integer(),
    number: fc.double({ noNaN: true, noDefaultInfinity: true }),
    boolean: fc.boolean(),
    array: fc.array(fc.integer(), { maxLength: 2 }),
    object: fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
  };
  const declared = schema.type;
  if (!declared) return fc.constant(undefined);
  const excluded =
    declared === 'number' ? ['number', 'integer'] : declared === 'integer' ? ['integer'] : [declared];
  if (declared === 'integer') all['number'] = fc.double({ min: 0.1, max: 0.9, noNaN: true });
  const options = Object.entries(all).filter(([t]) => !excluded.includes(t));
  return fc.oneof(...options.map(([, a]) => a), ...(schema.nullable ? [] : [fc.constant(null)]));
}

const nulString = fc
  .tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }))
  .map(([a, b]) => `${a}\u0000${b}`);
const deepValue = fc.integer({ min: 70, max: 3_000 }).map((n) => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = [v];
  return v;
});

/** A body that `schema` must refuse: one mutation that no strict schema accepts. */
function invalidBody(schema: JsonSchema): fc.Arbitrary<{ body: unknown; raw?: string; why: string }> {
  const props = Object.entries(schema.properties ?? {});
  const typed = props.filter(([, s]) => s.type && !s.oneOf && !s.anyOf);
  const strings = props.filter(([, s]) => s.type === 'string');
  const base = shaped(schema) as fc.Arbitrary<Record<string, unknown>>;
  const mutations: fc.Arbitrary<{ body: unknown; raw?: string; why: string }>[] = [
    // Strict schemas: an unknown key is always a 400 naming it.
    fc
      .tuple(
        base,
        fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !(k in (schema.properties ?? {}))),
      )
      .map(([b, key]) => ({ body: { ...b, [key]: 1 }, why: `unknown key ${JSON.stringify(key)}` })),
    fc
      .tuple(base, fc.oneof(fc.constant('{'), fc.constant('{"a":'), fc.string({ maxLength: 20 })))
      .map(([b, cut]) => ({ body: null, raw: JSON.stringify(b).slice(0, -1) + cut, why: 'malformed JSON' }))
      .filter((x) => {
        try {
          JSON.parse(x.raw);
          return false;
        } catch {
          return true;
        }
      }),
    fc.constantFrom([], 1, 'text', true).map((body) => ({ body, why: 'not an object' })),
    fc.tuple(base, deepValue).map(([b, deep]) => ({ body: { ...b, nested: deep }, why: 'nested too deep' })),
  ];
  if (typed.length > 0)
    mutations.push(
      fc
        .constantFrom(...typed)
        .chain(([key, s]) =>
          fc
            .tuple(base, wrongType(s))
            .map(([b, v]) => ({ body: { ...b, [key]: v }, why: `${key} of the wrong type` })),
        )
        .filter(
          (x) => (x.body as Record<string, unknown>)[Object.keys(x.body as object).at(-1)!] !== undefined,
        ),
    );
  if (strings.length > 0)
    mutations.push(
      fc
        .constantFrom(...strings)
        .chain(([key]) =>
          fc.tuple(base, nulString).map(([b, v]) => ({ body: { ...b, [key]: v }, why: `NUL in ${key}` })),
        ),
    );
  for (const key of schema.required ?? [])
    mutations.push(
      base.map((b) => {
        const { [key]: _dropped, ...rest } = b;
        return { body: rest, why: `without ${key}` };
      }),
    );
  return fc.oneof(...mutations);
}

/** A path parameter that names nothing: nobody has these ids, names or labels. */
const strangeSegment = fc.oneof(
  fc.uuid().map((u) => u.replace(/^./, 'f')),
  fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' }).map((s) => `zz-${s}`),
  fc.constantFrom('%00', 'a%00b', '..', '%2e%2e', 'x'.repeat(600), '%F0%9F%92%A5', '%E0%A4%A'),
);

describe('admin API fuzzing (property-based, over the OpenAPI request schemas)', () => {
  let t: TestControlPlane;
  let operations: Operation[];
  let real: { model: string; rollout: string };

  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'manual', AVIARY_MAX_BODY_BYTES: '262144' });
    const m = await seedModel(t);
    const r = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      plan: fastPlan(3600),
    });
    real = { model: m.name, rollout: r.body.id };
    const doc = (await t.api<{ paths: Record<string, Record<string, unknown>> }>('GET', '/api/openapi.json'))
      .body;
    operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, raw]) => {
        const op = raw as {
          parameters?: { in: string; name: string }[];
          requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
        };
        return {
          method: method.toUpperCase(),
          path,
          params: op.parameters ?? [],
          body: op.requestBody?.content?.['application/json']?.schema ?? null,
        };
      }),
    );
  }, 60_000);
  afterAll(async () => t?.close());

  it('finds the operations to fuzz in the OpenAPI document', () => {
    const mutating = operations.filter((o) => o.method !== 'GET');
    expect(mutating.length).toBeGreaterThanOrEqual(15);
    expect(mutating.filter((o) => o.body !== null).length).toBeGreaterThanOrEqual(12);
  });

  it(
    'answers every invalid request with a documented 4xx and changes nothing',
    async () => {
      const requestArb = fc
        .constantFrom(...operations.filter((o) => o.path.startsWith('/api/v1/')))
        .chain((op) => {
          const pathParams = op.params.filter((p) => p.in === 'path');
          // With an invalid body the request may name real things (deeper code paths run); without a
          // body it must name nothing, or a valid DELETE or GET would be a legitimate success.
          const segment = op.body ? fc.oneof(strangeSegment, fc.constant(null)) : strangeSegment;
          return fc.record({
            op: fc.constant(op),
            segments: fc.tuple(...pathParams.map(() => segment)),
            body: op.body ? invalidBody(op.body) : fc.constant(null),
            query: fc.dictionary(
              fc.oneof(
                fc.constantFrom('limit', 'after', 'model', 'cursor', 'phase', 'active'),
                fc.string({ maxLength: 6 }),
              ),
              fc.oneof(
                fc.string({ maxLength: 12 }),
                fc.constantFrom('-1', '1e99', '%00', '99999999999999999999999'),
              ),
              { maxKeys: 2 },
            ),
          });
        })
        .filter(({ op, segments, body, query }) => {
          // A GET with only real segments and no query could simply succeed: not an invalid request.
          if (op.method === 'GET' && Object.keys(query).length === 0 && segments.length === 0) return false;
          return body !== null || op.method === 'GET' || segments.length > 0;
        });

      let runs = 0;
      // Our own deadline rather than fast-check's interruptAfterTimeLimit, which races the run in
      // flight and leaves it running while afterAll drops the database under it.
      const deadline = Date.now() + SECONDS * 1000;
      await fc.assert(
        fc.asyncProperty(requestArb, async ({ op, segments, body, query }) => {
          if (Date.now() > deadline) return;
          runs++;
          let i = 0;
          const path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
            const given = segments[i++];
            if (given !== null && given !== undefined) return given;
            return name === 'model'
              ? real.model
              : name === 'id'
                ? real.rollout
                : name === 'version'
                  ? 'v1'
                  : 'x';
          });
          const qs = new URLSearchParams(query).toString();
          const url = qs ? `${path}?${qs}` : path;
          const before = await databaseSnapshot(t.databaseUrl);
          let res;
          try {
            res = await t.api<Problem>(op.method, url, body?.raw === undefined ? body?.body : undefined, {
              ...(body?.raw !== undefined ? { raw: body.raw } : {}),
            });
          } catch (err) {
            throw new Error(
              `${op.method} ${url} (${body?.why ?? 'no body'}): connection failed: ${String(err)}`,
            );
          }
          const where = `${op.method} ${url} (${body?.why ?? 'no body'}) answered ${res.status}`;
          if (op.method === 'GET' && res.status < 300) return; // a query that happens to be fine reads only
          if (!(res.status >= 400 && res.status < 500))
            throw new Error(`${where}: ${JSON.stringify(res.body)}`);
          expect(res.contentType).toContain('application/problem+json');
          const p = res.body;
          expect(p.status).toBe(res.status);
          expect(typeof p.code).toBe('string');
          expect(typeof p.detail).toBe('string');
          if (p.code === 'VALIDATION_FAILED') expect(Array.isArray(p.errors)).toBe(true);
          expect(await databaseSnapshot(t.databaseUrl)).toBe(before);
        }),
        {
          seed: SEED,
          numRuns: 2_000,
        },
      );
      console.log(`admin API fuzz: ${runs} requests in at most ${SECONDS} s (seed ${SEED})`);
      expect(runs).toBeGreaterThanOrEqual(100);
    },
    (SECONDS + 60) * 1000,
  );
});
