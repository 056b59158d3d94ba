/** Exit codes a script can rely on (also in `aviary --help`). */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  conflict: 5,
  unreachable: 6,
} as const;

/** A failure with the exit code it maps to and a message for people. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly problem: unknown = null,
  ) {
    super(message);
  }
}

/** The admin API over fetch: problem+json errors become CliErrors with stable exit codes. */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 15_000,
  ) {}

  async call<T>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new CliError(
        `cannot reach Aviary at ${this.baseUrl} (${causeOf(err)}); check AVIARY_URL and that the control plane is running`,
        EXIT.unreachable,
      );
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      // The server answered, then stalled or dropped mid-body: as unreachable as no answer at all.
      throw new CliError(
        `Aviary at ${this.baseUrl} stopped answering mid-response (${causeOf(err)}); the action may or may not have happened — check with \`aviary status\``,
        EXIT.unreachable,
      );
    }
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (res.ok) return json as T;
    const p = (json ?? {}) as {
      detail?: string;
      code?: string;
      errors?: { field: string; message: string }[];
    };
    const detail = p.detail ?? (text.slice(0, 200) || res.statusText);
    const fields = p.errors?.map((e) => `${e.field}: ${e.message}`).join('; ');
    const message = `${detail}${fields && !detail.includes(fields) ? ` (${fields})` : ''}`;
    if (res.status === 401)
      throw new CliError(`the token was refused (${message}); check AVIARY_TOKEN`, EXIT.auth, json);
    if (res.status === 403) throw new CliError(`not allowed: ${message}`, EXIT.auth, json);
    if (res.status === 404) throw new CliError(message, EXIT.notFound, json);
    if (res.status === 409) throw new CliError(message, EXIT.conflict, json);
    if (res.status === 400) throw new CliError(message, EXIT.usage, json);
    throw new CliError(`Aviary answered ${res.status}: ${message}`, EXIT.failed, json);
  }
}

function causeOf(err: unknown): string {
  return (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
}
