import { ClientGone } from './client-gone';

describe(ClientGone.name, () => {
  it('calls each listener once when the client goes, in the order they were added', () => {
    const gone = new ClientGone();
    const calls: string[] = [];
    gone.addEventListener('abort', () => calls.push('first'));
    gone.addEventListener('abort', () => calls.push('second'));
    expect(gone.aborted).toBe(false);
    gone.abort();
    gone.abort();
    expect(gone.aborted).toBe(true);
    expect(calls).toEqual(['first', 'second']);
  });

  it('does not call a listener that was removed, nor one added after the abort', () => {
    const gone = new ClientGone();
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    gone.addEventListener('abort', removed);
    gone.removeEventListener('abort', removed);
    gone.abort();
    gone.addEventListener('abort', () => calls.push('late'));
    expect(calls).toEqual([]);
  });
});
