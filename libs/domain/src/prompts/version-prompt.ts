/**
 * A version is more than an upstream: it may carry the system prompt (a template with `{{variables}}`)
 * and the decoding parameters it is tested and rolled out with (LaunchDarkly's AI Configs; the seed's
 * "version the prompt with the model"). A prompt-only change is then a version like any other and goes
 * through the same golden set, shadow and canary. Pure: the router and the golden-set runner apply it.
 */

/** The decoding parameters a version may set, in OpenAI's chat-completions names. */
export const DECODING_PARAMETERS = [
  'temperature',
  'top_p',
  'max_tokens',
  'presence_penalty',
  'frequency_penalty',
  'seed',
  'stop',
] as const;
export type DecodingParameter = (typeof DECODING_PARAMETERS)[number];

export interface DecodingParameters {
  readonly temperature?: number;
  readonly top_p?: number;
  readonly max_tokens?: number;
  readonly presence_penalty?: number;
  readonly frequency_penalty?: number;
  readonly seed?: number;
  readonly stop?: string | readonly string[];
}

export interface VersionPrompt {
  /** The system prompt, a template: `{{name}}` is replaced by the request's `metadata.name`. */
  readonly systemPrompt?: string | null;
  /** Values for variables the request's metadata does not set; a variable without either renders empty. */
  readonly promptVariables?: Readonly<Record<string, string>>;
  /** Applied when the request does not set them (absent or null). */
  readonly defaultParameters?: DecodingParameters;
  /** Always applied, over whatever the request set. */
  readonly enforcedParameters?: DecodingParameters;
}

/**
 * Where a parameter goes in one API's request body: the first field is the one written, the others are
 * aliases that count as "the request set it" (chat's max_completion_tokens for max_tokens). A parameter
 * an API does not have is left out of its map, and never sent to it.
 */
export type ParameterFields = Readonly<Partial<Record<DecodingParameter, readonly [string, ...string[]]>>>;

export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** The variables a template uses, in order of first use. */
export function templateVariables(template: string): string[] {
  const names = new Set<string>();
  for (const m of template.matchAll(PLACEHOLDER)) if (VARIABLE_NAME.test(m[1]!)) names.add(m[1]!);
  return [...names];
}

/**
 * Why a template cannot be rendered, or null when it can: every `{{` must open a `{{ name }}`
 * placeholder (letters, digits, `_`, `.`, `-`, starting with a letter or `_`).
 */
export function templateProblem(template: string): string | null {
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (!VARIABLE_NAME.test(m[1]!))
      return `has a placeholder ${JSON.stringify(m[0])} whose name is not a variable name (letters, digits, _ . -, starting with a letter or _)`;
  }
  const stray = template.replace(PLACEHOLDER, '').search(/\{\{|\}\}/);
  if (stray !== -1) return 'has an unmatched "{{" or "}}" (placeholders are {{name}})';
  return null;
}

/**
 * The template with each `{{name}}` replaced: the request's value (a string in its metadata), else the
 * version's default, else nothing. Values are inserted as they are (a prompt is text, not markup).
 */
export function renderTemplate(
  template: string,
  values: Readonly<Record<string, unknown>> | undefined,
  defaults: Readonly<Record<string, string>> | undefined,
): string {
  if (!template.includes('{{')) return template;
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    if (!VARIABLE_NAME.test(name)) return whole;
    const given = values && Object.hasOwn(values, name) ? values[name] : undefined;
    if (typeof given === 'string') return given;
    return defaults && Object.hasOwn(defaults, name) ? defaults[name]! : '';
  });
}

/** The version's system prompt for one request (its metadata's variables filled in), or null. */
export function renderSystemPrompt(prompt: VersionPrompt | undefined, metadata: unknown): string | null {
  const template = prompt?.systemPrompt;
  if (!template) return null;
  const values =
    typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata)
      ? (metadata as Record<string, unknown>)
      : undefined;
  return renderTemplate(template, values, prompt.promptVariables);
}

/**
 * The body with the version's parameters: a default fills a parameter the request left unset (absent
 * or null, in any of its fields); an enforced one replaces the request's value (in the alias the
 * request used, else the main field). Parameters the API has no field for are not sent. The body is
 * not modified; the same body is returned when nothing applies.
 */
