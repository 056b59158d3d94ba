import type { PrismaClient } from '../generated/prisma/client';

export interface DeadLetterInput {
  readonly topic: string;
  readonly value: unknown;
  readonly error: string;
}

const MAX_PAYLOAD_CHARS = 1_000_000;
const MAX_ERROR_CHARS = 2_000;

/** Where the analyzer parks events it cannot store (see analyzer.ts): kept for people to inspect. */
export class DeadLetterStore {
  constructor(private readonly prisma: PrismaClient) {}

  async park(letters: readonly DeadLetterInput[]): Promise<void> {
    if (letters.length === 0) return;
    await this.prisma.analysisDeadLetter.createMany({
      data: letters.map((l) => ({
        topic: withoutNul(l.topic),
        // JSON.stringify escapes control characters, so the text holds no NUL PostgreSQL would refuse.
        payload: truncate(safeJson(l.value), MAX_PAYLOAD_CHARS),
        error: truncate(withoutNul(l.error), MAX_ERROR_CHARS),
      })),
    });
  }

  count(): Promise<number> {
    return this.prisma.analysisDeadLetter.count();
  }

  async prune(before: Date): Promise<number> {
    return (await this.prisma.analysisDeadLetter.deleteMany({ where: { receivedAt: { lt: before } } })).count;
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (err) {
    return JSON.stringify({ unserialisable: err instanceof Error ? err.message : String(err) });
  }
}

function withoutNul(s: string): string {
  return s.replaceAll('\u0000', '\uFFFD');
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
