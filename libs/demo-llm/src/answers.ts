import { hashString, mix32 } from './determinism';

/** Refusal wordings, typical of chat models; a refused request gets one of these as its content. */
export const REFUSALS: readonly string[] = Object.freeze([
  "I'm sorry, but I can't help with that request.",
  "I'm sorry, but I can't assist with that.",
  "I can't help with that. If you have a different question, I'm happy to help.",
  'I apologize, but I cannot comply with this request.',
  "Sorry, I can't provide that information.",
]);

const SENTENCES: readonly string[] = [
  'Here is a short, direct answer based on the information available.',
  'The key point is that the details depend on the context you are working in.',
  'A practical first step is to check the assumptions behind the question.',
  'In most cases the simplest approach is also the most reliable one.',
  'It helps to compare a few alternatives before settling on one.',
  'Keep in mind that edge cases can change the conclusion.',
  'If you need more depth, a follow-up question with specifics will help.',
  'This summary favours clarity over completeness.',
  'Several sources agree on the general idea, although the details vary.',
  'The usual trade-off is between speed and accuracy.',
  'A worked example often makes the idea easier to apply.',
  'Overall the answer is yes, with a few caveats worth noting.',
];

const EXCERPT_WORDS = 12;
const EXCERPT_CHARS = 80;

export function pick<T>(items: readonly T[], n: number): T {
  const item = items[(n >>> 0) % items.length];
  if (item === undefined) throw new RangeError('pick from an empty list');
  return item;
}

/**
 * The answer to a prompt: a deterministic function of the server name and the prompt, 2-5 body
 * sentences (scaled by lengthFactor) so output length varies from prompt to prompt but not from call to call.
 */
export function answerText(name: string, prompt: string, lengthFactor = 1): string {
  const words = prompt.split(/\s+/).filter((w) => w.length > 0);
  let excerpt = words.slice(0, EXCERPT_WORDS).join(' ').replace(/"/g, "'");
  if (excerpt.length > EXCERPT_CHARS) excerpt = excerpt.slice(0, EXCERPT_CHARS).trimEnd();
  if (words.length > EXCERPT_WORDS || excerpt.length === EXCERPT_CHARS) excerpt += '…';
  const topic = words.length === 0 ? 'an empty message' : `"${excerpt}"`;
  let h = hashString(prompt);
  const sentences = Math.max(1, Math.round((2 + (h % 4)) * lengthFactor));
  const parts = [`Answer from ${name}: you asked about ${topic}.`];
  for (let i = 0; i < sentences; i++) {
    h = mix32(h + i + 1);
    parts.push(pick(SENTENCES, h));
  }
  if (lengthFactor >= 1)
    parts.push(`Your message had ${words.length} ${words.length === 1 ? 'word' : 'words'}.`);
  return parts.join(' ');
}

/** What JSON mode returns: `{"answer", "model"}`, or an instance of the requested json_schema. */
export function jsonAnswer(name: string, text: string, schema: unknown): string {
  if (!isRecord(schema) || !isRecord(schema['properties']))
    return JSON.stringify({ answer: text, model: name });
  return JSON.stringify(fromSchema(schema, text, name, 'answer', 0));
}

/** Arguments for a tool call: an instance of the tool's parameter schema (`{}` without one). */
export function schemaInstance(schema: unknown, text: string, name: string): unknown {
  return isRecord(schema) ? fromSchema(schema, text, name, 'input', 0) : {};
}

/** Invalid JSON the way models break it: cut off mid-object, or wrapped in prose and a code fence. */
export function brokenJson(valid: string, variant: number): string {
  if (variant % 2 === 0 && (valid.startsWith('{') || valid.startsWith('['))) {
    return valid.slice(0, Math.max(1, Math.floor(valid.length * 0.6)));
  }
  return `Sure! Here is the JSON you asked for:\n\`\`\`json\n${valid}\n\`\`\``;
}

/** Rough token count, as OpenAI's rule of thumb: one token per four characters. */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

function isWhitespace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13) || code === 160;
}

/** Splits content into stream deltas of a few words each; joining them gives the content back exactly. */
export function splitIntoDeltas(content: string, wordsPerDelta = 3): string[] {
  const out: string[] = [];
  let start = 0;
  let words = 0;
  let inWord = false;
  for (let i = 0; i < content.length; i++) {
    if (isWhitespace(content.charCodeAt(i))) {
      inWord = false;
    } else if (!inWord) {
      inWord = true;
      if (words === wordsPerDelta) {
        out.push(content.slice(start, i));
        start = i;
        words = 0;
      }
      words++;
    }
  }
  if (start < content.length) out.push(content.slice(start));
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const MAX_SCHEMA_DEPTH = 6;

/** A shallow instance of a JSON schema: enough for structured-output callers to find their fields. */
function fromSchema(schema: unknown, text: string, name: string, key: string, depth: number): unknown {
  if (!isRecord(schema) || depth > MAX_SCHEMA_DEPTH) return text;
  if ('const' in schema) return schema['const'];
  const options = schema['enum'] ?? schema['anyOf'] ?? schema['oneOf'];
  if (Array.isArray(options) && options.length > 0) {
    return schema['enum'] === undefined ? fromSchema(options[0], text, name, key, depth + 1) : options[0];
  }
  const declared = schema['type'];
  const type: unknown = Array.isArray(declared) ? declared.find((t) => t !== 'null') : declared;
  switch (type) {
    case 'object': {
      const properties = schema['properties'];
      if (!isRecord(properties)) return {};
      const out: Record<string, unknown> = {};
      for (const [prop, sub] of Object.entries(properties))
        out[prop] = fromSchema(sub, text, name, prop, depth + 1);
      return out;
    }
    case 'array':
      return [fromSchema(schema['items'], text, name, key, depth + 1)];
    case 'integer':
    case 'number':
      return hashString(key + text) % 100;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return key === 'model' ? name : text;
  }
}

/**
 * The demo judge: asked to compare "[Answer A]" with "[Answer B]" (Aviary's judge prompt), it prefers
 * the answer that is not a refusal and calls everything else a tie. Deterministic, so a demo or a test
 * can predict the shadow gate.
 */
export function judgeVerdict(prompt: string): string | null {
  const m = /\[Answer A\]\n([\s\S]*?)\n\n\[Answer B\]\n([\s\S]*?)\n\nWhich answer is better\?/.exec(prompt);
  if (!m) return null;
  const refused = (text: string) => REFUSALS.some((r) => text.trim().startsWith(r));
  const a = refused(m[1] ?? '');
  const b = refused(m[2] ?? '');
  const winner = a === b ? 'tie' : a ? 'B' : 'A';
  return JSON.stringify({ winner, reason: a === b ? 'equally helpful' : 'the other answer refuses' });
}