export function applyParameters(
  body: Readonly<Record<string, unknown>>,
  prompt: VersionPrompt | undefined,
  fields: ParameterFields,
): Record<string, unknown> {
  const defaults = prompt?.defaultParameters;
  const enforced = prompt?.enforcedParameters;
  if (!defaults && !enforced) return body;
  let out: Record<string, unknown> | null = null;
  const set = (field: string, value: unknown) => {
    out ??= Object.assign({}, body); // not a spread before new keys: see SPREAD_THEN_KEYS
    out[field] = value;
  };
  for (const name of DECODING_PARAMETERS) {
    const names = fields[name];
    if (!names) continue;
    const used = names.find((f) => body[f] !== undefined && body[f] !== null);
    const forced = enforced?.[name];
    if (forced !== undefined) set(used ?? names[0], copyValue(forced));
    else if (used === undefined && defaults?.[name] !== undefined) set(names[0], copyValue(defaults[name]));
  }
  return out ?? body;
}

function copyValue(v: DecodingParameters[DecodingParameter]): unknown {
  return Array.isArray(v) ? [...(v as readonly string[])] : v;
}

/** Whether a version carries anything the router has to apply. */
export function hasPrompt(prompt: VersionPrompt | undefined | null): prompt is VersionPrompt {
  return (
    !!prompt &&
    (!!prompt.systemPrompt ||
      Object.keys(prompt.defaultParameters ?? {}).length > 0 ||
      Object.keys(prompt.enforcedParameters ?? {}).length > 0)
  );
}

/** Chat completions: every parameter; max_completion_tokens is the newer name of max_tokens. */
export const CHAT_PARAMETER_FIELDS: ParameterFields = {
  temperature: ['temperature'],
  top_p: ['top_p'],
  max_tokens: ['max_tokens', 'max_completion_tokens'],
  presence_penalty: ['presence_penalty'],
  frequency_penalty: ['frequency_penalty'],
  seed: ['seed'],
  stop: ['stop'],
};

/** The Responses API has temperature, top_p and max_output_tokens, no penalties, seed or stop. */
export const RESPONSES_PARAMETER_FIELDS: ParameterFields = {
  temperature: ['temperature'],
  top_p: ['top_p'],
  max_tokens: ['max_output_tokens'],
};

/** Legacy text completions: the chat parameters under their old names. */
export const COMPLETIONS_PARAMETER_FIELDS: ParameterFields = {
  temperature: ['temperature'],
  top_p: ['top_p'],
  max_tokens: ['max_tokens'],
  presence_penalty: ['presence_penalty'],
  frequency_penalty: ['frequency_penalty'],
  seed: ['seed'],
  stop: ['stop'],
};

/**
 * A chat-completions body as a version sends it: its system prompt first (before any system or
 * developer message the request brings, which are kept: the version sets the frame, the caller adds
 * to it), then its parameters. The same body when the version carries nothing.
 */
export function applyChatPrompt(
  body: Readonly<Record<string, unknown>>,
  prompt: VersionPrompt | undefined | null,
): Record<string, unknown> {
  if (!hasPrompt(prompt)) return body;
  const withParameters = applyParameters(body, prompt, CHAT_PARAMETER_FIELDS);
  const system = renderSystemPrompt(prompt, body['metadata']);
  if (system === null || !Array.isArray(body['messages'])) return withParameters;
  return {
    ...withParameters,
    messages: [{ role: 'system', content: system }, ...(body['messages'] as unknown[])],
  };
}

/**
 * A Responses API body as a version sends it: its system prompt as `instructions`, before the
 * request's own instructions (separated by a blank line), then its parameters.
 */
export function applyResponsesPrompt(
  body: Readonly<Record<string, unknown>>,
  prompt: VersionPrompt | undefined | null,
): Record<string, unknown> {
  if (!hasPrompt(prompt)) return body;
  const withParameters = applyParameters(body, prompt, RESPONSES_PARAMETER_FIELDS);
  const system = renderSystemPrompt(prompt, body['metadata']);
  if (system === null) return withParameters;
  const own = body['instructions'];
  return {
    ...withParameters,
    instructions: typeof own === 'string' && own !== '' ? `${system}\n\n${own}` : system,
  };
}
