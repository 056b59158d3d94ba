import {
  applyParameters,
  type ParameterFields,
  renderSystemPrompt,
  renderTemplate,
  templateProblem,
  templateVariables,
  type VersionPrompt,
} from './version-prompt';

const CHAT: ParameterFields = {
  temperature: ['temperature'],
  top_p: ['top_p'],
  max_tokens: ['max_tokens', 'max_completion_tokens'],
  stop: ['stop'],
};

describe('renderTemplate', () => {
  it.each([
    ['a template without placeholders as it is', 'You are terse.', {}, {}, 'You are terse.'],
    [
      'the request value',
      'Answer in {{lang}}.',
      { lang: 'French' },
      { lang: 'English' },
      'Answer in French.',
    ],
    [
      'the default when the request has none',
      'Answer in {{ lang }}.',
      {},
      { lang: 'English' },
      'Answer in English.',
    ],
    ['nothing when neither sets it', 'Hi {{name}}!', {}, {}, 'Hi !'],
    ['the default for a non-string request value', 'N={{n}}', { n: 3 }, { n: 'one' }, 'N=one'],
    ['every use of a variable', '{{a}}-{{a}}-{{b}}', { a: 'x', b: 'y' }, {}, 'x-x-y'],
    ['an inherited property name as unset', '[{{constructor}}]', {}, {}, '[]'],
    ['values verbatim, placeholders in them not expanded', '{{a}}', { a: '{{b}}' }, { b: 'no' }, '{{b}}'],
  ])('renders %s', (_, template, values, defaults, expected) => {
    expect(renderTemplate(template, values, defaults)).toBe(expected);
  });
});

describe('templateProblem', () => {
  it.each([
    ['plain text', 'Be brief.', null],
    ['placeholders', 'Hi {{name}}, tier {{ user.tier }}', null],
    ['a placeholder with a bad name', 'Hi {{1st}}', /not a variable name/],
    ['an empty placeholder', 'Hi {{}}', /not a variable name/],
    ['an unclosed placeholder', 'Hi {{name', /unmatched/],
    ['a stray closing brace pair', 'Hi name}}', /unmatched/],
  ])('%s', (_, template, expected) => {
    const problem = templateProblem(template);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });

  it('lists the variables a template uses once each, in order', () => {
    expect(templateVariables('{{b}} {{a}} {{ b }}')).toEqual(['b', 'a']);
  });
});

describe('renderSystemPrompt', () => {
  const prompt: VersionPrompt = { systemPrompt: 'Tier: {{tier}}', promptVariables: { tier: 'free' } };
  it.each([
    ['no prompt', undefined, { tier: 'gold' }, null],
    ['an empty prompt', { systemPrompt: '' }, {}, null],
    ['metadata values', prompt, { tier: 'gold' }, 'Tier: gold'],
    ['defaults when metadata is absent', prompt, undefined, 'Tier: free'],
    ['defaults when metadata is not an object', prompt, ['gold'], 'Tier: free'],
  ])('with %s', (_, p, metadata, expected) => {
    expect(renderSystemPrompt(p, metadata)).toBe(expected);
  });
});

describe('applyParameters', () => {
  it.each<[string, Record<string, unknown>, VersionPrompt, Record<string, unknown>]>([
    [
      'adds a default the request does not set',
      { a: 1 },
      { defaultParameters: { temperature: 0.2 } },
      { a: 1, temperature: 0.2 },
    ],
    [
      'keeps the request value over a default',
      { temperature: 1 },
      { defaultParameters: { temperature: 0.2 } },
      { temperature: 1 },
    ],
    [
      'fills a parameter the request set to null',
      { temperature: null },
      { defaultParameters: { temperature: 0.2 } },
      { temperature: 0.2 },
    ],
    [
      'overrides the request with an enforced value',
      { top_p: 1 },
      { enforcedParameters: { top_p: 0.5 } },
      { top_p: 0.5 },
    ],
    [
      'prefers enforced over default',
      {},
      { defaultParameters: { top_p: 0.9 }, enforcedParameters: { top_p: 0.5 } },
      { top_p: 0.5 },
    ],
    [
      'counts an alias as set for a default',
      { max_completion_tokens: 50 },
      { defaultParameters: { max_tokens: 10 } },
      { max_completion_tokens: 50 },
    ],
    [
      'enforces into the alias the request used',
      { max_completion_tokens: 50 },
      { enforcedParameters: { max_tokens: 10 } },
      { max_completion_tokens: 10 },
    ],
    [
      'enforces into the main field when unset',
      {},
      { enforcedParameters: { max_tokens: 10 } },
      { max_tokens: 10 },
    ],
    [
      'leaves out parameters the API has no field for',
      {},
      { defaultParameters: { seed: 7 }, enforcedParameters: { presence_penalty: 1 } },
      {},
    ],
    ['copies list values', {}, { defaultParameters: { stop: ['\n\n'] } }, { stop: ['\n\n'] }],
  ])('%s', (_, body, prompt, expected) => {
    const before = JSON.stringify(body);
    expect(applyParameters(body, prompt, CHAT)).toEqual(expected);
    expect(JSON.stringify(body)).toBe(before);
  });

  it('returns the same body when the version sets no parameters', () => {
    const body = { temperature: 1 };
    expect(applyParameters(body, { systemPrompt: 'x' }, CHAT)).toBe(body);
  });
});
