/**
 * Demo users: chat requests through the router at a steady rate, spread over a few hundred sticky
 * users, a quarter of them rating the answer (thumbs-down for a refusal, now and then for the rest).
 * So a newcomer's rollout has evidence to decide on without any client of their own.
 */
export interface DemoTraffic {
  readonly sent: () => number;
  stop(): Promise<void>;
}

const REFUSAL = /^\W*(i'?m sorry|sorry|i apologi[sz]e|i can'?t|i cannot)/i;

export function startDemoTraffic(
  routerUrl: string,
  model: string,
  perSecond: number,
  /** A router API key, when the router requires one. */
  key: string | null = null,
): DemoTraffic {
  const auth: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  let sent = 0;
  let running = true;
  const inFlight = new Set<Promise<void>>();
  const one = async (n: number): Promise<void> => {
    const user = `demo-user-${n % 300}`;
    try {
      const res = await fetch(`${routerUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({
          model,
          user,
          messages: [{ role: 'user', content: `Question ${n}: how do I change the email on my account?` }],
        }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = (await res.json()) as { choices?: { message?: { content?: string } }[] };
      const requestId = res.headers.get('x-aviary-request-id');
      if (requestId && n % 4 === 0) {
        const text = body.choices?.[0]?.message?.content ?? '';
        await fetch(`${routerUrl}/v1/feedback`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...auth },
          body: JSON.stringify({
            request_id: requestId,
            rating: REFUSAL.test(text) || n % 20 === 0 ? 'down' : 'up',
          }),
          signal: AbortSignal.timeout(10_000),
        });
      }
    } catch {
      // The router recorded whatever went wrong; a demo user just tries again later.
    }
  };
  const timer = setInterval(() => {
    if (!running || inFlight.size > perSecond * 5) return; // never pile up on a stalled system
    const p = one(sent++).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }, 1000 / perSecond);
  timer.unref();
  return {
    sent: () => sent,
    stop: async () => {
      running = false;
      clearInterval(timer);
      await Promise.all(inFlight);
    },
  };
}
