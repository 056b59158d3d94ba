/**
 * The Conversations API of a demo server, as OpenAI's behaves for the parts apps use: a conversation
 * is created (with metadata and initial items), read, updated, deleted, and its items listed, added,
 * read and deleted; a response naming it (`conversation`) reads nothing from it here but has its
 * input and output appended. Only the server that created a conversation knows it, as with two
 * providers' accounts, which is what lets a test see a conversation reach the wrong version.
 */

export interface ConversationObject {
  readonly id: string;
  readonly object: 'conversation';
  readonly created_at: number;
  metadata: Record<string, string>;
}

type Item = Record<string, unknown> & { readonly id: string };

interface Stored {
  readonly conversation: ConversationObject;
  readonly items: Item[];
}

/** What the HTTP layer sends back: a status and a JSON body. */
export interface ConversationAnswer {
  readonly status: number;
  readonly body: unknown;
}

const KEPT = 10_000;

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const notFound = (what: string, id: string): ConversationAnswer => ({
  status: 404,
  body: {
    error: {
      message: `${what} with id '${id}' not found.`,
      type: 'invalid_request_error',
      param: null,
      code: null,
    },
  },
});

const invalid = (message: string, param: string): ConversationAnswer => ({
  status: 400,
  body: { error: { message, type: 'invalid_request_error', param, code: null } },
});

function metadataOf(v: unknown): Record<string, string> | null {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) return null;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') return null;
    out[k] = val;
  }
  return out;
}

export class ConversationStore {
  private readonly byId = new Map<string, Stored>();
  private counter = 0;

  constructor(private readonly idTag: string) {}

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Appends a response's input and output items to its conversation (which must exist). */
  append(id: string, items: readonly Record<string, unknown>[]): void {
    const stored = this.byId.get(id);
    if (stored) for (const item of items) stored.items.push(this.item(item));
  }

  /** One call of the API: `rest` is the path after /v1/conversations ('' or '/{id}…'). */
  handle(method: string, rest: string, body: unknown): ConversationAnswer {
    if (rest === '' || rest === '/') return method === 'POST' ? this.create(body) : methodNotAllowed(method);
    const [, rawId = '', sub, rawItem, extra] = rest.split('/');
    const id = decode(rawId);
    if (extra !== undefined || (sub !== undefined && sub !== 'items')) return unknownUrl(method, rest);
    const stored = this.byId.get(id);
    if (!stored) return notFound('Conversation', id);
    if (sub === undefined) {
      if (method === 'GET') return { status: 200, body: stored.conversation };
      if (method === 'DELETE') {
        this.byId.delete(id);
        return { status: 200, body: { id, object: 'conversation.deleted', deleted: true } };
      }
      if (method === 'POST') {
        const metadata = metadataOf(isRecord(body) ? body['metadata'] : undefined);
        if (metadata === null) return invalid("'metadata' must map keys to strings.", 'metadata');
        stored.conversation.metadata = metadata;
        return { status: 200, body: stored.conversation };
      }
      return methodNotAllowed(method);
    }
    if (rawItem === undefined) {
      if (method === 'GET') return { status: 200, body: list(stored.items) };
      if (method === 'POST') {
        const items = isRecord(body) ? body['items'] : undefined;
        if (!Array.isArray(items) || items.some((i) => !isRecord(i)))
          return invalid("'items' must be an array of items.", 'items');
        const added = (items as Record<string, unknown>[]).map((i) => this.item(i));
        stored.items.push(...added);
        return { status: 200, body: list(added) };
      }
      return methodNotAllowed(method);
    }
    const itemId = decode(rawItem);
    const at = stored.items.findIndex((i) => i.id === itemId);
    if (at === -1) return notFound('Item', itemId);
    if (method === 'GET') return { status: 200, body: stored.items[at] };
    if (method === 'DELETE') {
      stored.items.splice(at, 1);
      return { status: 200, body: stored.conversation };
    }
    return methodNotAllowed(method);
  }

  private create(body: unknown): ConversationAnswer {
    if (body !== undefined && !isRecord(body)) return invalid('The body must be a JSON object.', 'body');
    const metadata = metadataOf(body?.['metadata']);
    if (metadata === null) return invalid("'metadata' must map keys to strings.", 'metadata');
    const items = body?.['items'];
    if (items !== undefined && items !== null && (!Array.isArray(items) || items.some((i) => !isRecord(i))))
      return invalid("'items' must be an array of items.", 'items');
    const id = `conv_${this.idTag}${(++this.counter).toString(36)}`;
    const conversation: ConversationObject = {
      id,
      object: 'conversation',
      created_at: Math.floor(Date.now() / 1000),
      metadata,
    };
    this.byId.set(id, {
      conversation,
      items: ((items ?? []) as Record<string, unknown>[]).map((i) => this.item(i)),
    });
    if (this.byId.size > KEPT) this.byId.delete(this.byId.keys().next().value!);
    return { status: 200, body: conversation };
  }

  private item(i: Record<string, unknown>): Item {
    return Object.assign({ type: 'message' }, i, {
      id: typeof i['id'] === 'string' ? i['id'] : `msg_${this.idTag}${(++this.counter).toString(36)}`,
    });
  }
}

function list(items: readonly Item[]) {
  return {
    object: 'list',
    data: items,
    first_id: items[0]?.id ?? null,
    last_id: items[items.length - 1]?.id ?? null,
    has_more: false,
  };
}

const methodNotAllowed = (method: string): ConversationAnswer => ({
  status: 405,
  body: {
    error: {
      message: `Method ${method} is not allowed.`,
      type: 'invalid_request_error',
      param: null,
      code: 'method_not_allowed',
    },
  },
});

const unknownUrl = (method: string, rest: string): ConversationAnswer => ({
  status: 404,
  body: {
    error: {
      message: `Unknown request URL: ${method} /v1/conversations${rest}.`,
      type: 'invalid_request_error',
      param: null,
      code: 'unknown_url',
    },
  },
});
