import { diffLines, diffVersions, type VersionForDiff } from './version-diff';

describe('diffLines', () => {
  it.each([
    ['identical texts as kept lines', 'a\nb', 'a\nb', [' a', ' b']],
    ['an added line', 'a\nc', 'a\nb\nc', [' a', '+b', ' c']],
    ['a removed line', 'a\nb\nc', 'a\nc', [' a', '-b', ' c']],
    ['a changed line as removal then addition', 'a\nold\nc', 'a\nnew\nc', [' a', '-old', '+new', ' c']],
    ['a prompt set where there was none', '', 'x\ny', ['+x', '+y']],
    ['a prompt removed', 'x', '', ['-x']],
    ['moved lines minimally', 'a\nb\nc', 'b\nc\na', ['-a', ' b', ' c', '+a']],
  ])('shows %s', (_, a, b, expected) => {
    expect(diffLines(a, b).map((l) => `${l.op}${l.text}`)).toEqual(expected);
  });
});

describe('diffVersions', () => {
  const base: VersionForDiff = {
    label: 'v1',
    upstreamBaseUrl: 'http://llm:8000/v1',
    upstreamModel: 'm',
    timeoutMs: 60_000,
    apiKeyRef: null,
    endpoints: null,
    maxResponseBytes: null,
    totalTimeoutMs: null,
    systemPrompt: 'You are helpful.',
    promptVariables: {},
    defaultParameters: { temperature: 0.7 },
    enforcedParameters: {},
  };

  it('finds nothing between a version and an identical one', () => {
    expect(diffVersions(base, { ...base, label: 'v2' })).toEqual({
      from: 'v1',
      to: 'v2',
      identical: true,
      changes: [],
      systemPrompt: null,
    });
  });

  it('reports a prompt-only change as a line diff and no field changes', () => {
    const d = diffVersions(base, { ...base, label: 'v2', systemPrompt: 'You are helpful.\nBe brief.' });
    expect(d.identical).toBe(false);
    expect(d.changes).toEqual([]);
    expect(d.systemPrompt).toEqual([
      { op: ' ', text: 'You are helpful.' },
      { op: '+', text: 'Be brief.' },
    ]);
  });

  it('names each changed setting, parameter and variable', () => {
    const d = diffVersions(base, {
      ...base,
      upstreamModel: 'm2',
      defaultParameters: { top_p: 0.5 },
      enforcedParameters: { max_tokens: 100 },
      promptVariables: { tone: 'dry' },
    });
    expect(d.changes).toEqual([
      { field: 'upstreamModel', from: 'm', to: 'm2' },
      { field: 'promptVariables.tone', from: null, to: 'dry' },
      { field: 'defaultParameters.temperature', from: 0.7, to: null },
      { field: 'defaultParameters.top_p', from: null, to: 0.5 },
      { field: 'enforcedParameters.max_tokens', from: null, to: 100 },
    ]);
  });
});
