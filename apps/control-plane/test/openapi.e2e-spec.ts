import Ajv from 'ajv';
import { type ApiResponse, fastPlan, startTestControlPlane, type TestControlPlane } from './harness';

// The OpenAPI document describes every operation completely (summary, success schema, the
// problem+json errors), and says the truth: each operation is called once below and its answer
// is checked against the schema the document gives for that status and content type.

type Schema = Record<string, unknown>;
interface Operation {
  summary?: string;
  parameters?: { in: string; name: string }[];
  requestBody?: unknown;
  security?: unknown[];
  responses: Record<string, { description: string; content?: Record<string, { schema?: Schema }> }>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, Record<string, unknown>> };
}

const operations = (doc: OpenApiDocument) =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({
      key: `${method.toUpperCase()} ${path}`,
      path,
      method,
      op,
    })),
  );

describe('OpenAPI document', () => {
  let t: TestControlPlane;
  let doc: OpenApiDocument;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const called = new Set<string>();

  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'time-only' });
    doc = (await t.api<OpenApiDocument>('GET', '/api/openapi.json', undefined, { token: null })).body;
  });
  afterAll(async () => {
    await t?.close();
  });

  const resolve = (schema: Schema): Schema =>
    typeof schema['$ref'] === 'string' ? doc.components.schemas[schema['$ref'].split('/').pop()!]! : schema;

  /** Calls `template` (path parameters filled in `path`) and checks the answer against the document. */
  async function call<T = Record<string, unknown>>(
    method: string,
    template: string,
    path: string,
    body?: unknown,
    opts: { token?: string | null } = {},
  ): Promise<ApiResponse<T>> {
    const res = await t.api<T>(method, path, body, opts);
    const key = `${method} ${template}`;
    const op = doc.paths[template]?.[method.toLowerCase()];
    if (!op) throw new Error(`${key} is not in the OpenAPI document`);
    const documented = op.responses[String(res.status)];
    expect({ key, status: res.status, documented: documented !== undefined }).toEqual({
      key,
      status: res.status,
      documented: true,
    });
    const type = res.contentType.split(';')[0]!.trim();
    const schema = documented!.content?.[type]?.schema;
    expect({ key, status: res.status, type, schema: schema !== undefined }).toEqual({
      key,
      status: res.status,
      type,
      schema: true,
    });
    if (type !== 'text/plain') {
      const validate = ajv.compile(resolve(schema!));
      validate(res.body);
      expect({ key, status: res.status, errors: validate.errors ?? [] }).toEqual({
        key,
        status: res.status,
        errors: [],
      });
    }
    called.add(key);
    return res;
  }

  it('gives every operation a summary, a success schema and its problem+json errors', () => {
    const ops = operations(doc);
    expect(ops.length).toBeGreaterThan(40);
    const problems: string[] = [];
    for (const { key, path, op } of ops) {
      if (!op.summary?.trim()) problems.push(`${key}: no summary`);
      const success = Object.entries(op.responses).filter(([s]) => s.startsWith('2'));
      if (success.length === 0) problems.push(`${key}: no 2xx response`);
      for (const [status, r] of success)
        if (!Object.values(r.content ?? {}).some((c) => c.schema && Object.keys(c.schema).length > 0))
          problems.push(`${key}: ${status} has no schema`);
      const expected = ['500', '503'];
      if (op.security?.length) expected.push('401');
      if ((op.parameters?.length ?? 0) > 0 || op.requestBody) expected.push('400');
      if (path.includes('{')) expected.push('404');
      for (const status of expected) {
        const content = op.responses[status]?.content ?? {};
        // An operation may document its own answer (readiness' 503 is its report); else a problem.
        const own = Object.values(content).some((c) => c.schema && !c.schema['$ref']);
        if (!own && content['application/problem+json']?.schema?.['$ref'] !== '#/components/schemas/Problem')
          problems.push(`${key}: no problem+json ${status}`);
      }
    }
    expect(problems).toEqual([]);
    expect(doc.components.securitySchemes['bearer']).toMatchObject({
      scheme: 'bearer',
      bearerFormat: 'opaque',
    });
  });

  it('answers the admin API root the banner prints, with working links', async () => {
    const root = await call<{ docs: string; openapi: string; resources: Record<string, string> }>(
      'GET',
      '/api/v1',
      '/api/v1',
      undefined,
      { token: null },
    );
    expect(root.status).toBe(200);
    expect((await t.api('GET', root.body.docs, undefined, { token: null })).status).toBe(200);
    expect((await t.api('GET', root.body.openapi, undefined, { token: null })).status).toBe(200);
    for (const href of Object.values(root.body.resources))
      expect((await t.api('GET', href)).status).toBe(200);
  });

  it('answers every operation as documented', async () => {
    await call('GET', '/healthz', '/healthz', undefined, { token: null });
    await call('GET', '/readyz', '/readyz', undefined, { token: null });
    await call('GET', '/metrics', '/metrics', undefined, { token: null });

    // Credentials, models and versions, with the errors they give.
    const cred = { name: 'openapi-key', allowedHosts: ['127.0.0.1:9'] };
    expect((await call('POST', '/api/v1/credentials', '/api/v1/credentials', cred)).status).toBe(201);
    expect((await call('POST', '/api/v1/credentials', '/api/v1/credentials', cred)).status).toBe(409);
    await call('GET', '/api/v1/credentials', '/api/v1/credentials');
    await call('GET', '/api/v1/credentials/{name}', '/api/v1/credentials/openapi-key');
    expect((await call('POST', '/api/v1/models', '/api/v1/models', { name: 'o' })).status).toBe(201);
    expect((await call('POST', '/api/v1/models', '/api/v1/models', { name: 7 })).status).toBe(400);
    expect((await call('GET', '/api/v1/models', '/api/v1/models', undefined, { token: null })).status).toBe(
      401,
    );
    await call('GET', '/api/v1/models/{model}', '/api/v1/models/o');
    expect((await call('GET', '/api/v1/models/{model}', '/api/v1/models/nope')).status).toBe(404);
    const versions = '/api/v1/models/{model}/versions';
    const upstream = { upstreamBaseUrl: 'http://127.0.0.1:9/v1', upstreamModel: 'm' };
    await call('POST', versions, '/api/v1/models/o/versions', {
      label: 'v1',
      ...upstream,
      apiKeyRef: 'openapi-key',
    });
    const v2 = await call<{ id: string }>('POST', versions, '/api/v1/models/o/versions', {
      label: 'v2',
      ...upstream,
    });
    await call('GET', versions, '/api/v1/models/o/versions');
    await call('GET', '/api/v1/models/{model}/versions/{version}', '/api/v1/models/o/versions/v2');
    await call(
      'GET',
      '/api/v1/models/{model}/versions/{version}/diff/{other}',
      '/api/v1/models/o/versions/v1/diff/v2',
    );
    const prices = '/api/v1/models/{model}/versions/{version}/prices';
    await call('PUT', prices, '/api/v1/models/o/versions/v2/prices', {
      inputPerMillionTokens: 1,
      outputPerMillionTokens: 2,
    });
    expect(
      (await call('PUT', prices, '/api/v1/models/o/versions/v2/prices', { inputPerMillionTokens: -1 }))
        .status,
    ).toBe(400);
    await call('DELETE', prices, '/api/v1/models/o/versions/v2/prices');
    await call('GET', '/api/v1/models', '/api/v1/models');
    expect(
      (await call('DELETE', '/api/v1/credentials/{name}', '/api/v1/credentials/openapi-key')).status,
    ).toBe(409);

    // Tokens, router keys.
    const token = await call<{ id: string }>('POST', '/api/v1/tokens', '/api/v1/tokens', {
      name: 'o-viewer',
      role: 'viewer',
    });
    await call('GET', '/api/v1/tokens', '/api/v1/tokens');
    await call('DELETE', '/api/v1/tokens/{id}', `/api/v1/tokens/${token.body.id}`);
    const key = await call<{ id: string }>('POST', '/api/v1/router-keys', '/api/v1/router-keys', {
      name: 'o-key',
    });
    await call('GET', '/api/v1/router-keys', '/api/v1/router-keys');
    await call('DELETE', '/api/v1/router-keys/{id}', `/api/v1/router-keys/${key.body.id}`);

    // Notifications.
    const dest = '/api/v1/notifications/destinations';
    await call('POST', dest, dest, { name: 'o-hook', type: 'webhook', url: 'http://127.0.0.1:9/hook' });
    await call('GET', dest, dest);
    await call('GET', `${dest}/{ref}`, `${dest}/o-hook`);
    await call('POST', `${dest}/{ref}/test`, `${dest}/o-hook/test`);
    await call('GET', `${dest}/{ref}/deliveries`, `${dest}/o-hook/deliveries`);
    await call('GET', '/api/v1/notifications/deliveries', '/api/v1/notifications/deliveries');
    await call('DELETE', `${dest}/{ref}`, `${dest}/o-hook`);
    await call('GET', '/api/v1/audit', '/api/v1/audit');

    // A rollout through every action.
    const created = await call<{ id: string; version: number }>(
      'POST',
      '/api/v1/rollouts',
      '/api/v1/rollouts',
      {
        model: 'o',
        candidateVersion: v2.body.id,
        plan: fastPlan(3600),
      },
    );
    expect(created.status).toBe(201);
    const id = created.body.id;
    const act = (action: string, body?: unknown) =>
      call('POST', `/api/v1/rollouts/{id}/${action}`, `/api/v1/rollouts/${id}/${action}`, body);
    expect((await act('start')).status).toBe(200);
    expect((await act('start')).status).toBe(409);
    await act('pause');
    await act('resume');
    await act('promote');
    await call('POST', '/api/v1/models/{model}/rollback', '/api/v1/models/o/rollback', {
      reason: 'kill switch',
    });
    expect(
      (await call('POST', '/api/v1/models/{model}/revert', '/api/v1/models/o/revert', { reason: 'x' }))
        .status,
    ).toBe(409);
    await act('retry', { reason: 'fixed' });
    await act('rollback', { reason: 'again' });
    await act('retry', { reason: 'fixed again' });
    await act('abort', { reason: 'enough' });
    await call('GET', '/api/v1/rollouts', '/api/v1/rollouts');
    await call('GET', '/api/v1/rollouts/{id}', `/api/v1/rollouts/${id}`);
    expect((await call('GET', '/api/v1/rollouts/{id}', '/api/v1/rollouts/not-a-uuid')).status).toBe(404);
    await call('GET', '/api/v1/rollouts/{id}/events', `/api/v1/rollouts/${id}/events`);
    await call('GET', '/api/v1/rollouts/{id}/analysis', `/api/v1/rollouts/${id}/analysis`);
    await call('GET', '/api/v1/rollout-refs/{ref}', '/api/v1/rollout-refs/o');
    await call('GET', '/status/api/overview', '/status/api/overview');
    await call('GET', '/status/api/rollouts/{id}', `/status/api/rollouts/${id}`);
    await call('GET', '/status/api/models/{name}', '/status/api/models/o');
    expect((await call('GET', '/status/api/models/{name}', '/status/api/models/nope')).status).toBe(404);

    expect(
      operations(doc)
        .map((o) => o.key)
        .filter((k) => !called.has(k)),
    ).toEqual([]);
  });
});
