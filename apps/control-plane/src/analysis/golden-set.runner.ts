import {
  applyChatPrompt,
  applyParameters,
  CHAT_PARAMETER_FIELDS,
  compareGolden,
  gradeAnswer,
  RefusalDetector,
  type GoldenComparison,
  type GoldenGrade,
  type GoldenItem,
  type UpstreamTarget,
} from '@aviary/domain';
import { type UpstreamSecrets } from '@aviary/config';
import { type Prisma, type PrismaClient } from '@aviary/persistence';
import { toUpstreamTarget, type VersionForRouting } from '../flags/routing.builder';

export interface GoldenResult extends GoldenComparison {
  readonly finishedAt: string;
}

type VersionForCall = VersionForRouting;

type Log = (message: string) => void;

/**
 * Runs a rollout's golden set against the baseline and the candidate — the offline check before
 * shadow — and stores the comparison on the rollout (`golden_result`). Started by the first step's
 * analysis; runs once per rollout (per control-plane process: a second replica may run it too, the
 * result is the same), a few calls at a time, every call bounded by the version's timeout.
 */
export class GoldenSetRunner {
  private readonly running = new Map<string, Promise<void>>();
  private readonly refusals = new RefusalDetector();

  constructor(
    private readonly prisma: PrismaClient,
    /** Only declared credentials (never an arbitrary env var) are sent to upstreams. */
    private readonly secrets: UpstreamSecrets,
    private readonly log: Log = () => undefined,
    private readonly concurrency = 4,
  ) {}

  /** Starts the run if it has not started; resolves when it is done (tests wait on it). */
  start(
    rolloutId: string,
    items: readonly GoldenItem[],
    baseline: VersionForCall,
    candidate: VersionForCall,
  ): Promise<void> {
    let run = this.running.get(rolloutId);
    if (!run) {
      run = this.run(rolloutId, items, baseline, candidate)
        .catch((err: unknown) =>
          this.log(
            `golden set for rollout ${rolloutId} could not run: ${err instanceof Error ? err.message : String(err)}`,
          ),
        )
        .finally(() => this.running.delete(rolloutId));
      this.running.set(rolloutId, run);
    }
    return run;
  }

  isRunning(rolloutId: string): boolean {
    return this.running.has(rolloutId);
  }

  private async run(
    rolloutId: string,
    items: readonly GoldenItem[],
    baseline: VersionForCall,
    candidate: VersionForCall,
  ): Promise<void> {
    const [b, c] = await Promise.all([this.gradeAll(items, baseline), this.gradeAll(items, candidate)]);
    const comparison = compareGolden(items, b, c);
    const result: GoldenResult = { ...comparison, finishedAt: new Date().toISOString() };
    await this.prisma.rollout.update({
      where: { id: rolloutId },
      data: { goldenResult: result as unknown as Prisma.InputJsonValue },
    });
    this.log(`rollout ${rolloutId}: ${comparison.summary}`);
  }

  private async gradeAll(items: readonly GoldenItem[], version: VersionForCall): Promise<GoldenGrade[]> {
    const grades: GoldenGrade[] = new Array<GoldenGrade>(items.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < items.length; i = next++) {
        const item = items[i]!;
        grades[i] = gradeAnswer(item, await this.ask(version, item), this.refusals);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, items.length) }, worker));
    return grades;
  }

  /** The version's answer, or null when the call failed (which fails the item). */
  private async ask(version: VersionForCall, item: GoldenItem): Promise<string | null> {
    const target = toUpstreamTarget(version);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...this.secrets.headersFor(target),
    };
    try {
      const res = await fetch(`${version.upstreamBaseUrl.replace(/\/+$/, '')}/chat/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify(goldenRequest(target, item)),
        signal: AbortSignal.timeout(version.timeoutMs),
      });
      if (!res.ok) return null;
      const body = (await res.json()) as { choices?: { message?: { content?: unknown } }[] };
      const content = body.choices?.[0]?.message?.content;
      return typeof content === 'string' ? content : null;
    } catch {
      return null;
    }
  }
}

/**
 * The chat request for one golden item as the version sends it: the version's system prompt and
 * parameters as the router would apply them (a prompt-only candidate is tested with its prompt), and
 * temperature 0 unless the version sets one, so answers are as repeatable as the upstream allows.
 */
export function goldenRequest(target: UpstreamTarget, item: GoldenItem): Record<string, unknown> {
  const request = {
    model: target.upstreamModel,
    messages: item.messages,
    ...(item.json ? { response_format: { type: 'json_object' } } : {}),
  };
  const versioned = applyChatPrompt(request, target.prompt);
  return applyParameters(versioned, { defaultParameters: { temperature: 0 } }, CHAT_PARAMETER_FIELDS);
}
