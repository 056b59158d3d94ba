import { type FlagPublisher } from '@aviary/domain';

/**
 * The embedded flag source: routers' unleash-client polls the control plane's Unleash-compatible
 * endpoint, which serves the staged publications straight from the database. Committing the state
 * change is publishing, so there is nothing to push.
 */
export class BuiltinFlagPublisher implements FlagPublisher {
  readonly name = 'built-in';

  async publish(): Promise<void> {}

  async check(): Promise<void> {}
}
