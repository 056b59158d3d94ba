import type { EventEmitter } from 'node:events';

/**
 * unleash-client 6's destroy() removes every listener from its repository while a poll may still be
 * in flight; when that poll then fails, the repository emits 'error' with no listener and Node
 * kills the process. Keep a listener on it after destroying. (Reaches into a private field by
 * necessity; structural, so this library does not import the SDK.)
 */
export function destroyUnleashClient(client: { destroy(): void }): void {
  client.destroy();
  const repository = (client as unknown as { repository?: Pick<EventEmitter, 'on'> }).repository;
  repository?.on('error', () => {});
}
